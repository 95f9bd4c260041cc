"""Turn each page upright. EXIF orientation is already applied by `load`; this step finds
quarter-turn rotations of the document itself (a passport photographed sideways, a card
scanned upside down) from how well the text reads.

RapidOCR turns tall text crops by 90 degrees before reading them, so a page turned a quarter
turn clockwise reads well as it is, but its lines are tall; one turned counter-clockwise or
upside down reads badly. Reading without the 180-degree classifier makes the bad cases show.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

import numpy as np

from redactor.core import Box, Page, TextLine
from redactor.geometry import rotate_box, unrotate_box
from redactor.ocr import OcrEngine

GOOD_MEDIAN_CONFIDENCE = 0.8


@dataclass(frozen=True)
class UprightPage:
    page: Page
    k: int  # np.rot90(page.image, k) is upright
    image: np.ndarray  # the upright image
    lines: tuple[TextLine, ...]  # OCR lines in upright coordinates
    text_layer: tuple[TextLine, ...] = ()  # a PDF's own text, in upright coordinates

    @property
    def all_lines(self) -> list[TextLine]:
        return list(self.lines) + list(self.text_layer)

    def to_page_box(self, box: Box) -> Box:
        """A box on the upright view, where it is on the page as displayed."""
        w, h = self.page.size
        return unrotate_box(box, self.k, w, h)


@dataclass(frozen=True)
class _Reading:
    lines: list[TextLine]
    wide_fraction: float
    median_confidence: float

    @property
    def reads_well(self) -> bool:
        return bool(self.lines) and self.median_confidence >= GOOD_MEDIAN_CONFIDENCE

    @property
    def score(self) -> float:
        good = sum(len(l.text) * l.confidence for l in self.lines if l.confidence >= GOOD_MEDIAN_CONFIDENCE)
        return good * self.wide_fraction


def _read(ocr: OcrEngine, image: np.ndarray) -> _Reading:
    lines = ocr.read(image, fix_upside_down=False)
    if not lines:
        return _Reading([], 0.0, 0.0)
    wide = sum(1 for l in lines if (l.box[2] - l.box[0]) >= (l.box[3] - l.box[1]))
    return _Reading(lines, wide / len(lines), median(l.confidence for l in lines))


def _rotate_line(line: TextLine, k: int, width: int, height: int) -> TextLine:
    return TextLine(
        text=line.text,
        box=rotate_box(line.box, k, width, height),
        confidence=line.confidence,
        source=line.source,
        chars=tuple(rotate_box(c, k, width, height) for c in line.chars),
    )


def upright(page: Page, ocr: OcrEngine) -> UprightPage:
    w, h = page.size
    first = _read(ocr, page.image)
    if first.wide_fraction >= 0.6 and first.reads_well:
        k, lines = 0, first.lines
    elif first.wide_fraction < 0.4 and first.reads_well:
        # Turned a quarter clockwise: the lines already read right, only their boxes move.
        k, lines = 1, [_rotate_line(l, 1, w, h) for l in first.lines]
    else:
        k_try = 3 if first.wide_fraction < 0.4 else 2
        second = _read(ocr, np.ascontiguousarray(np.rot90(page.image, k_try)))
        k, lines = (k_try, second.lines) if second.score > first.score else (0, first.lines)
    image = np.ascontiguousarray(np.rot90(page.image, k)) if k else page.image
    text_layer = tuple(_rotate_line(l, k, w, h) for l in page.text_layer)
    return UprightPage(page=page, k=k, image=image, lines=tuple(lines), text_layer=text_layer)
