"""Read the redacted pages as an attacker would, before anything is published.

- OCR again around every blacked-out number, in the MRZ too: first the line through each
  box, wide enough for what a misplaced box left beside it, is recognised as one line. If 5
  or more consecutive characters of a personal number found before redaction read there,
  the area is read thoroughly (text detection on a crop, upscaled when the page is small),
  the box is widened over what was read and the crop read again, a few rounds; still
  readable -> needs review. An MRZ with nothing blacked out in it
  reads as before redaction: its text is checked for those characters without new OCR.
- Faces, with two independent detectors (CenterFace and Haar): a face outside the blacked-out
  boxes -> needs review. One model's blind spot must not decide.
- QR codes: a QR reader (zxing-cpp) reads the whole page; on a page where a code was blacked
  out, the locators (finder patterns, OpenCV) look again too. One still detectable is blacked out
  and the page checked again; still there -> needs review.

Works on crops and one downscaled face pass per page to stay cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from redactor.core import Box, PageFindings, Region, RegionKind, TextLine
from redactor.faces import CenterFaceDetector, Face, HaarFaceDetector
from redactor.geometry import area, clip, intersection, pad, rotate_box, union, unrotate_box
from redactor.ocr import OcrEngine, read_area
from redactor.qr import find_qr_codes, read_qr_codes
from redactor.redact import black_out

# This many consecutive characters of a personal number, readable again, is a leak.
LEAK_RUN = 5
WIDEN_ROUNDS = 3
# OCR reads text best at about this height (px); smaller text in a crop is enlarged.
READ_TEXT_HEIGHT = 40
MAX_CROP_SIDE = 1400
# The cheap check's line strip reaches this many box heights above and below the box
# (a skewed line's characters stand higher or lower away from the box).
STRIP_PAD = 0.5
# A face this sure (CenterFace) still visible after redaction stops publication.
LEFTOVER_FACE_SCORE = 0.5
FACE_MAX_SIDE = 640
# A detection counts as a face left visible when at least this much of it is not black.
VISIBLE_FACE_FRACTION = 0.5

# Characters OCR confuses, mapped alike on both sides of the comparison.
_CONFUSABLE = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"})


@dataclass(frozen=True)
class PageSecrets:
    """What must not be readable again on one page, in upright coordinates."""

    page: int
    k: int  # np.rot90(page image, k) is upright
    size: tuple[int, int]  # the page as displayed, (width, height)
    values: tuple[str, ...]  # personal numbers as read before redaction
    text_boxes: tuple[Box, ...]  # where numbers were blacked out
    mrz_box: Box | None  # the whole MRZ, if there is one
    mrz_text: str = ""  # the MRZ as read before redaction, check-digit-verified fields as filler


@dataclass(frozen=True)
class Verification:
    images: list[np.ndarray]  # the pages, with any widened boxes drawn
    regions: list[Region]  # boxes added by verification (page pixels, as drawn)
    reasons: list[str] = field(default_factory=list)
    # What is still visible, and where (page pixels): shown to a reviewer who must fix it.
    leftovers: list[Region] = field(default_factory=list)


def secrets_of(findings: PageFindings) -> PageSecrets:
    """What verification needs from the find step: the values found before redaction, the
    text regions that hid them, and the MRZ as it read."""
    upright = findings.upright
    mrz = findings.mrz
    values: list[str] = list(findings.secrets)
    boxes: list[Box] = [r.box for r in findings.regions if RegionKind(r.kind).is_text]
    mrz_box = None
    if mrz is not None:
        mrz_box = mrz.line_boxes[0]
        for b in mrz.line_boxes[1:]:
            mrz_box = union(mrz_box, b)
    unique = tuple(dict.fromkeys(v for v in (_normal(v) for v in values) if len(v) >= LEAK_RUN))
    mrz_text = mrz.unverified_text() if mrz is not None else ""
    return PageSecrets(upright.page.index, upright.k, upright.page.size, unique, tuple(boxes), mrz_box, mrz_text)


def verify(
    images: list[np.ndarray],
    pages: list[PageSecrets],
    *,
    ocr: OcrEngine,
    centerface: CenterFaceDetector,
    haar: HaarFaceDetector,
    blacked: list[Region],
) -> Verification:
    """Check the redacted `images` (page pixels as displayed), widening number boxes where
    digits still read. `blacked` are the boxes drawn by the redaction step."""
    out_images, added, reasons, leftovers = list(images), [], [], []
    for secrets in pages:
        image = out_images[secrets.page]
        page_blacked = [r.box for r in blacked if r.page == secrets.page]
        image, widened, text_left = _check_text(image, secrets, ocr)
        had_qr = any(r.kind == RegionKind.QR_CODE for r in blacked if r.page == secrets.page)
        image, qr_regions, qr_left = _check_qr(image, secrets.page, thorough=had_qr)
        page_blacked += [r.box for r in widened + qr_regions]
        face_left = _check_faces(image, secrets, page_blacked, centerface, haar)
        out_images[secrets.page] = image
        added += widened + qr_regions
        where = f" (page {secrets.page + 1})" if len(pages) > 1 else ""
        reasons += [r.reason + where for r in text_left + qr_left + face_left]
        leftovers += text_left + qr_left + face_left
    return Verification(out_images, added, list(dict.fromkeys(reasons)), leftovers)


# --- text --------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper()).translate(_CONFUSABLE)


def _crops(secrets: PageSecrets, upright_size: tuple[int, int]) -> list[tuple[Box, float]]:
    """Upright areas to read again, each with its text height: around each blacked-out
    number and the MRZ, with room for what a misplaced box would have left beside it.
    Areas that mostly overlap are read once; distant ones are not joined into one big crop."""
    areas: list[tuple[Box, float]] = []
    for box in secrets.text_boxes:
        # A box that drifted along its line left digits up to most of its width beside it.
        h = max(8.0, min(box[3] - box[1], box[2] - box[0]))
        side = max(3 * h, 0.75 * (box[2] - box[0]))
        areas.append((clip((box[0] - side, box[1] - 1.5 * h, box[2] + side, box[3] + 1.5 * h), *upright_size), h))
    merged: list[tuple[Box, float]] = []
    for box, h in areas:
        for i, (other, oh) in enumerate(merged):
            joined = union(box, other)
            if area(joined) <= area(box) + area(other) - intersection(box, other) + 0.1 * area(joined):
                merged[i] = (joined, min(h, oh))
                break
        else:
            merged.append((box, h))
    return merged


def _read_crop(upright: np.ndarray, crop: Box, text_height: float, ocr: OcrEngine) -> list[TextLine]:
    """OCR one area, enlarged for small text; lines come back in upright page pixels."""
    x0, y0, x1, y1 = (int(crop[0]), int(crop[1]), int(np.ceil(crop[2])), int(np.ceil(crop[3])))
    part = upright[y0:y1, x0:x1]
    if part.size == 0:
        return []
    # Enlarged for small text, but never past what the OCR reads in one go.
    scale = min(4.0, max(1.0, READ_TEXT_HEIGHT / max(1.0, text_height)), max(1.0, MAX_CROP_SIDE / max(part.shape[:2])))
    return read_area(ocr, upright, crop, scale=scale)


def _leaked_spans(lines: list[TextLine], values: tuple[str, ...]) -> list[Box]:
    """Boxes of the characters, in OCR lines, that continue LEAK_RUN characters of a value."""
    grams = {v[i : i + LEAK_RUN] for v in values for i in range(len(v) - LEAK_RUN + 1)}
    spans = []
    for line in lines:
        keep = [i for i, c in enumerate(line.text) if c.isalnum()]
        text = "".join(line.text[i] for i in keep).upper().translate(_CONFUSABLE)
        for i in range(len(text) - LEAK_RUN + 1):
            if text[i : i + LEAK_RUN] in grams:
                spans.append(line.span_box(keep[i], keep[i + LEAK_RUN - 1] + 1))
    return spans


def _leaked_in_strip(upright: np.ndarray, box: Box, ocr: OcrEngine, values: tuple[str, ...]) -> bool:
    """The cheap check, run first: the line through one blacked-out box, with room on both
    sides for what a misplaced box left, recognised as one line (no text detection). Only
    when it still shows part of a value does the thorough check read the area line by line."""
    h = max(8.0, min(box[3] - box[1], box[2] - box[0]))
    side = max(3 * h, 0.75 * (box[2] - box[0]))
    height, width = upright.shape[:2]
    x0, y0, x1, y1 = clip((box[0] - side, box[1] - STRIP_PAD * h, box[2] + side, box[3] + STRIP_PAD * h), width, height)
    strip = upright[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))]
    if strip.size == 0:
        return False
    text = "".join(t for t, _ in ocr.recognise([strip]))
    return bool(_leaked_spans([TextLine(text, (x0, y0, x1, y1), 1.0, "verify")], values))


def _check_text(image: np.ndarray, secrets: PageSecrets, ocr: OcrEngine) -> tuple[np.ndarray, list[Region], list[Region]]:
    """Returns the page, the boxes widened, and what still reads (with its reason)."""
    if not secrets.values:
        return image, [], []
    w, h = secrets.size
    leftovers = []
    if secrets.mrz_box is not None and not any(intersection(b, secrets.mrz_box) > 0 for b in secrets.text_boxes):
        # Nothing was blacked out in the MRZ, so it reads as it did before redaction: no
        # need to OCR two long lines again (half a page of OCR) to know what it shows.
        if _leaked_spans([TextLine(secrets.mrz_text, secrets.mrz_box, 1.0, "mrz")], secrets.values):
            leftovers.append(Region(RegionKind.PERSONAL_NUMBER, secrets.page, unrotate_box(secrets.mrz_box, secrets.k, w, h),
                                    "The MRZ holds part of a personal number that was not blacked out."))
    upright_size = (h, w) if secrets.k % 2 else (w, h)
    widened: list[Region] = []
    upright = np.ascontiguousarray(np.rot90(image, secrets.k))
    if not any(_leaked_in_strip(upright, box, ocr, secrets.values) for box in secrets.text_boxes):
        return image, widened, leftovers
    for crop, text_height in _crops(secrets, upright_size):
        for _ in range(WIDEN_ROUNDS):
            upright = np.ascontiguousarray(np.rot90(image, secrets.k))
            spans = _leaked_spans(_read_crop(upright, crop, text_height, ocr), secrets.values)
            if not spans:
                break
            # Black out what was read, a little generously, then read the area again.
            new = [
                Region(RegionKind.PERSONAL_NUMBER, secrets.page, unrotate_box(pad(s, 0.3 * (s[3] - s[1])), secrets.k, w, h),
                       "still readable after redaction: box widened")
                for s in spans
            ]
            image, drawn = black_out(image, new)
            widened += drawn
        else:
            upright = np.ascontiguousarray(np.rot90(image, secrets.k))
            if _leaked_spans(_read_crop(upright, crop, text_height, ocr), secrets.values):
                still = Region(RegionKind.PERSONAL_NUMBER, secrets.page, unrotate_box(crop, secrets.k, w, h),
                               "Part of a personal number is still readable after redaction.")
                return image, widened, leftovers + [still]
    return image, widened, leftovers


# --- QR codes ----------------------------------------------------------------------------


def _check_qr(image: np.ndarray, page: int, *, thorough: bool) -> tuple[np.ndarray, list[Region], list[Region]]:
    """A QR reader on the whole page, as an attacker points one at it. The locators for codes
    no reader decodes (finder patterns, OpenCV) ran on these pixels before redaction, and
    blacking out adds no light square to make a finder: they look again only on a page where
    a code was blacked out (`thorough`), found by them or by a person, to see that it is gone."""
    look = find_qr_codes if thorough else read_qr_codes
    codes = look(image)
    if not codes:
        return image, [], []
    image, drawn = black_out(image, [Region(RegionKind.QR_CODE, page, c.box, "QR code found after redaction") for c in codes])
    still = find_qr_codes(image)
    return image, drawn, [Region(RegionKind.QR_CODE, page, c.box, "A QR code is still detectable after redaction.") for c in still]


# --- faces -------------------------------------------------------------------------------


def _check_faces(
    image: np.ndarray, secrets: PageSecrets, blacked: list[Box], centerface: CenterFaceDetector, haar: HaarFaceDetector
) -> list[Region]:
    """Faces either detector still sees, where at least half of the face is not black."""
    w, h = secrets.size
    upright = np.ascontiguousarray(np.rot90(image, secrets.k))
    black = [rotate_box(b, secrets.k, w, h) for b in blacked]
    faces: list[Face] = centerface.detect(upright, threshold=LEFTOVER_FACE_SCORE, max_side=FACE_MAX_SIDE)
    faces += haar.detect(upright, max_side=FACE_MAX_SIDE)
    return [
        Region(RegionKind.FACE, secrets.page, unrotate_box(f.box, secrets.k, w, h), "A face-like region remains visible after redaction.")
        for f in faces
        if _visible_fraction(f.box, black) >= VISIBLE_FACE_FRACTION
    ]


def _visible_fraction(box: Box, black: list[Box]) -> float:
    """How much of `box` no black box covers (overlaps between black boxes counted once)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.ones((y1 - y0, x1 - x0), bool)
    for b in black:
        if intersection(box, b) > 0:
            bx0, by0 = max(0, int(b[0]) - x0), max(0, int(b[1]) - y0)
            bx1, by1 = min(x1 - x0, int(np.ceil(b[2])) - x0), min(y1 - y0, int(np.ceil(b[3])) - y0)
            mask[by0:by1, bx0:bx1] = False
    return float(mask.mean()) if area(box) > 0 else 0.0
