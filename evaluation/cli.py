"""`redactor eval DIR`: the pipeline over a folder with annotations.json, judged from its output files.

Heavy imports happen in main(): the redactor CLI imports this module just to build its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="folder with annotations.json and the files it names")
    parser.add_argument("--save-pictures", type=Path, metavar="OUT",
                        help="write before/after PNG pictures with found and ground-truth boxes here")


def main(args: argparse.Namespace) -> int:
    from evaluation.evaluate import run_eval

    return run_eval(Path(args.dir), show=args.save_pictures)
