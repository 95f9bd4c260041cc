"""`python -m watchfolder ...`: the same as `redactor watch ...`."""

import argparse
import sys

from watchfolder.cli import add_arguments, main

parser = argparse.ArgumentParser(prog="redactor watch", description="Watch a folder: inbox -> done / review / failed.")
add_arguments(parser)
sys.exit(main(parser.parse_args()))
