"""`redactor watch`: watch a folder: inbox -> done / review / failed.

Heavy imports happen in main(): the redactor CLI imports this module just to build its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from redactor.argtypes import non_negative_float, positive_float, positive_int
from watchfolder.defaults import MAX_ATTEMPTS, POLL_INTERVAL, STABLE_SECONDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, help="base directory holding inbox/ processing/ done/ review/ failed/")
    for name, what in (
        ("inbox", "where staff drop scans"),
        ("processing", "claimed files in progress (same filesystem as inbox)"),
        ("done", "redacted copies and records"),
        ("review", "originals that need a manual check (mode 0700)"),
        ("failed", "files that are not readable documents (mode 0700)"),
    ):
        parser.add_argument(f"--{name}", type=Path, metavar="DIR", help=f"{what}; default ROOT/{name}")
    parser.add_argument("--once", action="store_true", help="process what is in the inbox, then exit")
    parser.add_argument(
        "--poll-interval",
        type=positive_float,
        metavar="SECONDS",
        help=f"full rescan period (default {POLL_INTERVAL:g})",
    )
    parser.add_argument(
        "--stable-seconds",
        type=non_negative_float,
        metavar="SECONDS",
        help=f"a file must stay unchanged this long before it is picked up (default {STABLE_SECONDS:g})",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        metavar="N",
        help=f"a file that was being processed when the watcher died N times goes to failed/ (default {MAX_ATTEMPTS})",
    )
    parser.add_argument("--purpose", help="purpose text for the watermark on the redacted copy")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def main(args: argparse.Namespace) -> int:
    from watchfolder.watch import run_command

    return run_command(args)

