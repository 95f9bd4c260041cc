"""The names of the files a redaction produces, for every door (CLI, watched folder, REST downloads).

Kept apart from redactor.output (which imports PyMuPDF and NumPy) so a door can name files
without loading the imaging stack.
"""

from __future__ import annotations


def output_stem(filename: str) -> str:
    """'scan.jpg' -> 'scan', 'scan.v2.pdf' -> 'scan.v2'; 'README' and '.jpg' stay as they are."""
    stem, dot, _ = filename.rpartition(".")
    return stem if dot and stem else filename


def redacted_name(stem: str, extension: str) -> str:
    """'scan', 'png' -> 'scan.redacted.png'."""
    return f"{stem}.redacted.{extension}"


def record_name(stem: str) -> str:
    """'scan' -> 'scan.record.json' (the signed verification record)."""
    return f"{stem}.record.json"
