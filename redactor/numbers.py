"""Find personal numbers (the BSN and foreign equivalents) in the recognised text.

Three handles, any one is enough to black a number out:
1. a 9-digit number that passes the elfproef (python-stdnum) is a BSN, unless it is the
   document number;
2. a digit run next to a personal-number label ("Persoonsnummer", "Personal No.", "BSN",
   driving-licence field "4d", ...) is one, checksum or not (OCR may have misread a digit);
3. the value of the MRZ personal-number field, wherever it is printed in the visual zone.
A label with no readable number next to it makes the document `needs_review`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from stdnum.nl import bsn as stdnum_bsn

from redactor.core import Box, RegionKind, TextLine
from redactor.geometry import area, centre_line, height, intersection, union

# Lower-case, spaces removed. OCR drops or mangles accents, so keep the ASCII core.
LABELS = (
    "persoonsnummer",
    "personalno",
    "personalnumber",
    "personalcode",
    "personalidentitycode",
    "burgerservicenummer",
    "bsn",
    "sofinummer",
    "sofi-nummer",
    "sofi.nr",
    "npersonnel",
    "numeropersonnel",
    "numéropersonnel",
    "personaskods",
    "henkilötunnus",
    "henkilotunnus",
    "rodnécíslo",
    "rodnecislo",
    "rodnéčíslo",
    "osobnícíslo",
    "asmenskodas",
    "pesel",
    "cnp",
    "emšo",
    "emso",
    "identificationno",
)
# Labels this short also occur inside words and names ("Jacobsnijder", "Pescel"): they count
# only as a word of their own.
SHORT_LABELS = {label for label in LABELS if len(label) <= 5}
# Driving licence field 4d holds the BSN on Dutch licences: "4d.", "4d ", "4d:".
LICENCE_FIELD = re.compile(r"(?<![0-9a-z])4d(?![a-z])", re.IGNORECASE)

_TO_DIGIT = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "I": "1", "l": "1", "|": "1", "i": "1",
                           "Z": "2", "S": "5", "s": "5", "B": "8", "G": "6", "g": "9", "q": "9", "T": "7"})
# A run of digits, possibly grouped with dots, spaces, dashes or slashes (123 456 782, 1234.56.782, 110101/111).
DIGIT_RUN = re.compile(r"[0-9OoQDIl|iZSsBGgqT](?:[ .\-/]?[0-9OoQDIl|iZSsBGgqT]){5,}")


@dataclass(frozen=True)
class NumberHit:
    kind: RegionKind  # BSN on Dutch documents, PERSONAL_NUMBER elsewhere
    box: Box
    reason: str
    value: str  # the digits as read, so verification can look for them again


@dataclass(frozen=True)
class NumberFindings:
    hits: list[NumberHit]
    review_reasons: list[str]
    # Where each unread number should be (beside or under its label), one per review reason
    # that has a place: a person answering the doubt must cover it.
    review_areas: list[Box] = field(default_factory=list)


def _squash(text: str) -> str:
    return re.sub(r"[\s.:/\-_()]", "", text.lower())


def _is_sentence(text: str) -> bool:
    """Running text that mentions a label ("De QR-code bevat uw burgerservicenummer.") is
    no field label: a label stands alone or with its value. Multilingual labels are split by
    slashes ("Persoonsnummer / Personal No. / N° personnel"); prose is not."""
    words = re.findall(r"[A-Za-zÀ-ÿ]{2,}", text)
    return "/" not in text and len(words) >= 4


def _has_label(text: str) -> bool:
    if _is_sentence(text) and not _digit_runs(text, min_digits=6):
        return False
    s = _squash(text)
    words = {_squash(w) for w in re.split(r"[\s/|]+", text)}
    return (
        any(label in s for label in LABELS if label not in SHORT_LABELS)
        or any(label in words for label in SHORT_LABELS)
        or bool(LICENCE_FIELD.search(text))
    )


def _label_end(text: str) -> int:
    """Index in `text` just after the label, so a value on the same line is what follows."""
    m = LICENCE_FIELD.search(text)
    if m:
        return m.end()
    lowered = text.lower()
    best = 0
    for label in LABELS:
        # Tolerate spaces/dots inside the label as printed ("Personal No.").
        pattern = r"[\s.:/\-_()]*".join(re.escape(c) for c in label)
        found = re.search(pattern, lowered)
        if found:
            best = max(best, found.end())
    return best


def _digit_runs(text: str, *, min_digits: int) -> list[tuple[int, int, str]]:
    runs = []
    for m in DIGIT_RUN.finditer(text):
        raw = m.group(0)
        digits = re.sub(r"[ .\-/]", "", raw).translate(_TO_DIGIT)
        real = sum(c.isdigit() for c in raw)
        # Mostly real digits: letters that look like digits only fill in OCR slips.
        if len(digits) >= min_digits and real >= max(min_digits - 2, len(digits) * 0.6):
            runs.append((m.start(), m.end(), digits))
    return runs


def _is_bsn(digits: str) -> bool:
    return len(digits) == 9 and stdnum_bsn.is_valid(digits)


# A page slanted less than this (tan 2 degrees) is taken as level: labels and values are
# paired by their boxes as they are.
LEVEL_SLOPE = 0.035


def page_slope(lines: list[TextLine]) -> float:
    """How far the page's text falls per pixel to the right, from the lines OCR gave character
    boxes (those with digits in them); 0 for a page that is level or says nothing."""
    slopes = [fit[0] for fit in (centre_line(line.chars) for line in lines) if fit is not None]
    slope = float(np.median(slopes)) if slopes else 0.0
    return slope if abs(slope) >= LEVEL_SLOPE else 0.0


def _band(line: TextLine, slope: float) -> tuple[float, float]:
    """A line's middle along the slant (its height where x = 0 once the page is turned level)
    and the height of its letters: on a slanted page a line's box is taller by its slant."""
    x0, y0, x1, y1 = line.box
    text_height = max(height(line.box) - abs(slope) * (x1 - x0), 0.3 * height(line.box))
    return (y0 + y1) / 2 - slope * (x0 + x1) / 2, text_height


def _top(line: TextLine, slope: float) -> float:
    middle, text_height = _band(line, slope)
    return middle - text_height / 2


def _beside(label: TextLine, line: TextLine, slope: float = 0.0) -> bool:
    """`line` continues `label`'s row to the right ("4d." then "123456782")."""
    middle, h = _band(label, slope)
    return abs(_band(line, slope)[0] - middle) < 0.6 * h and label.box[2] - h <= line.box[0] <= label.box[2] + 12 * h


def _below(label: TextLine, line: TextLine, slope: float = 0.0) -> bool:
    """`line` is printed under `label`, as passport values are under their labels."""
    middle, h = _band(label, slope)
    line_middle, line_height = _band(line, slope)
    ly1, y0 = middle + h / 2, line_middle - line_height / 2
    lx0, lx1 = label.box[0], label.box[2]
    x0, x1 = line.box[0], line.box[2]
    return ly1 - 0.5 * h <= y0 <= ly1 + 2.2 * h and x0 < lx1 + h and x1 > lx0 - 2 * h


def value_area(label: TextLine) -> Box:
    """Where `_beside` and `_below` look for a label's number: the rest of its row and the lines
    just under it."""
    h = height(label.box)
    lx0, ly0, lx1, ly1 = label.box
    return (lx0 - 2 * h, ly0, lx1 + 12 * h, ly1 + 3.2 * h)


def _label_values(label: TextLine, lines: list[TextLine], kind: RegionKind, slope: float = 0.0) -> list[NumberHit]:
    """The number a label belongs to: on its own line, else beside it, else the nearest line
    under it (`slope`: see `page_slope`)."""
    end = _label_end(label.text)
    name = label.text[:end].strip() or label.text.strip()[:40]
    hits = [
        NumberHit(kind, label.span_box(end + a, end + b), f"number next to the label '{name}'", digits)
        for a, b, digits in _digit_runs(label.text[end:], min_digits=6)
    ]
    if hits:
        return hits
    others = [l for l in lines if l is not label]
    for near in (_beside, _below):
        candidates = sorted((l for l in others if near(label, l, slope)), key=lambda l: _top(l, slope))
        for other in candidates:
            where = "beside" if near is _beside else "under"
            found = [
                NumberHit(kind, other.span_box(a, b), f"number {where} the label '{name}'", digits)
                for a, b, digits in _digit_runs(other.text, min_digits=6)
            ]
            if found:
                return found
    return []


def _fuzzy_find(haystack: str, needle: str, max_errors: int) -> int:
    """Start index of `needle` in `haystack` with at most `max_errors` substitutions, or -1."""
    n = len(needle)
    for i in range(len(haystack) - n + 1):
        if sum(a != b for a, b in zip(haystack[i : i + n], needle)) <= max_errors:
            return i
    return -1


def _whole_number(text: str, a: int, b: int) -> tuple[int, int]:
    """Grow text[a:b] to the whole number printed around it: the MRZ field holds at most 14
    characters, so a longer number in the visual zone (a Romanian CNP, whose MRZ part is its
    tail) must go whole. Only characters printed together count, and a hyphen between digits
    (the Latvian '111111-11648', the Finnish '211271-426U': one code); another separator ends it."""
    while a > 0 and (text[a - 1].isdigit() or (text[a - 1] == "-" and a > 1 and text[a - 2].isdigit())):
        a -= 1
    while b < len(text) and text[b].isalnum():
        b += 1
    return a, b


def _printed_tail(text: str, a: int, b: int) -> bool:
    """text[a:b] is the printed tail of a number: it ends a token, and either starts one
    ("-426U" after a birth date) or is a long run printed without separators inside a longer
    number (the tail of a Romanian CNP)."""
    ends_token = b == len(text) or not text[b].isalnum()
    starts_token = a == 0 or not text[a - 1].isalnum()
    return ends_token and (starts_token or (text[a:b].isalnum() and b - a >= 6))


def _mrz_value_hits(line: TextLine, value: str, kind: RegionKind) -> list[NumberHit]:
    """Where the MRZ personal number is printed in `line`: whole, inside a longer number, or
    as its last part (printed split, like the Finnish '211271-426U' beside the birth date)."""
    # Map squashed positions back to the printed text; separators (/ - . space) are ignored.
    keep = [i for i, c in enumerate(line.text) if c.isalnum()]
    squashed = "".join(line.text[i] for i in keep).upper()
    upper_value = value.upper()
    start = _fuzzy_find(squashed.translate(_TO_DIGIT), upper_value.translate(_TO_DIGIT), 1 if len(value) >= 8 else 0)
    end = start + len(value)
    if start < 0:
        for tail in range(len(value) - 1, 3, -1):
            suffix = upper_value[-tail:]
            pos = squashed.find(suffix)
            if pos >= 0 and _printed_tail(line.text, keep[pos], keep[pos + tail - 1] + 1):
                start, end = pos, pos + tail
                break
    if start < 0:
        return []
    a, b = _whole_number(line.text, keep[start], keep[end - 1] + 1)
    return [NumberHit(kind, line.span_box(a, b), "the MRZ personal number, printed", line.text[a:b])]


def find_numbers(
    lines: list[TextLine], mrz_values: list[str], document_number: str | None, *, dutch: bool = True
) -> NumberFindings:
    """Personal numbers in the visual zone. `dutch`: the number is a BSN (else a foreign
    personal number: the record says which)."""
    kind = RegionKind.BSN if dutch else RegionKind.PERSONAL_NUMBER
    hits: list[NumberHit] = []
    reviews: list[str] = []
    doc_no = (document_number or "").upper()

    for line in lines:
        for a, b, digits in _digit_runs(line.text, min_digits=9):
            if _is_bsn(digits) and digits != doc_no:
                hits.append(NumberHit(kind, line.span_box(a, b), "a 9-digit number that passes the BSN check", digits))
        for value in mrz_values:
            hits.extend(_mrz_value_hits(line, value, kind))

    areas: list[Box] = []
    slope = page_slope(lines)
    for label in (l for l in lines if _has_label(l.text)):
        found = _label_values(label, lines, kind, slope)
        hits.extend(found)
        if not found:
            reviews.append(
                f"A personal-number label ('{label.text.strip()[:40]}') was found but no readable number next to it."
            )
            areas.append(value_area(label))
    return NumberFindings(hits=_dedupe(hits), review_reasons=reviews, review_areas=areas)


def _dedupe(hits: list[NumberHit]) -> list[NumberHit]:
    """One hit per printed number: overlapping hits merge into their union, a BSN wins."""
    merged: list[NumberHit] = []
    for hit in sorted(hits, key=lambda h: h.kind != RegionKind.BSN):
        for i, kept in enumerate(merged):
            if intersection(hit.box, kept.box) > 0.5 * min(area(hit.box), area(kept.box)):
                value = kept.value if len(kept.value) >= len(hit.value) else hit.value
                merged[i] = NumberHit(kept.kind, union(kept.box, hit.box), kept.reason, value)
                break
        else:
            merged.append(hit)
    return merged
