"""The small typed values that flow between the pipeline steps.

Coordinates are pixels of the page *as displayed* (EXIF orientation applied),
boxes are (x0, y0, x1, y1) with x1 > x0 and y1 > y0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # the find step's types; imported only for annotations (they import this module)
    from redactor.documents import DocumentKind
    from redactor.mrz import MrzResult
    from redactor.normalise import UprightPage

Box = tuple[float, float, float, float]
Status = Literal["redacted", "needs_review", "rejected"]
Reviewer = Literal["staff", "requester"]


class RegionKind(StrEnum):
    """What a blacked-out region hid. The value is what the record and the API show."""

    BSN = "bsn"
    PERSONAL_NUMBER = "personal_number"
    PORTRAIT = "portrait"
    GHOST_PORTRAIT = "ghost_portrait"
    FACE = "face"
    QR_CODE = "qr_code"
    MRZ_DIGITS = "mrz_digits"
    TEXT_LAYER = "text_layer"
    OTHER = "other"  # drawn by a person: something else that must not be kept

    @property
    def is_text(self) -> bool:
        """Text regions hug their glyphs and get a margin; photo zones are generous already."""
        return self in (RegionKind.BSN, RegionKind.PERSONAL_NUMBER, RegionKind.MRZ_DIGITS, RegionKind.TEXT_LAYER)


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
class PageFindings:
    """Everything the find step learned about one page, in upright coordinates.

    `regions` is everything to black out; `doubts` are reasons to ask for review that only
    the find step can see (a label without a number, say). Decide merges and judges."""

    upright: "UprightPage"
    mrz: "MrzResult | None"
    document: "DocumentKind"
    regions: list[Region]
    doubts: list[str]
    # The personal numbers as read before redaction, so verification can look for them again.
    secrets: list[str] = field(default_factory=list)
    # Personal numbers found printed in the visual zone (not counting the MRZ's cells).
    printed_numbers: int = 0
    # Where a doubt sits, when it has a place (a label's unread number): a person answering
    # the doubt must cover it. Upright coordinates, like `regions`.
    doubt_areas: list[Region] = field(default_factory=list)

    @property
    def page_index(self) -> int:
        return self.upright.page.index

    def has(self, kind: RegionKind) -> bool:
        return any(r.kind == kind for r in self.regions)


@dataclass(frozen=True)
class Decision:
    """What the decide step concluded for the whole document."""

    regions: list[Region] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # doubts, in words a privacy officer understands

    @property
    def status(self) -> Status:
        return "needs_review" if self.reasons else "redacted"


@dataclass(frozen=True)
class Review:
    """A person finishing a document the pipeline would not publish on its own.

    Staff (the review station) keep some of the regions the pipeline proposed and add their
    own; a requester (the self-check page) only adds, on top of what the pipeline finds again.
    The result is verified like any other before it is published."""

    by: Reviewer
    added: tuple[Region, ...]
    # The proposals kept, in page pixels; None: the pipeline's own proposals, found again.
    kept: tuple[Region, ...] | None = None
    dropped: int = 0  # proposals the reviewer removed (a false alarm over a name, say)
    reviewer: str | None = None  # the staff member's API key id
    reasons: tuple[str, ...] = ()  # why the document needed review
    item: str | None = None  # the review station's item id (its audit entries carry it too)

    def block(self, at: str) -> dict[str, object]:
        """The record's `review` member: who finished the document, when, and what they changed."""
        return {
            "by": self.by,
            "review_id": self.item,
            "reviewer_key_id": self.reviewer,
            "at": at,
            "regions_added": len(self.added),
            "regions_dropped": self.dropped,
            "reasons": list(self.reasons),
        }
