"""`python -m api.cli serve|purge|apikey`: the service's subcommands on their own.

The `redactor` CLI wires the same modules in (api.cli_serve, api.cli_purge, api.cli_apikey).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from api import cli_apikey, cli_audit, cli_purge, cli_serve

SUBCOMMANDS = {
    "serve": (cli_serve, "run the REST service"),
    "purge": (cli_purge, "delete redactions older than the retention period now"),
    "apikey": (cli_apikey, "create, list or revoke API keys"),
    "audit": (cli_audit, "show who read, downloaded, deleted, sent or purged which record"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description="ID-document redaction service")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, text) in SUBCOMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return SUBCOMMANDS[args.command][0].main(args)


if __name__ == "__main__":
    sys.exit(main())
