"""The small typed values that flow between the pipeline steps.

Coordinates are pixels of the page *as displayed* (EXIF orientation applied),
boxes are (x0, y0, x1, y1) with x1 > x0 and y1 > y0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Box = tuple[float, float, float, float]
Status = Literal["redacted", "needs_review", "rejected"]
RegionKind = Literal["bsn", "personal_number", "portrait", "ghost_portrait", "face", "text_layer"]


@dataclass(frozen=True)
class Page:
    """One page to redact: an RGB image, plus what a PDF page knew about itself."""

    index: int
    image: np.ndarray  # H x W x 3, uint8, RGB
    # For PDF input: the page size in points, so the output page has the same size.
    pdf_size_pt: tuple[float, float] | None = None
    # Words of a PDF's (often hidden) text layer, already in this image's pixels.
    text_layer: tuple["TextLine", ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h


@dataclass(frozen=True)
class Document:
    """What `load` produced: the pages and the kind of file they came from."""

    pages: tuple[Page, ...]
    source_format: Literal["png", "jpeg", "tiff", "webp", "heic", "pdf"]

    @property
    def is_pdf(self) -> bool:
        return self.source_format == "pdf"


@dataclass(frozen=True)
class TextLine:
    """One line of recognised text. `chars` holds a box per character of `text` when known."""

    text: str
    box: Box
    confidence: float
    source: str  # "rapidocr", "tesseract", "pdf-text"
    chars: tuple[Box, ...] = ()

    def span_box(self, start: int, end: int) -> Box:
        """The box around text[start:end]; the whole line when per-character boxes are missing."""
        if len(self.chars) == len(self.text) and end > start:
            sel = self.chars[start:end]
            return (
                min(b[0] for b in sel),
                min(b[1] for b in sel),
                max(b[2] for b in sel),
                max(b[3] for b in sel),
            )
        return self.box


@dataclass(frozen=True)
class Region:
    """Something to black out, and why."""

    kind: RegionKind
    page: int
    box: Box
    reason: str  # plain words, e.g. "BSN in the MRZ personal number field"


@dataclass(frozen=True)
class Decision:
    """What the decide step concluded for the whole document."""

    regions: list[Region] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # doubts, in words a privacy officer understands

    @property
    def status(self) -> Status:
        return "needs_review" if self.reasons else "redacted"
