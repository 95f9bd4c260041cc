"""`python -m sweep ...`: the same as `redactor sweep ...`."""

import argparse
import sys

from sweep.cli import add_arguments, main

parser = argparse.ArgumentParser(prog="redactor sweep", description="Redact an archive into a mirrored tree.")
add_arguments(parser)
sys.exit(main(parser.parse_args()))
