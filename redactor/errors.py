"""Errors that end a document as `rejected`: the input is not something we can read."""

from __future__ import annotations

from typing import Literal

RejectCode = Literal[
    "empty",
    "unsupported_type",
    "unreadable",
    "too_large",
    "too_many_pages",
    "encrypted",
]


class RejectedInput(Exception):
    """The input cannot be processed at all. `message` is meant for a privacy officer."""

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectCode = code
        self.message = message
