"""Argument types for the `redactor` subcommands: a bad value is an argparse usage error
(exit code 2, one line), never a traceback. Each door's CLI uses these."""

from __future__ import annotations

import argparse


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    value = _float(text)
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError("must be 0 or greater")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
