"""ICAO 9303 machine readable zone: check digits, parsing, and where each field sits."""

from __future__ import annotations


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


import re
from dataclasses import dataclass
from datetime import date

from redactor.core import Box, TextLine
from redactor.geometry import union

MRZ_CHARS = re.compile(r"[^A-Z0-9<]")

# (line count, line length) -> format name
FORMATS = {(2, 44): "TD3", (3, 30): "TD1", (2, 36): "TD2"}

# Where personal numbers live, per format: (line index, start, end) half-open, 0-based.
# TD3: personal number field; TD1: both optional-data fields; TD2: optional data.
PERSONAL_FIELDS = {
    "TD3": [(1, 28, 42)],
    "TD1": [(0, 15, 30), (1, 18, 29)],
    "TD2": [(1, 28, 35)],
}


@dataclass(frozen=True)
class MrzField:
    line: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class MrzResult:
    format: str  # TD1, TD2, TD3
    lines: tuple[str, ...]  # cleaned, padded to the format's length
    line_boxes: tuple[Box, ...]  # in upright page coordinates
    source_lines: tuple[TextLine, ...]
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

    @property
    def valid(self) -> bool:
        return all(self.checks.values())

    @property
    def personal_numbers(self) -> list[str]:
        """The value in each personal-number field. A single '<' inside is part of the number
        (the Finnish '211271<426U' is printed 211271-426U); '<<' ends it."""
        values = [f.text.strip("<").split("<<")[0].replace("<", "") for f in self.personal_fields]
        return [v for v in values if len(v) >= 4]

    def cell_box(self, line: int, start: int, end: int) -> Box:
        """The box of character cells [start, end) of an MRZ line.

        OCR-B is monospaced and all MRZ lines share one left edge and one pitch, so the
        pitch comes from the line OCR read most completely (OCR often drops trailing
        filler from a line, which would stretch its cells)."""
        n = len(self.lines[line])
        ref = max(range(len(self.source_lines)), key=lambda i: min(len(clean_line(self.source_lines[i].text)), n))
        rx0, _, rx1, _ = self.line_boxes[ref]
        pitch = (rx1 - rx0) / min(len(clean_line(self.source_lines[ref].text)), n) if self.source_lines[ref].text else 0
        x0 = min(b[0] for b in self.line_boxes)
        _, y0, _, y1 = self.line_boxes[line]
        uniform = (x0 + start * pitch, y0, x0 + end * pitch, y1)
        src = self.source_lines[line]
        # Per-character boxes are exact when OCR read exactly the right number of characters.
        if len(src.chars) == n and len(src.text) == n:
            return union(uniform, src.span_box(start, end))
        return uniform


def clean_line(text: str) -> str:
    t = text.upper().replace(" ", "").replace("«", "<<").replace("‹", "<")
    return MRZ_CHARS.sub("<", t)


def looks_like_mrz(text: str) -> bool:
    """Long, upper case, only MRZ characters, and filler or many digits."""
    raw = text.replace(" ", "").replace("«", "<<")
    if len(raw) < 26:
        return False
    valid = sum(1 for c in raw if c.isdigit() or "A" <= c <= "Z" or c == "<")
    return valid / len(raw) >= 0.9 and (raw.count("<") >= 2 or sum(c.isdigit() for c in raw) >= 12)


def _fit(line: str, n: int) -> str:
    return line[:n] if len(line) >= n else line + "<" * (n - len(line))


_TO_DIGIT = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"})


def _digits(s: str) -> str:
    return s.translate(_TO_DIGIT)


def _check(field: str, digit: str) -> bool:
    return check_digit(field) == _digits(digit)


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    words = [w for w in given.split("<") if w]
    # OCR turns runs of filler into stray letters ("<<S<<K<K"); names are not single letters.
    while words and len(words[-1]) == 1:
        words.pop()
    return surname.replace("<", " ").strip(), " ".join(words)


def _repair_filler(line: str) -> str:
    """A lone character inside a run of filler ('<<<4<') is almost always a misread '<'."""
    return re.sub(r"(?<=<<)[A-Z0-9](?=<)", "<", line)


def _group(lines: list[TextLine]) -> list[list[TextLine]]:
    """Consecutive MRZ-like lines (top to bottom), each group one candidate zone."""
    cands = sorted((l for l in lines if looks_like_mrz(l.text)), key=lambda l: l.box[1])
    groups: list[list[TextLine]] = []
    for line in cands:
        h = line.box[3] - line.box[1]
        if groups and line.box[1] - groups[-1][-1].box[3] < 2.5 * h:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _format_for(group: list[TextLine]) -> tuple[str, int] | None:
    """TD1 has three lines of 30, TD2 two of 36, TD3 two of 44. OCR drops trailing filler,
    so the longest line tells the length."""
    n = len(group)
    longest = max(len(clean_line(l.text)) for l in group)
    if n >= 3:
        return "TD1", 30
    if n == 2 and longest > 32:
        return ("TD3", 44) if longest > 40 else ("TD2", 36)
    return None  # one line, or two short ones: a TD1 missing a line is no MRZ we can trust


def parse(lines: list[TextLine]) -> MrzResult | None:
    """The MRZ among OCR lines (upright coordinates), or None. The bottom-most zone wins."""
    for group in reversed(_group(lines)):
        fmt = _format_for(group)
        if fmt is None:
            continue
        name, n = fmt
        group = group[-3:] if name == "TD1" else group[-2:]
        texts = tuple(_fit(clean_line(l.text), n) for l in group)
        return _parse_fields(name, texts, group)
    return None


def _parse_fields(fmt: str, t: tuple[str, ...], group: list[TextLine]) -> MrzResult:
    if fmt == "TD1":
        l1, l2, l3 = t
        doc, state, number, num_cd = l1[0:2], l1[2:5], l1[5:14], l1[14]
        birth, birth_cd, sex, expiry, exp_cd, nat = l2[0:6], l2[6], l2[7], l2[8:14], l2[14], l2[15:18]
        surname, given = _name(l3)
        composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
        comp_cd = l2[29]
    else:
        l1, l2 = t
        doc, state = l1[0:2], l1[2:5]
        surname, given = _name(l1[5:])
        number, num_cd, nat = l2[0:9], l2[9], l2[10:13]
        birth, birth_cd, sex, expiry, exp_cd = l2[13:19], l2[19], l2[20], l2[21:27], l2[27]
        if fmt == "TD3":
            composite, comp_cd = l2[0:10] + l2[13:20] + l2[21:43], l2[43]
        else:
            composite, comp_cd = l2[0:10] + l2[13:20] + l2[21:35], l2[35]
    l_fixed = _repair_filler(t[-1] if fmt != "TD1" else t[0])
    if fmt != "TD1" and l_fixed != t[-1]:
        t = (t[0], l_fixed)
        l2 = l_fixed
        composite = l2[0:10] + l2[13:20] + l2[21:43] if fmt == "TD3" else l2[0:10] + l2[13:20] + l2[21:35]
    checks = {
        "document_number": _check(number, num_cd),
        "birth_date": _check(_digits(birth), birth_cd),
        "expiry_date": _check(_digits(expiry), exp_cd),
        "composite": _check(composite[:10] + _digits(composite[10:]), comp_cd) or _check(composite, comp_cd),
    }
    fields = tuple(MrzField(i, a, b, t[i][a:b]) for i, a, b in PERSONAL_FIELDS[fmt])
    return MrzResult(
        format=fmt,
        lines=t,
        line_boxes=tuple(l.box for l in group),
        source_lines=tuple(group),
        document_code=doc.replace("<", ""),
        issuing_state=state.replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=number.replace("<", ""),
        nationality=nat.replace("<", ""),
        birth_date=_digits(birth),
        sex=sex,
        expiry_date=_digits(expiry),
        personal_fields=fields,
        checks=checks,
    )


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
