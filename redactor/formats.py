"""What every door and the pipeline agree on about files and texts: the redacted output's
types (magic bytes, extension, media type) and the longest watermark text.

No imports beyond the standard library, so a door can use it without the imaging stack.
"""

from __future__ import annotations

from dataclasses import dataclass

# The watermark ("purpose") is printed across the page; longer text would not fit a line.
MAX_PURPOSE_CHARS = 200

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class OutputType:
    extension: str
    media_type: str
    magic: bytes


PNG = OutputType("png", "image/png", PNG_MAGIC)
PDF = OutputType("pdf", "application/pdf", PDF_MAGIC)
# The pipeline only ever writes these two.
OUTPUT_TYPES = {t.extension: t for t in (PNG, PDF)}


def output_type(data: bytes) -> OutputType | None:
    """The output type `data` starts like, or None when it is neither a PNG nor a PDF."""
    return next((t for t in OUTPUT_TYPES.values() if data.startswith(t.magic)), None)
