"""Shared by the subcommands: settings from the environment, with clear errors instead of tracebacks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.settings import ApiSettings


class CommandError(Exception):
    """A problem to report in one line, with exit code 2 (usage/config) or 1 (runtime)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings(**overrides: Any) -> "ApiSettings":
    from pydantic import ValidationError

    from api.settings import ApiSettings

    try:
        return ApiSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"REDACTOR_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        raise CommandError(f"invalid configuration: {problems}", exit_code=2) from None


def fail(command: str, exc: CommandError) -> int:
    print(f"redactor {command}: {exc}", file=sys.stderr)
    return exc.exit_code
