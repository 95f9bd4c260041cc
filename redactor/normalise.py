"""Turn each page upright. EXIF orientation is already applied by `load`; this step finds
quarter-turn rotations of the document itself (a passport photographed sideways, a card
scanned upside down).

It is judged cheaply: text is located once, and only a few of the longest lines are read,
cut from the full page along their slant and turned each way their shape allows (a wide
line: as is or upside down; a tall one: a quarter turn either way). The turn whose readings
are most confident, look like an MRZ or hold the label words of identity documents wins.
Then the page is read once, upright:
- a page OCR reads whole (a card or passport scan, most photos): the lines located for the
  decision are the lines read when the page is upright, so text is searched for once (a
  turned page is searched again, turned);
- a big page (an A4 scan or PDF page): located on the page scaled down, then read only where
  its text is, so a card on it is read at the size OCR needs instead of shrunk with it.
A slanted page whose MRZ does not read is read again turned level (the boxes are mapped back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import partial

import cv2
import numpy as np

from redactor import mrz
from redactor.core import Box, Page, TextLine
from redactor.geometry import clip, pad, rotate_box, unrotate_box
from redactor.ocr import MAX_SIDE, FoundLines, OcrEngine, quad_box, read_area

# Text is detected on the page scaled to this many pixels (long side): enough to find lines.
DETECT_SIDE = 800
FEW_LINES = 4
# A second, closer look: small print a card on an A4 scan holds is found at this size.
CLOSER_SIDE = 2 * DETECT_SIDE
# A big page is read only where its text is (plus this share of that area's size around it),
# when that makes the text at least this much larger for OCR.
WINDOW_MARGIN = 0.12
WINDOW_MIN_GAIN = 1.25
# How many lines are read in each candidate turn, and how much of each (in line heights).
SAMPLE_LINES = 5
MAX_RATIO = 12
# Lines of the other shape at least this share of the likelier shape's length: a mixed page.
MIXED_SHARE = 0.5
# Text slanted at least this much (degrees) may be read again from the page turned level (see
# `upright`). Beyond SKEW_MAX the estimate is not a slant of the whole page (slanted print on
# the Australian specimen gave -14.6 degrees for a page tilted -4).
SKEW_MIN, SKEW_MAX = 2.0, 10.0
# A reading this confident counts; below it, upside-down text often still yields letters.
GOOD_CONFIDENCE = 0.75
# Words printed on identity documents (lower case, spaces removed); a turn that reads them is right.
LABEL_WORDS = re.compile(
    r"paspoort|passport|passeport|reisepass|pasaporte|passaporto|identiteitskaart|identitycard|identit"
    r"|personalausweis|rijbewijs|driving|permis|nationalit|geboortedatum|dateofbirth|naissance|surname"
    r"|givennames|voornamen|naam|name|nom|document|kingdom|koninkrijk|nederland|netherlands|expiry|geldig"
    r"|issue|afgifte|sex|geslacht|height|lengte|signature|handtekening|authority|instantie|persoonsnummer"
    r"|personal|specimen|republic|republiek"
)


@dataclass(frozen=True)
class UprightPage:
    page: Page
    k: int  # np.rot90(page.image, k) is upright
    image: np.ndarray  # the upright image
    lines: tuple[TextLine, ...]  # OCR lines in upright coordinates
    text_layer: tuple[TextLine, ...] = ()  # a PDF's own text, in upright coordinates
    # The part of a big page that holds its text (upright pixels), when OCR read only that
    # part; None: the whole page was read.
    text_area: Box | None = None

    @property
    def all_lines(self) -> list[TextLine]:
        return list(self.lines) + list(self.text_layer)

    def to_page_box(self, box: Box) -> Box:
        """A box on the upright view, where it is on the page as displayed."""
        w, h = self.page.size
        return unrotate_box(box, self.k, w, h)


def _rotate_line(line: TextLine, k: int, width: int, height: int) -> TextLine:
    return TextLine(
        text=line.text,
        box=rotate_box(line.box, k, width, height),
        confidence=line.confidence,
        source=line.source,
        chars=tuple(rotate_box(c, k, width, height) for c in line.chars),
    )


def _corners(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A line's top-left, top-right and bottom-left corners on the page. The detector's own
    corner order follows x first and swaps ends on a nearly upright, slanted line; a line
    slanted less than 45 degrees has its top-left corner nearest the page's top-left, and so on."""
    sums, diffs = quad.sum(axis=1), quad[:, 0] - quad[:, 1]
    return quad[np.argmin(sums)], quad[np.argmax(diffs)], quad[np.argmin(diffs)]


def _sides(quad: np.ndarray) -> tuple[float, float]:
    """A line's length along the page's x and y axes (top edge, left edge)."""
    top_left, top_right, bottom_left = _corners(quad)
    return float(np.linalg.norm(top_right - top_left)), float(np.linalg.norm(bottom_left - top_left))


def _sample(quads: list[np.ndarray], wide: bool) -> list[np.ndarray]:
    """The longest lines of one shape: long lines carry the most evidence (the MRZ is longest)."""
    shaped = [q for q in quads if (_sides(q)[0] > _sides(q)[1]) == wide]
    return sorted(shaped, key=lambda q: max(_sides(q)), reverse=True)[:SAMPLE_LINES]


def _crop(image: np.ndarray, quad: np.ndarray, k: int) -> np.ndarray:
    """The line with a small margin (detection boxes are tight), cut from the full-resolution
    page along its slant (a phone photo's lines run askew; cut square, a turned line is a
    diagonal stroke the recogniser cannot read), turned k quarter turns, and cut to its first
    MAX_RATIO heights: the recogniser's cost grows with the width, and the start of a line
    tells which way up it is."""
    top_left, top_right, bottom_left = _corners(quad)
    along_x, along_y = _sides(quad)
    m = 0.15 * min(along_x, along_y)
    ux = (top_right - top_left) / max(along_x, 1e-6)
    uy = (bottom_left - top_left) / max(along_y, 1e-6)
    w, h = round(along_x + 2 * m), round(along_y + 2 * m)
    if w < 2 or h < 2:
        return np.zeros((0, 0, 3), np.uint8)
    corners = np.float32([top_left - m * ux - m * uy, top_right + m * ux - m * uy, bottom_left - m * ux + m * uy])
    warp = cv2.getAffineTransform(corners, np.float32([[0, 0], [w, 0], [0, h]]))
    crop = np.rot90(cv2.warpAffine(image, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), k)
    return crop[:, : MAX_RATIO * crop.shape[0]]


def _mrz_like(text: str) -> bool:
    """The start of an MRZ line (crops are cut short): MRZ characters with filler in them."""
    return text.count("<") >= 3 and bool(re.fullmatch(r"[A-Z0-9<]+", text.replace(" ", "")))


def text_score(readings: list[tuple[str, float]]) -> float:
    """Evidence that lines were read the right way up: confident characters, MRZ lines (only
    read upright), and the label words of identity documents."""
    score = 0.0
    for text, conf in readings:
        if conf < GOOD_CONFIDENCE:
            continue
        squashed = re.sub(r"[\s.:'/\-]", "", text.lower())
        # Only characters documents print count: an upside-down MRZ filler reads as '>',
        # confidently, and must not outscore the upright reading.
        score += conf * len(re.findall(r"[a-z0-9<]", squashed))
        if _mrz_like(text):
            score += 2 * len(squashed)
        score += 10 * len(LABEL_WORDS.findall(squashed))
    return score


def _conclusive(readings: list[tuple[str, float]]) -> bool:
    """Evidence no upside-down or sideways reading produces: an MRZ line, or two label words."""
    good = [re.sub(r"[\s.:'/\-]", "", t.lower()) for t, c in readings if c >= 0.9]
    words = {w for t in good for w in LABEL_WORDS.findall(t)}
    return any(_mrz_like(t.upper()) for t in good) or len(words) >= 2


def orientation(image: np.ndarray, ocr: OcrEngine) -> int:
    """k such that np.rot90(image, k) is upright (0 when there is no text to tell)."""
    h, w = image.shape[:2]
    if window_possible(w, h):
        return _turn(image, ocr, _detect_small(image, ocr)[0])
    return _turn_whole(image, ocr, ocr.find_lines(image))[0]


def _turn_whole(image: np.ndarray, ocr: OcrEngine, found: FoundLines) -> tuple[int, list[TextLine] | None]:
    """k for a page OCR reads whole, from the lines found for reading it; and those lines
    read, when they were read on the way.

    A page whose text runs across is most often upright: its lines are read as they are, and
    when they read as an MRZ or as labels do, that settles it with no sample read apart."""
    quads = list(found.page_quads)
    if _length(_sample(quads, False)) >= MIXED_SHARE * _length(_sample(quads, True)):
        return _turn(image, ocr, quads), None
    as_found = ocr.read_lines(found, fix_upside_down=False)
    if _conclusive([(l.text, l.confidence) for l in as_found]):
        return 0, as_found
    return _turn(image, ocr, quads), as_found


def _detect_small(image: np.ndarray, ocr: OcrEngine) -> tuple[list[np.ndarray], int]:
    """Where the lines of a big page are, found on the page scaled down to the side returned
    with them: enough to tell which way they run."""
    quads = ocr.detect(image, max_side=DETECT_SIDE)
    if len(quads) >= FEW_LINES:
        return quads, DETECT_SIDE
    # A card on an A4 scan has text too small to find at this size: look closer.
    return ocr.detect(image, max_side=CLOSER_SIDE), CLOSER_SIDE


def _text_window(page: Page, k: int, quads: list[np.ndarray], side: int, ocr: OcrEngine) -> Box | None:
    """The part of the upright page (`page` turned by k) that holds all its text, or None: read
    it whole. Only the window is read, so it is taken from lines found at CLOSER_SIDE
    (`quads` were found at `side`): at DETECT_SIDE, of two cards side by side on an A4 scan
    tilted 5 degrees only the front's lines were found, and the back's MRZ went unread."""
    w, h = page.size
    upright_size = (h, w) if k % 2 else (w, h)

    def window_of(found: list[np.ndarray]) -> Box | None:
        return reading_window([rotate_box(quad_box(q), k, w, h) for q in found], *upright_size)

    window = window_of(quads)
    if window is None or side >= CLOSER_SIDE:
        return window
    return window_of(ocr.detect(page.image, max_side=CLOSER_SIDE))


def _length(sample: list[np.ndarray]) -> float:
    """How much text a sample of lines holds: their summed lengths."""
    return sum(max(_sides(q)) for q in sample)


def _turn(image: np.ndarray, ocr: OcrEngine, quads: list[np.ndarray]) -> int:
    """k such that np.rot90(image, k) is upright, judged from the lines at `quads`.

    Lines are mostly wide on a page that is upright or upside down, tall on one turned a
    quarter: the likelier turn of the likelier shape is read first, and when it reads
    conclusively nothing else is read."""
    wide, tall = _sample(quads, True), _sample(quads, False)
    wide_length, tall_length = _length(wide), _length(tall)
    order = [0, 2, 1, 3] if wide_length >= tall_length else [1, 3, 0, 2]
    # A page with much text both ways (a photo of a passport with a caption across it) is
    # read both ways: which shape is likelier says little there.
    mixed = min(wide_length, tall_length) >= MIXED_SHARE * max(wide_length, tall_length)
    scores: dict[int, float] = {}
    for k in order:
        sample = wide if k % 2 == 0 else tall
        readings: list[tuple[str, float]] = []
        for crop in (c for c in (_crop(image, b, k) for b in sample) if c.size):
            readings += ocr.recognise([crop])
            # Line by line, longest first: an MRZ line, usually first, is conclusive alone. The
            # same decision as reading them all at once: more lines only add evidence.
            if k == order[0] and _conclusive(readings):
                return k
        scores[k] = text_score(readings)
        # Both turns of the likelier shape read: the other shape only when neither read at
        # all, or the page is mixed.
        if k == order[1] and max(scores.values()) > 0 and not mixed:
            break
    return max(scores, key=lambda k: (scores[k], k == 0))


def window_possible(width: int, height: int) -> bool:
    """Whether `reading_window` can pick a part of a page this size: only a page OCR shrinks
    by more than WINDOW_MIN_GAIN can have its text seen larger."""
    return min(1.0, MAX_SIDE / max(width, height)) * WINDOW_MIN_GAIN <= 1.0


def skew(quads: list[np.ndarray]) -> float:
    """The slant of a page's text in degrees (positive: lines fall to the right), the median
    over its long lines weighted by length. Angles are taken modulo a quarter turn, so it is
    the same before and after a page is turned upright."""
    angles, weights = [], []
    for quad in quads:
        top_left, top_right, bottom_left = _corners(quad)
        along, across = top_right - top_left, bottom_left - top_left
        if np.linalg.norm(along) < np.linalg.norm(across):
            along, across = across, along
        if np.linalg.norm(along) < 4 * np.linalg.norm(across):
            continue  # a short word says little about the slant
        angle = float(np.degrees(np.arctan2(along[1], along[0])))
        angles.append((angle + 45.0) % 90.0 - 45.0)
        weights.append(float(np.linalg.norm(along)))
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


@dataclass(frozen=True)
class Straightening:
    """An image turned about its centre by a small angle onto a canvas that holds all of it."""

    matrix: np.ndarray  # 2x3: image pixels -> straightened pixels
    size: tuple[int, int]  # (width, height) of the straightened image

    @classmethod
    def level(cls, width: int, height: int, angle: float) -> Straightening:
        """The turn that makes text slanted by `angle` (see `skew`) level."""
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (int(np.ceil(height * sin + width * cos)), int(np.ceil(height * cos + width * sin)))
        matrix[0, 2] += size[0] / 2 - width / 2
        matrix[1, 2] += size[1] / 2 - height / 2
        return cls(matrix, size)

    def apply(self, image: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(image, self.matrix, self.size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

    def forth(self, box: Box) -> Box:
        """The box around where `box` lands on the straightened image."""
        return _box_around(self.matrix, box)

    def back(self, box: Box) -> Box:
        """The box around where `box` of the straightened image came from."""
        return _box_around(cv2.invertAffineTransform(self.matrix), box)


def _box_around(matrix: np.ndarray, box: Box) -> Box:
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=np.float64) @ matrix.T
    return (float(corners[:, 0].min()), float(corners[:, 1].min()), float(corners[:, 0].max()), float(corners[:, 1].max()))


def _read_level(image: np.ndarray, angle: float, window: Box | None, ocr: OcrEngine) -> list[TextLine]:
    """Read a slanted page turned level; the lines come back in `image`'s pixels, each box
    (and character box) the upright box around where it lies: what reading the slanted page
    itself gives, from a detector that saw level lines."""
    h, w = image.shape[:2]
    turn = Straightening.level(w, h, angle)
    level = turn.apply(image)
    if window is None:
        lines = ocr.read(level, fix_upside_down=False)
    else:
        lines = read_area(ocr, level, clip(turn.forth(window), *turn.size), fix_upside_down=False)
    return [
        replace(l, box=clip(turn.back(l.box), w, h), chars=tuple(clip(turn.back(c), w, h) for c in l.chars))
        for l in lines
    ]


def reading_window(boxes: list[Box], width: int, height: int) -> Box | None:
    """The part of a big page that holds all its text, when reading only that part sees the
    text larger. OCR shrinks a page to MAX_SIDE pixels; an ID card on an A4 scan or PDF page
    then has print a few pixels high, and its labels are lost. None: read the whole page."""
    page_scale = min(1.0, MAX_SIDE / max(width, height))
    if page_scale == 1.0 or len(boxes) < FEW_LINES:
        return None
    extent = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    # Small print the first look missed sits around what it found (labels above values,
    # a title above the fields): a wide margin.
    window = clip(pad(extent, WINDOW_MARGIN * max(extent[2] - extent[0], extent[3] - extent[1])), width, height)
    window_scale = min(1.0, MAX_SIDE / max(window[2] - window[0], window[3] - window[1]))
    return window if window_scale >= WINDOW_MIN_GAIN * page_scale else None


def upright(page: Page, ocr: OcrEngine) -> UprightPage:
    w, h = page.size
    # The 180-degree line classifier stays off: it flips skewed MRZ lines, which then read as noise.
    if window_possible(w, h):
        quads, side = _detect_small(page.image, ocr)
        k = _turn(page.image, ocr, quads)
        image = np.ascontiguousarray(np.rot90(page.image, k)) if k else page.image
        window = _text_window(page, k, quads, side, ocr)
        if window is None:
            read = partial(_read_whole, image)
        else:
            read = partial(_read_window, image, window)
        lines = read(ocr)
    else:
        found = ocr.find_lines(page.image)
        quads, window = list(found.page_quads), None
        k, as_found = _turn_whole(page.image, ocr, found)
        image = np.ascontiguousarray(np.rot90(page.image, k)) if k else page.image
        # A turned page is searched for text again: lines cut along boxes turned from another
        # view read worse, though the boxes differ by a pixel or two (an MRZ lost four characters).
        read = partial(_read_found, found if k == 0 else ocr.find_lines(image))
        lines = as_found if k == 0 and as_found is not None else read(ocr)
    careful = ocr.careful()
    if careful is not ocr and _mrz_unread(lines):
        # The fast recogniser misread the MRZ (or it is hard to read): read the page as the
        # careful model alone reads it, and go on with that model.
        ocr, lines = careful, read(careful)
    lines = _level_reading_if_better(image, lines, skew(quads), window, ocr)
    text_layer = tuple(_rotate_line(l, k, w, h) for l in page.text_layer)
    return UprightPage(page=page, k=k, image=image, lines=tuple(lines), text_layer=text_layer, text_area=window)


def _read_whole(image: np.ndarray, ocr: OcrEngine) -> list[TextLine]:
    return ocr.read(image, fix_upside_down=False)


def _read_window(image: np.ndarray, window: Box, ocr: OcrEngine) -> list[TextLine]:
    return read_area(ocr, image, window, fix_upside_down=False)


def _read_found(found: FoundLines, ocr: OcrEngine) -> list[TextLine]:
    return ocr.read_lines(found, fix_upside_down=False)


def _mrz_unread(lines: list[TextLine]) -> bool:
    """MRZ-like lines that do not parse, or an MRZ with a check digit wrong."""
    reading = mrz.read(lines)
    return bool(reading.unparsed) or (reading.result is not None and not reading.result.valid)


def _level_reading_if_better(
    image: np.ndarray, lines: list[TextLine], slant: float, window: Box | None, ocr: OcrEngine
) -> list[TextLine]:
    """`lines`, or, on a slanted page with MRZ-like lines that do not parse, the page read again
    turned level when that reading's MRZ has every check digit right (on a small card tilted
    3-4 degrees the detector merged the MRZ lines). Only then: turning blurs a little, and on a
    photo of a passport the level MRZ lines came apart at their filler."""
    if not SKEW_MIN <= abs(slant) <= SKEW_MAX:
        return lines
    plain = mrz.read(lines)
    if plain.result is not None or not plain.unparsed:
        return lines
    straight = _read_level(image, slant, window, ocr)
    reading = mrz.read(straight).result
    # Every check digit, not only a parse: lines merged into an MRZ's shape also parse.
    return straight if reading is not None and reading.valid else lines
