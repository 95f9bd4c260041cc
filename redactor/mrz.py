"""ICAO 9303 machine readable zone: check digits, a tolerant reader, and where each cell sits.

Reading goes in four steps, each a small function:
  1. find MRZ-like OCR lines and merge the fragments OCR split off one baseline;
  2. group lines into zones and try every format whose line length fits;
  3. repair each candidate (line length, filler runs, O/0-style confusions per field kind)
     and let the check digits pick the best one;
  4. fit the character pitch of every line (per-character boxes where OCR gave them) so
     that any cell range can be blacked out where it really is on a skewed or warped page.

MRZ-like lines that do not parse are returned too (`MrzReading.unparsed`): the caller must
black out their digit runs or send the document to review, never publish them unread.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterator, Literal

import numpy as np

from redactor.core import Box, TextLine
from redactor.geometry import centre_line, height, union


def char_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    return 0  # '<' filler


def check_digit(field: str) -> str:
    """ICAO check digit: weights 7, 3, 1 repeating, sum modulo 10."""
    weights = (7, 3, 1)
    return str(sum(char_value(c) * weights[i % 3] for i, c in enumerate(field)) % 10)


# --------------------------------------------------------------------------- formats as data

Kind = Literal["code", "alpha", "num", "alnum", "sex", "name", "optional"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    line: int
    start: int
    end: int  # half-open
    kind: Kind
    check: int | None = None  # position (same line) of this field's own check digit


@dataclass(frozen=True)
class Format:
    name: str
    n_lines: int
    length: int
    fields: tuple[FieldSpec, ...]
    composite: tuple[tuple[int, int, int], ...]  # (line, start, end) slices the composite digit covers
    composite_check: tuple[int, int]  # (line, position)
    personal: tuple[str, ...]  # fields that may hold a personal number

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def _line2_td3_td2(length: int) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("document_code", 0, 0, 2, "code"),
        FieldSpec("issuing_state", 0, 2, 5, "alpha"),
        FieldSpec("name", 0, 5, length, "name"),
        FieldSpec("document_number", 1, 0, 9, "alnum", check=9),
        FieldSpec("nationality", 1, 10, 13, "alpha"),
        FieldSpec("birth_date", 1, 13, 19, "num", check=19),
        FieldSpec("sex", 1, 20, 21, "sex"),
        FieldSpec("expiry_date", 1, 21, 27, "num", check=27),
    )


TD3 = Format(
    "TD3", 2, 44,
    _line2_td3_td2(44) + (FieldSpec("personal_number", 1, 28, 42, "optional", check=42),),
    composite=((1, 0, 10), (1, 13, 20), (1, 21, 43)), composite_check=(1, 43), personal=("personal_number",),
)
TD2 = Format(
    "TD2", 2, 36,
    _line2_td3_td2(36) + (FieldSpec("optional_data", 1, 28, 35, "optional"),),
    composite=((1, 0, 10), (1, 13, 20), (1, 21, 35)), composite_check=(1, 35), personal=("optional_data",),
)
TD1 = Format(
    "TD1", 3, 30,
    (
        FieldSpec("document_code", 0, 0, 2, "code"),
        FieldSpec("issuing_state", 0, 2, 5, "alpha"),
        FieldSpec("document_number", 0, 5, 14, "alnum", check=14),
        FieldSpec("optional_data_1", 0, 15, 30, "optional"),
        FieldSpec("birth_date", 1, 0, 6, "num", check=6),
        FieldSpec("sex", 1, 7, 8, "sex"),
        FieldSpec("expiry_date", 1, 8, 14, "num", check=14),
        FieldSpec("nationality", 1, 15, 18, "alpha"),
        FieldSpec("optional_data_2", 1, 18, 29, "optional"),
        FieldSpec("name", 2, 0, 30, "name"),
    ),
    composite=((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)), composite_check=(1, 29),
    personal=("optional_data_1", "optional_data_2"),
)
FORMATS = (TD3, TD2, TD1)
_BY_NAME = {f.name: f for f in FORMATS}

# Where personal numbers live, per format: (line index, start, end) half-open, 0-based.
PERSONAL_FIELDS = {
    f.name: [(s.line, s.start, s.end) for s in f.fields if s.name in f.personal] for f in FORMATS
}
CHECKED_FIELDS = ("document_number", "birth_date", "expiry_date")

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MrzField:
    line: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class CellFit:
    """Cell centres of one MRZ line: x(i) and y(i) as polynomials in the cell index i,
    and the character height. Fitted on OCR character boxes, so it follows skew and
    perspective."""

    x: tuple[float, ...]  # numpy polyfit coefficients, highest power first
    y: tuple[float, ...]
    char_height: float

    def centre(self, i: float) -> tuple[float, float]:
        return float(np.polyval(self.x, i)), float(np.polyval(self.y, i))

    def pitch(self, i: float) -> float:
        return abs(float(np.polyval(np.polyder(self.x), i))) if len(self.x) > 1 else 0.0


# Black out this much more than the cells themselves: a fraction of a cell each side, and
# generous vertically (OCR character boxes are often cut at the ascender/descender).
CELL_MARGIN = 0.5
VERTICAL_MARGIN = 0.35
# A line counts as well read with at least this share of the best-read line's matched characters.
BEST_READ_SHARE = 0.8


@dataclass(frozen=True)
class MrzResult:
    format: str  # TD1, TD2, TD3
    lines: tuple[str, ...]  # repaired, exactly the format's length
    line_boxes: tuple[Box, ...]  # in upright page coordinates, one per MRZ line
    source_lines: tuple[TextLine, ...]  # every OCR line (fragment) the MRZ was read from
    document_code: str
    issuing_state: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: str  # YYMMDD
    sex: str
    expiry_date: str  # YYMMDD
    personal_fields: tuple[MrzField, ...]
    checks: dict[str, bool]
    fits: tuple[CellFit, ...] = ()  # one per line
    # Matched OCR character boxes per line: (cell index, box).
    char_cells: tuple[tuple[tuple[int, Box], ...], ...] = ()

    @property
    def valid(self) -> bool:
        return all(self.checks.values())

    @property
    def best_read_line(self) -> int:
        """The line whose cell fit is surest: of the lines with nearly the most OCR characters
        matched to cells, the one whose character pitch changes least along it. A fit pulled by
        a misread filler run squeezes or stretches one end (the Latvian specimen's name line:
        its pitch falls from 26.6 to 19.0 px while the line below keeps 24.5), whereas
        perspective changes every line alike."""
        matched = [len(self.char_cells[i]) if self.char_cells else 0 for i in range(len(self.lines))]
        candidates = [i for i in range(len(self.lines)) if matched[i] >= BEST_READ_SHARE * max(matched)]
        if not self.fits:
            return max(candidates, key=lambda i: matched[i])

        def unevenness(i: int) -> float:
            first, last = self.fits[i].pitch(0), self.fits[i].pitch(len(self.lines[i]) - 1)
            return abs(float(np.log(last / first))) if first > 0 and last > 0 else float("inf")

        return min(candidates, key=lambda i: (unevenness(i), -matched[i]))

    @property
    def personal_numbers(self) -> list[str]:
        """The value in each personal-number field. A single '<' inside is part of the number
        (the Finnish '211271<426U' is printed 211271-426U); '<<' ends it."""
        values = [f.text.strip("<").split("<<")[0].replace("<", "") for f in self.personal_fields]
        return [v for v in values if len(v) >= 4]

    def unverified_text(self) -> str:
        """The MRZ lines joined, with every field whose check digit passes (document number,
        birth and expiry date) and that digit replaced by filler: what is left could still
        hide a personal number. A BSN printed elsewhere whose digits happen to run through a
        verified date ('351222' holds '51222') is not one hidden in the MRZ."""
        fmt = _BY_NAME[self.format]
        rows = [list(line) for line in self.lines]
        for name in CHECKED_FIELDS:
            if self.checks.get(name):
                f = fmt.field(name)
                assert f.check is not None  # every CHECKED_FIELDS entry has a check digit
                for i in (*range(f.start, f.end), f.check):
                    rows[f.line][i] = "<"
        return "".join("".join(r) for r in rows)

    def cell_box(self, line: int, start: int, end: int) -> Box:
        """The box of character cells [start, end) of an MRZ line, with a safety margin.

        From the line's fitted cell centres (skew, perspective) plus the OCR boxes of the
        characters matched to those cells; the line box when nothing was fitted."""
        if not self.fits:
            return self.line_boxes[line]
        fit = self.fits[line]
        (xa, ya), (xb, yb) = fit.centre(start), fit.centre(end - 1)
        pa, pb = fit.pitch(start), fit.pitch(end - 1)
        half_h = fit.char_height * (0.5 + VERTICAL_MARGIN)
        box: Box = (
            min(xa, xb) - pa * (0.5 + CELL_MARGIN),
            min(ya, yb) - half_h,
            max(xa, xb) + pb * (0.5 + CELL_MARGIN),
            max(ya, yb) + half_h,
        )
        for i, char_box in self.char_cells[line] if self.char_cells else ():
            if start <= i < end:
                box = union(box, char_box)
        return box


@dataclass(frozen=True)
class MrzReading:
    """What the MRZ reader made of a page: the parsed zone (if any) and every MRZ-like line it
    could not read. Those lines may hold a personal number: black out their digit runs
    (`digit_run_boxes`) or send the document to review."""

    result: MrzResult | None
    unparsed: tuple[TextLine, ...] = ()


# --------------------------------------------------------------------------- step 1: lines

MRZ_CHARS = re.compile(r"[^A-Z0-9<]")


def _with_fillers(text: str) -> str:
    """`text` without spaces, with what OCR makes of a filler '<' read as one: a guillemet is
    two, '‹' and '≤' one ('≤' on an MRZ line tilted 8 degrees, 8 times in 44 cells)."""
    return text.replace(" ", "").replace("«", "<<").replace("‹", "<").replace("≤", "<")


def clean_line(text: str) -> str:
    """OCR text as MRZ characters: no spaces, filler look-alikes as fillers, anything else a filler."""
    return MRZ_CHARS.sub("<", _with_fillers(text.upper()))


def looks_like_mrz(text: str) -> bool:
    """Long, upper case, only MRZ characters, and filler or many digits."""
    raw = _with_fillers(text)
    if len(raw) < 26:
        return False
    valid = sum(1 for c in raw if c.isdigit() or "A" <= c <= "Z" or c == "<")
    return valid / len(raw) >= 0.9 and (raw.count("<") >= 2 or sum(c.isdigit() for c in raw) >= 12)


def _mrz_fragment(text: str) -> bool:
    """A short piece that may have been split off an MRZ line ('<<<<<84', 'LISELOTTE<<<')."""
    raw = _with_fillers(text)
    if len(raw) < 2:
        return False
    valid = sum(1 for c in raw if c.isdigit() or "A" <= c <= "Z" or c == "<")
    return valid == len(raw)


def _char_boxes(line: TextLine) -> list[Box]:
    """One box per character of `clean_line(line.text)`: OCR's own when it gave them, else
    spread evenly over the line box."""
    text = line.text.replace(" ", "")
    if len(line.chars) == len(line.text):
        raw = [b for c, b in zip(line.text, line.chars) if c != " "]
        boxes: list[Box] = []
        for c, b in zip(text, raw):
            if c == "«":  # two fillers in one glyph
                mid = (b[0] + b[2]) / 2
                boxes += [(b[0], b[1], mid, b[3]), (mid, b[1], b[2], b[3])]
            else:
                boxes.append(b)
        return boxes
    n = len(clean_line(line.text))
    x0, y0, x1, y1 = line.box
    w = (x1 - x0) / max(n, 1)
    return [(x0 + i * w, y0, x0 + (i + 1) * w, y1) for i in range(n)]


@dataclass(frozen=True)
class _Row:
    """One MRZ line as read: its text, a box per character, and the OCR lines it came from."""

    text: str
    chars: tuple[Box, ...]
    parts: tuple[TextLine, ...]

    @property
    def box(self) -> Box:
        b = self.parts[0].box
        for p in self.parts[1:]:
            b = union(b, p.box)
        return b

    @property
    def strong(self) -> bool:
        """MRZ-like on its own merits: some part is, or the parts together are (without the
        fillers put in their gaps) and each part holds a filler or a digit."""
        if any(looks_like_mrz(p.text) for p in self.parts):
            return True
        texts = [clean_line(p.text) for p in self.parts]
        return looks_like_mrz("".join(texts)) and all(re.search(r"[<0-9]", t) for t in texts)


def _centre_y(line: TextLine, x: float) -> float:
    """The middle of a line's characters at `x`: along its slant where OCR boxed them (on a
    capture 4 degrees askew, a filler run's piece 400 px on sits 28 px lower), else the middle
    of its box."""
    fit = centre_line(line.chars)
    if fit is not None:
        slope, at_zero = fit
        return slope * x + at_zero
    return (line.box[1] + line.box[3]) / 2


def _char_height(line: TextLine) -> float:
    """The height of a line's letters; a slanted line's box is taller by its slant."""
    return float(np.median([height(b) for b in line.chars])) if line.chars else height(line.box)


def _same_baseline(a: TextLine, b: TextLine) -> bool:
    x = (b.box[0] + b.box[2]) / 2
    return abs(_centre_y(a, x) - _centre_y(b, x)) < 0.5 * min(_char_height(a), _char_height(b))


def _merge_row(parts: list[TextLine]) -> _Row:
    """Fragments of one line, left to right; a gap of k cells between two fragments is k fillers
    (OCR splits a line where a run of '<' reads badly)."""
    parts = sorted(parts, key=lambda l: l.box[0])
    text, chars = "", []
    for part in parts:
        t, boxes = clean_line(part.text), _char_boxes(part)
        if len(boxes) != len(t):
            boxes = _char_boxes(TextLine(part.text, part.box, part.confidence, part.source))
        if chars:
            pitch = float(np.median([b[2] - b[0] for b in chars + boxes])) or 1.0
            gap = boxes[0][0] - chars[-1][2] if boxes else 0.0
            k = int(round(gap / pitch)) if gap > 0.6 * pitch else 0
            left = chars[-1][2]
            for j in range(k):
                chars.append((left + j * pitch, chars[-1][1], left + (j + 1) * pitch, chars[-1][3]))
            text += "<" * k
        text += t
        chars += boxes
    return _Row(text, tuple(chars), tuple(parts))


def _rows(lines: list[TextLine]) -> list[_Row]:
    """MRZ-like lines with the fragments on their baseline merged in, top to bottom."""
    strong = [l for l in lines if looks_like_mrz(l.text)]
    pieces = [l for l in lines if l not in strong and _mrz_fragment(l.text)]
    rows: list[list[TextLine]] = []
    for line in sorted(strong + pieces, key=lambda l: -len(l.text)):
        for row in rows:
            if _same_baseline(row[0], line) and not any(_overlaps_x(line, p) for p in row) and _near(row, line):
                row.append(line)
                break
        else:
            rows.append([line])
    merged = [_merge_row(r) for r in rows]
    return sorted((r for r in merged if r.strong), key=lambda r: r.box[1])


# The widest gap between two fragments of one MRZ line, in line heights: a run of unread
# filler (a dozen cells) fits; text printed elsewhere on the same baseline (a card's other
# side scanned beside it) does not.
MAX_FRAGMENT_GAP = 12


def _near(row: list[TextLine], line: TextLine) -> bool:
    x0, x1 = min(p.box[0] for p in row), max(p.box[2] for p in row)
    gap = max(x0 - line.box[2], line.box[0] - x1, 0.0)
    return gap <= MAX_FRAGMENT_GAP * height(row[0].box)


def _overlaps_x(a: TextLine, b: TextLine) -> bool:
    return min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]) > 0.3 * min(a.box[2] - a.box[0], b.box[2] - b.box[0])


def _attach_weak(group: list[_Row], lines: list[TextLine], used: set[int]) -> list[_Row]:
    """A name line OCR read without its filler is too short to look like an MRZ on its own
    ('DE<BRUIJN<<WILLEKE'); take it in when it sits right under or over the zone."""
    x0 = min(r.box[0] for r in group)
    h = float(np.median([height(r.box) for r in group]))
    out = list(group)
    for line in sorted(lines, key=lambda l: l.box[1]):
        if id(line) in used or not _mrz_fragment(line.text) or len(clean_line(line.text)) < 8:
            continue
        if abs(line.box[0] - x0) > 2 * h:
            continue
        top, bottom = out[0].box[1], out[-1].box[3]
        if 0 <= line.box[1] - bottom < 1.5 * h:
            out.append(_merge_row([line]))
        elif 0 <= top - line.box[3] < 1.5 * h:
            out.insert(0, _merge_row([line]))
    return out


def _groups(rows: list[_Row]) -> list[list[_Row]]:
    """Consecutive rows (top to bottom), each group one candidate zone."""
    groups: list[list[_Row]] = []
    for row in rows:
        h = height(row.box)
        if groups and row.box[1] - groups[-1][-1].box[3] < 2.5 * h:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


# --------------------------------------------------------------------------- step 3: repair

_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "Z": "2",
                           "S": "5", "B": "8", "G": "6", "A": "4", "<": "<"})
_TO_ALPHA = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A"})
# Pairs OCR confuses in mixed letter/digit fields; the check digit picks.
_AMBIGUOUS = {"0": "O", "O": "0", "1": "I", "I": "1", "8": "B", "B": "8", "5": "S", "S": "5", "2": "Z", "Z": "2",
              "6": "G", "G": "6", "D": "0", "Q": "0"}
# A round letter among digits ('H6Q8') reads as a zero: tried last in a document number.
_ROUND_LETTERS = "OQD"
# What OCR makes of a filler '<', and a field's tail that is filler read that way.
_FILLER_LOOKALIKES = "KCXEL"
# (K is worth 20 and so invisible to check digits: only the pattern can tell it from '<'.)
_TRAILING_FILLER = re.compile(
    f"(?:<[<{_FILLER_LOOKALIKES}]*|(?<=[0-9<])[{_FILLER_LOOKALIKES}]{{3,}}[<{_FILLER_LOOKALIKES}]*)(?=[0-9]?$)"
)
# Stands for a character OCR dropped: no check that covers it may pass.
_LOST = "?"


def _digits(s: str) -> str:
    return s.translate(_TO_DIGIT)


def _repair_filler(text: str, at_end: bool = True) -> str:
    """A lone character inside a run of filler ('<<<4<', '<<S<<K<K') is a misread '<'.
    `at_end`: also one that ends the text (a name line; not a field followed by others)."""
    pattern = r"(?<=<<)[A-Z0-9](?=<|$)" if at_end else r"(?<=<<)[A-Z0-9](?=<)"
    prev = None
    while prev != text:
        prev, text = text, re.sub(pattern, "<", text)
    return text


def _filler_runs(s: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"<+", s)]


def _length_candidates(s: str, n: int) -> Iterator[tuple[str, int]]:
    """Strings of exactly n characters OCR may have meant, with an edit cost. OCR drops or
    doubles fillers, and sometimes drops or adds one character anywhere."""
    d = len(s) - n
    if d == 0:
        yield s, 0
    elif d < 0:
        yield s + "<" * -d, 0  # trailing filler dropped: the usual case
    else:
        yield s[:n], 0 if set(s[n:]) <= set("<" + _FILLER_LOOKALIKES) else 2
    for a, b in _filler_runs(s):
        if d > 0 and b - a > d:
            yield s[:a] + "<" * (b - a - d) + s[b:], 1
        elif d < 0:
            yield s[:a] + "<" * (b - a - d) + s[b:], 1
    if d == 1:
        for i in range(len(s)):
            yield s[:i] + s[i + 1:], 2
    elif d == -1:
        for i in range(len(s) + 1):
            yield s[:i] + _LOST + s[i:], 2
    elif d == 0:
        # One character lost and one gained (e.g. a filler doubled, a digit dropped).
        for a, b in _filler_runs(s):
            if b - a >= 2:
                for i in range(a):
                    yield s[:i] + _LOST + s[i:a] + s[a + 1:], 3


def _flip_spots(value: str) -> list[int]:
    """Characters worth flipping: a letter next to a digit or a digit next to a letter, of a
    pair OCR confuses. Flipping anything anywhere would let a check digit (one chance in
    ten) confirm a wrong reading."""
    spots = []
    for i, c in enumerate(value):
        if c not in _AMBIGUOUS:
            continue
        near = value[max(0, i - 1): i] + value[i + 1: i + 2]
        if (c.isalpha() and any(n.isdigit() for n in near)) or (c.isdigit() and any(n.isalpha() for n in near)):
            spots.append(i)
    return spots


def _tiers(value: str, kind: Kind) -> list[list[str]]:
    """Readings of one field worth trying, in tiers of growing doubt. A check digit may pick
    a reading only when exactly one reading of the first tier that has any passes."""
    if kind == "num":
        return [[_digits(value)]]
    if kind == "alpha":
        return [[value.translate(_TO_ALPHA)]]
    if kind == "code":
        return [[value[:1].translate(_TO_ALPHA) + value[1:]]]
    if kind == "sex":
        return [[value if value in "MFX<" else "<"]]
    if kind == "name":
        # Padding read as a run of one letter ('LISELOTTECCCCCCCC<<<'): names hold no triples.
        padded = re.sub(r"([KCXEL])\1{2,}[<KCXEL]*$", lambda m: "<" * len(m.group()), value)
        return [[_repair_filler(padded)]]
    tiers = [[value]]
    if kind == "optional":
        # A lone character in a filler run, or trailing filler read as letters ('999999990KKKKK').
        lone = _repair_filler(value, at_end=False)
        trailing = re.sub(_TRAILING_FILLER, lambda m: "<" * len(m.group()), lone)
        # Filler read as letters is far likelier than a number ending in '<C<C<': try first.
        tiers = [[trailing], [value], sorted({lone} - {value, trailing})]
    spots = _flip_spots(value)[:6]
    for n_flips in (1, 2):
        tier = []
        for combo in itertools.combinations(spots, n_flips):
            v = list(value)
            for i in combo:
                v[i] = _AMBIGUOUS[v[i]]
            tier.append("".join(v))
        tiers.append(tier)
    if kind == "alnum":
        # Last: a zero between digits that was a round letter. The check digit alone may pick
        # one of these only when no other reading passes; the composite check then confirms.
        tiers.append([value[:i] + c + value[i + 1:] for i, d in enumerate(value) if d == "0" for c in _ROUND_LETTERS])
    return [t for t in tiers if t]


def _check_char(c: str) -> str:
    return _digits(c) if c != "<" else "<"


def _field_passes(value: str, cd: str) -> bool:
    if _LOST in value:
        return False
    if cd == "<":  # an empty optional field may have a filler for its check digit
        return value.strip("<") == ""
    return check_digit(value) == cd


def _pick(tiers: list[list[str]], passes) -> str | None:
    """The reading a check confirms: the first tier with a passing reading decides, and only
    when exactly one of its readings passes."""
    for tier in tiers:
        ok = {r for r in tier if passes(r)}
        if len(ok) == 1:
            return ok.pop()
        if ok:
            return None
    return None


def _repair_line(fmt: Format, idx: int, text: str) -> tuple[str, int]:
    """Repair one line field by field; checked fields take the reading their check digit
    confirms. Returns the line and how many of its own checks pass."""
    chars = list(text)
    passed = 0
    for f in fmt.fields:
        if f.line != idx:
            continue
        tiers = _tiers(text[f.start:f.end], f.kind)
        chosen = tiers[0][0]
        if f.check is not None:
            cd = _check_char(text[f.check])
            if cd.isdigit() or cd == "<":
                chars[f.check] = cd
            ok = _pick(tiers, lambda r: _field_passes(r, cd))
            if ok is not None:
                chosen, passed = ok, passed + 1
        chars[f.start:f.end] = chosen
    return "".join(chars), passed


def _composite(fmt: Format, lines: tuple[str, ...]) -> str:
    return "".join(lines[i][a:b] for i, a, b in fmt.composite)


def _plausibility(fmt: Format, lines: tuple[str, ...]) -> int:
    """Structure that holds on any real MRZ, to break ties between candidates."""
    score = 0
    f = fmt.field
    code = lines[0][0:2]
    score += code[0] in "PIACVD"
    score += lines[f("issuing_state").line][2:5].replace("<", "").isalpha()
    nat = f("nationality")
    score += lines[nat.line][nat.start:nat.end].replace("<", "").isalpha()
    for name in ("birth_date", "expiry_date"):
        s = f(name)
        v = lines[s.line][s.start:s.end]
        score += bool(re.fullmatch(r"\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", v))
    sx = f("sex")
    score += lines[sx.line][sx.start] in "MFX<"
    return score


@dataclass(frozen=True)
class _Candidate:
    fmt: Format
    rows: tuple[_Row, ...]
    lines: tuple[str, ...]
    checks: dict[str, bool]
    score: float


def _checks(fmt: Format, lines: tuple[str, ...]) -> dict[str, bool]:
    out = {}
    for name in CHECKED_FIELDS:
        f = fmt.field(name)
        assert f.check is not None  # every CHECKED_FIELDS entry has a check digit
        out[name] = _field_passes(lines[f.line][f.start:f.end], lines[f.line][f.check])
    li, pos = fmt.composite_check
    composite = _composite(fmt, lines)
    out["composite"] = _LOST not in composite and check_digit(composite) == lines[li][pos]
    return out


def _line_options(fmt: Format, idx: int, text: str, keep: int = 4) -> list[tuple[str, int, int]]:
    """The best few repairs of one line as (text, own checks passed, edit cost). Costlier edits
    are tried only while the cheap ones leave a check of the line failing."""
    own = sum(1 for f in fmt.fields if f.line == idx and f.check is not None)
    seen: dict[str, tuple[str, int, int]] = {}
    for cand, cost in sorted(_length_candidates(text, fmt.length), key=lambda c: c[1]):
        if cand in seen:
            continue
        if cost >= 2 and any(o[1] == own and o[2] < cost for o in seen.values()):
            break
        repaired, passed = _repair_line(fmt, idx, cand)
        seen[cand] = (repaired, passed, cost)
    return sorted(seen.values(), key=lambda o: (-o[1], o[2]))[:keep]


def _best_for(fmt: Format, rows: tuple[_Row, ...]) -> _Candidate | None:
    """The best repair of `rows` read as `fmt`, judged by check digits, then structure, then edits."""
    per_line = [_line_options(fmt, idx, row.text) for idx, row in enumerate(rows)]
    best: _Candidate | None = None
    for combo in itertools.product(*per_line):
        lines = tuple(o[0] for o in combo)
        lines = _fix_optional_by_composite(fmt, lines)
        checks = _checks(fmt, lines)
        lines = tuple(t.replace(_LOST, "<") for t in lines)
        score = 10 * sum(checks.values()) + _plausibility(fmt, lines) - sum(o[2] for o in combo)
        if best is None or score > best.score:
            best = _Candidate(fmt, rows, lines, checks, score)
    return best


def _fix_optional_by_composite(fmt: Format, lines: tuple[str, ...]) -> tuple[str, ...]:
    """Optional-data fields without their own check digit: filler and letter/digit confusions
    there are settled by the composite check digit."""
    li, pos = fmt.composite_check

    def with_field(f: FieldSpec, reading: str) -> tuple[str, ...]:
        trial = list(lines)
        trial[f.line] = trial[f.line][: f.start] + reading + trial[f.line][f.end:]
        return tuple(trial)

    if check_digit(_composite(fmt, lines)) == lines[li][pos]:
        return lines
    for name in fmt.personal:
        f = fmt.field(name)
        if f.check is not None:
            continue
        tiers = _tiers(lines[f.line][f.start:f.end], "optional")[1:]
        ok = _pick(tiers, lambda r: check_digit(_composite(fmt, with_field(f, r))) == lines[li][pos])
        if ok is not None:
            return with_field(f, ok)
    return lines


def _formats_for(rows: list[_Row]) -> Iterator[tuple[Format, tuple[_Row, ...]]]:
    """Every (format, window of consecutive rows) worth trying: OCR drops trailing filler, so
    the longest line of the window tells the length."""
    for fmt in FORMATS:
        for i in range(len(rows) - fmt.n_lines + 1):
            window = tuple(rows[i: i + fmt.n_lines])
            longest = max(len(r.text) for r in window)
            if fmt.length - 4 <= longest <= fmt.length + 3:
                yield fmt, window


# A candidate with fewer passing checks and less structure than this is no MRZ we can trust.
MIN_SCORE = 20


# --------------------------------------------------------------------------- step 4: geometry


def _align(row: _Row, repaired: str) -> list[tuple[int, Box]]:
    """(cell index, OCR character box) for every character of the OCR text that the repaired
    line keeps; alignment by matching text, so dropped or extra characters do not shift cells."""
    sm = difflib.SequenceMatcher(None, row.text, repaired, autojunk=False)
    out = []
    for a, b, size in sm.get_matching_blocks():
        out += [(b + k, row.chars[a + k]) for k in range(size) if a + k < len(row.chars)]
    return out


def _fit(pairs: list[tuple[int, Box]], n: int) -> CellFit | None:
    """Cell centres as a function of the cell index: straight when few characters are known,
    quadratic (perspective) when they span most of the line. Outliers (a character aligned
    to the wrong cell) are dropped and the fit redone."""
    if len(pairs) < 4:
        return None
    idx = np.array([p[0] for p in pairs], float)
    cx = np.array([(p[1][0] + p[1][2]) / 2 for p in pairs])
    cy = np.array([(p[1][1] + p[1][3]) / 2 for p in pairs])
    hs = np.array([p[1][3] - p[1][1] for p in pairs])
    keep = np.ones(len(idx), bool)
    for _ in range(3):
        spread = idx[keep].max() - idx[keep].min()
        deg = 2 if keep.sum() >= 12 and spread >= 0.6 * n else 1
        if spread < 3:
            return None
        px = np.polyfit(idx[keep], cx[keep], deg)
        pitch = abs(np.polyval(np.polyder(px), idx)).mean()
        resid = np.abs(np.polyval(px, idx) - cx)
        new_keep = resid < 0.6 * pitch
        if new_keep.sum() < 4 or (new_keep == keep).all():
            break
        keep = new_keep
    py = np.polyfit(idx[keep], cy[keep], 1)
    return CellFit(tuple(px), tuple(py), float(np.median(hs[keep])))


# All lines of an MRZ share one pitch; a line fitted this much wider or narrower than the line
# with the most characters read was read garbled.
MAX_PITCH_DEVIATION = 0.25


def _drop_stretched(fits: list[CellFit | None], pairs: list[list[tuple[int, Box]]], n: int) -> list[CellFit | None]:
    """Fits whose pitch disagrees with the best-read line's, as not fitted. OCR that reads a
    line garbled and short ('P<DAEEE<FEME<<<<<<<' for 44 cells) spreads its few characters
    over the whole line: fitted, the cells come out twice as wide, and every box measured from
    that line (the layout's photo zones, its personal-number cells) lands in the wrong place."""
    fitted = [i for i, f in enumerate(fits) if f is not None]
    if len(fitted) < 2:
        return fits
    best = max(fitted, key=lambda i: len(pairs[i]))
    ref = fits[best].pitch((n - 1) / 2)
    return [
        f if f is None or i == best or abs(f.pitch((n - 1) / 2) - ref) <= MAX_PITCH_DEVIATION * ref else None
        for i, f in enumerate(fits)
    ]


def _fits(rows: tuple[_Row, ...], lines: tuple[str, ...]) -> tuple[tuple[CellFit, ...], tuple[tuple[tuple[int, Box], ...], ...]]:
    pairs = [_align(r, t) for r, t in zip(rows, lines)]
    fits = [_fit(p, len(t)) for p, t in zip(pairs, lines)]
    fits = _drop_stretched(fits, pairs, len(lines[0]))
    # A line with too few characters borrows the pitch of the best fitted line (all MRZ lines
    # share one left edge and pitch) and keeps its own height.
    ref = max((f for f in fits if f is not None), key=lambda f: len(f.x), default=None)
    out: list[CellFit] = []
    for f, row, t in zip(fits, rows, lines):
        if f is None:
            x0, y0, x1, y1 = row.box
            if ref is not None:
                f = CellFit(ref.x, (0.0, (y0 + y1) / 2), y1 - y0)
            else:
                pitch = (x1 - x0) / max(len(row.text), 1)
                f = CellFit((pitch, x0 + pitch / 2), (0.0, (y0 + y1) / 2), y1 - y0)
        out.append(f)
    return tuple(out), tuple(tuple(p) for p in pairs)


# --------------------------------------------------------------------------- reading


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    # Given names are separated by single fillers; a second '<<' starts the padding.
    words = [w for w in given.split("<<")[0].split("<") if w]
    # OCR turns runs of filler into stray letters ("<<S<<K<K"); names are not single letters.
    while words and len(words[-1]) == 1:
        words.pop()
    return surname.replace("<", " ").strip(), " ".join(words)


def _result(c: _Candidate) -> MrzResult:
    fmt, t = c.fmt, c.lines

    def val(name: str) -> str:
        f = fmt.field(name)
        return t[f.line][f.start:f.end]

    surname, given = _name(val("name"))
    fits, cells = _fits(c.rows, t)
    return MrzResult(
        format=fmt.name,
        lines=t,
        line_boxes=tuple(r.box for r in c.rows),
        source_lines=tuple(p for r in c.rows for p in r.parts),
        document_code=val("document_code").replace("<", ""),
        issuing_state=val("issuing_state").replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=val("document_number").replace("<", ""),
        nationality=val("nationality").replace("<", ""),
        birth_date=val("birth_date"),
        sex=val("sex"),
        expiry_date=val("expiry_date"),
        personal_fields=tuple(
            MrzField(f.line, f.start, f.end, t[f.line][f.start:f.end]) for f in fmt.fields if f.name in fmt.personal
        ),
        checks=c.checks,
        fits=fits,
        char_cells=cells,
    )


def _is_licence_line(row: _Row) -> bool:
    """The one-line code of an EU driving licence (ISO 18013, 'D1NLD...'): no personal number."""
    return bool(re.match(r"D[0-9A-Z][A-Z]{3}", row.text)) and 28 <= len(row.text) <= 32


def read(lines: list[TextLine]) -> MrzReading:
    """The MRZ among OCR lines (upright coordinates), and the MRZ-like lines it could not read.

    The best-scoring zone wins (the bottom-most on a tie). Lines of that zone whose personal
    field could not be confirmed by a check digit are reported as unparsed as well."""
    rows = _rows(lines)
    used = {id(p) for r in rows for p in r.parts}
    best: _Candidate | None = None
    for group in _groups(rows):
        group = _attach_weak(group, lines, used)
        for fmt, window in _formats_for(group):
            cand = _best_for(fmt, window)
            if cand is not None and cand.score >= MIN_SCORE and (best is None or cand.score >= best.score):
                best = cand
    result = _result(best) if best is not None else None
    taken = {id(p) for r in (best.rows if best else ()) for p in r.parts}
    unparsed = [p for r in rows if not _is_licence_line(r) for p in r.parts if id(p) not in taken and r.strong]
    if best is not None and not all(best.checks.values()):
        # A failed check may mean shifted cells: the personal field is not where we think.
        # Unless the field reads as filler only (the Dutch 2021 models): a number shifted by
        # a cell or two would still show most of its digits inside the field.
        doubtful = {
            f.line for f in (best.fmt.field(name) for name in best.fmt.personal)
            if best.lines[f.line][f.start:f.end].strip("<")
        }
        unparsed += [p for i in sorted(doubtful) for p in best.rows[i].parts]
    return MrzReading(result=result, unparsed=tuple(unparsed))


def parse(lines: list[TextLine]) -> MrzResult | None:
    """The MRZ among OCR lines, or None (kept for callers that do not handle unparsed lines)."""
    return read(lines).result


def digit_run_boxes(line: TextLine, min_digits: int = 2) -> list[Box]:
    """Boxes (with a margin of half a character) around the runs of digits in an OCR line,
    letters OCR confuses with digits included when they sit between digits. For blacking out
    an MRZ-like line that could not be read."""
    text = clean_line(line.text)
    boxes = _char_boxes(line)
    if len(boxes) != len(text):
        boxes = _char_boxes(TextLine(line.text, line.box, line.confidence, line.source))
    out: list[Box] = []
    for m in re.finditer(r"[0-9](?:[0-9OQDILZSBG]*[0-9])?", text):
        a, b = m.span()
        if sum(c.isdigit() for c in m.group()) < min_digits:
            continue
        sel = boxes[a:b]
        w = float(np.median([bx[2] - bx[0] for bx in sel]))
        h = max(bx[3] - bx[1] for bx in sel)
        out.append((
            min(bx[0] for bx in sel) - w / 2,
            min(bx[1] for bx in sel) - VERTICAL_MARGIN * h,
            max(bx[2] for bx in sel) + w / 2,
            max(bx[3] for bx in sel) + VERTICAL_MARGIN * h,
        ))
    return out


def yymmdd_to_date(s: str, *, future: bool) -> date | None:
    """MRZ dates have two-digit years: expiry dates lie ahead, birth dates behind."""
    if not re.fullmatch(r"\d{6}", s):
        return None
    yy, mm, dd = int(s[:2]), int(s[2:4]), int(s[4:6])
    today = date.today()
    century = 2000 if future or yy <= today.year % 100 else 1900
    if future and 2000 + yy > today.year + 20:
        century = 1900
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        return None
