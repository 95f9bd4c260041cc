"""`redactor watch` that SIGKILLs itself the first time it reaches STEP (a ClaimContext step
name such as "manifest" or "wrote_output"): a crash at an exact point of the protocol, for
tests/test_watch_crash.py. Not a test module itself.

    python tests/watch_kill_at.py STEP --root ROOT [other `redactor watch` options]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from watchfolder.cli import add_arguments
from watchfolder.watch import run_command


def main() -> int:
    step, options = sys.argv[1], sys.argv[2:]
    parser = argparse.ArgumentParser(prog="watch_kill_at")
    add_arguments(parser)

    def on_step(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a power cut would

    return run_command(parser.parse_args(options), on_step=on_step)


if __name__ == "__main__":
    sys.exit(main())
