"""Deterministic generator of synthetic Dutch identity documents with exact ground truth.

    .venv/bin/python sample_docs/generate.py --seed 7 --out sample_docs

Every Dutch generation and side of the table in ../shared/docs/id-documents.md, in the capture
styles seen in practice (flatbed, low resolution, phone photo, skew, quarter turns, EXIF
orientation, PDF with and without an OCR text layer, HEIC/WebP/TIFF), plus foreign documents
and letters that are no identity document.

Everything is drawn here (Pillow, OpenCV, numpy, PyMuPDF, segno for QR codes); the only image
source is scikit-image's bundled ``astronaut`` photo, the only fonts are Debian's DejaVu. Every
personal number, portrait, QR code and field that must stay readable is recorded while it is
drawn and carried as a quadrilateral through every later step (placement on the scanner bed,
skew, rotation, EXIF orientation, perspective warp, downscaling, PDF placement), so the boxes
written to ``annotations.json`` are exact. Same seed -> same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import io
import json
import math
import random
import sys
import zlib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pymupdf
import segno
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from redactor.mrz import check_digit  # noqa: E402

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FACES = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
CAP_HEIGHT = 1493 / 2048  # DejaVu cap height as a fraction of the em
MRZ_PITCH_MM = 2.54  # ICAO 9303: 10 characters per inch
MRZ_CAP_MM = 2.5  # OCR-B size 1 characters are 2.0-3.0 mm tall
MM_PER_INCH = 25.4
PT_PER_INCH = 72.0
INK = (22, 22, 30)
LABEL_INK = (70, 70, 105)
TD3_MM = (125.0, 88.0)
ID1_MM = (85.6, 54.0)
A4_MM = (210.0, 297.0)
A4_PT = (595.0, 842.0)
JPEG_QUALITY = 88

Point = Callable[[np.ndarray], np.ndarray]  # maps (N, 2) continuous pixel coordinates


# --------------------------------------------------------------------------- data


@dataclass
class Mark:
    """Something the ground truth talks about, as a quadrilateral in continuous pixel coordinates."""

    role: str  # "portrait" | "personal_number" | "keep" | "qr"
    kind: str  # portrait: main/ghost; personal_number: viz/mrz/text_layer; keep: field name; qr: "bsn"
    text: str
    quad: np.ndarray  # (4, 2): top-left, top-right, bottom-right, bottom-left before any warp


@dataclass
class Run:
    """One printed string, kept so a PDF can carry it as hidden OCR text."""

    text: str
    origin: np.ndarray  # baseline-left point, (1, 2)
    size_px: float
    mono: bool
    width_px: float  # from the origin to the right end of the ink


@dataclass
class Sheet:
    image: Image.Image
    marks: list[Mark] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    mrz: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    surname: str
    given_names: str
    birth: date
    birth_place: str
    height: str
    bsn: str
    doc_number: str
    issue: date
    expiry: date
    authority: str


@dataclass(frozen=True)
class PassportModel:
    """A passport data page model: where its BSN (or foreign personal number) is."""

    name: str  # "pre2014" | "2014" | "2021" | "UTO"
    state: str
    paper: tuple[int, int, int]
    lines: tuple[tuple[int, int, int], ...]
    ghost: bool
    bsn_printed: bool  # in the visual zone ("Persoonsnummer / Personal No.")
    bsn_in_mrz: bool  # in MRZ line 2, positions 29-42
    grey_portrait: bool
    number_format: Callable[[str], str]


@dataclass
class Entry:
    """One generated file and its ground truth (boxes already in output units)."""

    file: str
    kind: str
    country: str | None
    expected_status: str
    surname: str | None
    portraits: list[dict]
    personal_numbers: list[dict]
    keep_fields: list[dict]
    qr_codes: list[dict]
    mrz: list[str]
    notes: str
    size: list[float]
    generation: str | None = None
    capture: str = "flatbed"
    rotation: int = 0  # the content is turned this many degrees clockwise, as displayed
    box_precision: str = "exact"  # "warped": boxes are bounding boxes of tilted quadrilaterals
    box_units: str | None = None

    def as_json(self) -> dict:
        out: dict = {"file": self.file, "kind": self.kind, "generation": self.generation, "country": self.country,
                     "expected_status": self.expected_status, "surname": self.surname, "capture": self.capture,
                     "rotation": self.rotation, "box_precision": self.box_precision}
        if self.box_units:
            out["box_units"] = self.box_units
        out.update(size=self.size, portraits=self.portraits, personal_numbers=self.personal_numbers,
                   qr_codes=self.qr_codes, keep_fields=self.keep_fields)
        if self.mrz:
            out["mrz"] = self.mrz
        out["notes"] = self.notes
        return out


# --------------------------------------------------------------------------- values


SURNAMES = ["DE BRUIJN", "JANSEN", "VISSER", "DE VRIES", "VAN DEN BERG", "BAKKER", "SMIT",
            "MEIJER", "MULDER", "BOS", "VAN DIJK", "DEKKER", "HENDRIKS", "VAN LEEUWEN"]
GIVEN = ["Willeke Liselotte", "Anna Maria", "Sanne", "Johanna Petronella", "Femke",
         "Eva Catharina", "Maartje", "Ingrid Sophie", "Lotte", "Marieke Johanna"]
PLACES = ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen", "Zwolle", "Leiden",
          "Haarlem", "Delft", "Arnhem"]
MONTHS_NL = ["JAN", "FEB", "MAA", "APR", "MEI", "JUN", "JUL", "AUG", "SEP", "OKT", "NOV", "DEC"]
MONTHS_EN = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DOC_LETTERS = "ABCDEFGHIJKLMNPQRSTUVWXYZ"  # Dutch document numbers never use the letter O
SPECIMEN_BSN = "999999990"


def make_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the elfproef."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        last = sum(w * d for w, d in zip(range(9, 1, -1), digits)) % 11
        if last < 10:
            return "".join(map(str, digits)) + str(last)


def make_doc_number(rng: random.Random) -> str:
    """9 characters like NXC3FR1K2: two letters, six letters/digits, one digit."""
    middle = DOC_LETTERS + "0123456789"
    return ("".join(rng.choice(DOC_LETTERS) for _ in range(2))
            + "".join(rng.choice(middle) for _ in range(6)) + str(rng.randint(0, 9)))


def make_licence_number(rng: random.Random) -> str:
    """10 digits, the first not 0 (driving licence field 5)."""
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def random_date(rng: random.Random, first_year: int, last_year: int) -> date:
    year = rng.randint(first_year, last_year)
    month = rng.randint(1, 12)
    return date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))


def make_person(rng: random.Random, issue_years: tuple[int, int], bsn: str | None = None) -> Person:
    issue = random_date(rng, *issue_years)
    place = rng.choice(PLACES)
    return Person(
        surname=rng.choice(SURNAMES), given_names=rng.choice(GIVEN),
        birth=random_date(rng, 1950, 2004), birth_place=place,
        height=f"1,{rng.randint(58, 84)} m", bsn=bsn or make_bsn(rng),
        doc_number=make_doc_number(rng), issue=issue, expiry=ten_years_later(issue),
        authority=f"Burg. van {place}")


def ten_years_later(d: date) -> date:
    return date(d.year + 10, d.month, min(d.day, calendar.monthrange(d.year + 10, d.month)[1]))


def nl_date(d: date) -> str:
    """Dutch travel-document style: 10 MAA/MAR 1965."""
    return f"{d.day:02d} {MONTHS_NL[d.month - 1]}/{MONTHS_EN[d.month - 1]} {d.year}"


def dotted_date(d: date) -> str:
    return f"{d.day:02d}.{d.month:02d}.{d.year}"


def yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def grouped(number: str, sizes: tuple[int, ...], sep: str) -> str:
    """'999999990', (4, 2, 3), '.' -> '9999.99.990'."""
    parts, i = [], 0
    for n in sizes:
        parts.append(number[i:i + n])
        i += n
    return sep.join(parts + ([number[i:]] if i < len(number) else []))


# --------------------------------------------------------------------------- MRZ


def mrz_name(surname: str, given: str, width: int) -> str:
    def clean(s: str) -> str:
        return "".join(c if c.isalpha() else "<" for c in s.upper().replace("'", ""))
    return (clean(surname) + "<<" + clean(given)).ljust(width, "<")[:width]


def td3(state: str, p: Person, personal: str) -> tuple[list[str], int]:
    """Passport MRZ; returns the lines and the 0-based offset of the personal number in line 2."""
    line1 = ("P<" + state + mrz_name(p.surname, p.given_names, 39))[:44]
    field14 = personal.ljust(14, "<")
    personal_cd = check_digit(field14) if personal else "<"
    head = p.doc_number + check_digit(p.doc_number) + state + yymmdd(p.birth) + check_digit(yymmdd(p.birth))
    head += "F" + yymmdd(p.expiry) + check_digit(yymmdd(p.expiry))
    line2 = head + field14 + personal_cd
    line2 += check_digit(line2[0:10] + line2[13:20] + line2[21:43])
    return [line1, line2], 28


def td1(state: str, p: Person, personal: str) -> tuple[list[str], int]:
    """ID card MRZ; the Dutch 2014 card puts the BSN (+ its check digit) in line 1 optional data."""
    optional = personal.ljust(14, "<") + check_digit(personal.ljust(14, "<")) if personal else "<" * 15
    line1 = "I<" + state + p.doc_number + check_digit(p.doc_number) + optional
    line2 = yymmdd(p.birth) + check_digit(yymmdd(p.birth)) + "F" + yymmdd(p.expiry)
    line2 += check_digit(yymmdd(p.expiry)) + state + "<" * 11
    line2 += check_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    return [line1, line2, mrz_name(p.surname, p.given_names, 30)], 15


def licence_code(licence_no: str) -> str:
    """The one-line code of the newest Dutch driving licence: D1NLD, the licence number, filler,
    a check digit; 30 characters, no BSN."""
    body = ("D1NLD" + licence_no).ljust(29, "<")
    return body + check_digit(body)


# --------------------------------------------------------------------------- geometry


def rect_quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def mapped(sheet: Sheet, image: Image.Image, fn: Point) -> Sheet:
    """The same sheet after a geometric change of its pixels; fn maps old to new coordinates."""
    return Sheet(image=image,
                 marks=[replace(m, quad=fn(m.quad)) for m in sheet.marks],
                 runs=[replace(r, origin=fn(r.origin)) for r in sheet.runs],
                 mrz=list(sheet.mrz))


def rotate(sheet: Sheet, degrees_cw: int) -> Sheet:
    """Rotate the pixels clockwise by 90/180/270 degrees, carrying every mark along."""
    w, h = sheet.image.size
    if degrees_cw == 90:
        return mapped(sheet, sheet.image.transpose(Image.Transpose.ROTATE_270),
                      lambda q: np.stack([h - q[:, 1], q[:, 0]], axis=1))
    if degrees_cw == 180:
        return mapped(sheet, sheet.image.transpose(Image.Transpose.ROTATE_180),
                      lambda q: np.stack([w - q[:, 0], h - q[:, 1]], axis=1))
    if degrees_cw == 270:
        return mapped(sheet, sheet.image.transpose(Image.Transpose.ROTATE_90),
                      lambda q: np.stack([q[:, 1], w - q[:, 0]], axis=1))
    raise ValueError(degrees_cw)


def outer_box(quad: np.ndarray, limit: tuple[float, float], step: float = 1.0) -> list[float]:
    """Axis-aligned box around a quad, rounded outwards to `step`, clipped to the image."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    def down(v: float) -> float:
        return math.floor(v / step + 1e-9) * step
    def up(v: float) -> float:
        return math.ceil(v / step - 1e-9) * step
    box = [max(0.0, down(x0)), max(0.0, down(y0)), min(limit[0], up(x1)), min(limit[1], up(y1))]
    if step == 1.0:
        return [int(v) for v in box]
    return [round(v, 2) for v in box]


# --------------------------------------------------------------------------- drawing


class Painter:
    """Draws one document at `ppmm` pixels per millimetre, recording marks and text runs."""

    def __init__(self, size_mm: tuple[float, float], ppmm: float, paper: tuple[int, int, int]):
        self.ppmm = ppmm
        self.image = Image.new("RGB", (round(size_mm[0] * ppmm), round(size_mm[1] * ppmm)), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.marks: list[Mark] = []
        self.runs: list[Run] = []
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}

    def px(self, mm: float) -> float:
        return mm * self.ppmm

    def font(self, face: str, size_px: int) -> ImageFont.FreeTypeFont:
        key = (face, size_px)
        if key not in self._fonts:
            # BASIC layout: no dependency on whether libraqm is installed, so output is stable.
            self._fonts[key] = ImageFont.truetype(str(FONT_DIR / FACES[face]), size_px,
                                                  layout_engine=ImageFont.Layout.BASIC)
        return self._fonts[key]

    def cap_font(self, face: str, cap_mm: float) -> ImageFont.FreeTypeFont:
        return self.font(face, max(6, round(self.px(cap_mm) / CAP_HEIGHT)))

    def text(self, x_mm: float, base_mm: float, text: str, *, face: str = "sans", cap_mm: float = 2.0,
             fill: tuple[int, int, int] = INK, mark: tuple[str, str] | None = None,
             mark_text: str | None = None) -> tuple[int, int, int, int]:
        """Draw text with its baseline at base_mm; return (and optionally mark) its exact ink box."""
        font = self.cap_font(face, cap_mm)
        origin = (round(self.px(x_mm)), round(self.px(base_mm)))
        self.draw.text(origin, text, font=font, fill=fill, anchor="ls")
        box = ink_box(font, origin[0], origin[1], text)
        self.runs.append(Run(text, np.array([origin], dtype=float), font.size, face == "mono", box[2] - origin[0]))
        if mark:
            self.marks.append(Mark(mark[0], mark[1], mark_text or text, rect_quad(*box)))
        return box

    def label_value(self, x_mm: float, base_mm: float, label: str, value: str, *, cap_mm: float,
                    mark: tuple[str, str] | None = None, gap_mm: float | None = None,
                    face: str = "sans") -> tuple[int, ...]:
        self.text(x_mm, base_mm, label, cap_mm=0.95, fill=LABEL_INK)
        return self.text(x_mm, base_mm + (gap_mm or cap_mm + 1.7), value, cap_mm=cap_mm, mark=mark, face=face)

    def mrz(self, x_mm: float, baselines_mm: list[float], lines: list[str],
            spans: list[tuple[int, int, int, str, str]]) -> None:
        """Print MRZ lines cell by cell at 10 characters per inch, glyphs about 2.5 mm tall like OCR-B.

        spans = (line index, start, end, role, kind): those cells become one mark (a personal
        number, or an MRZ part that must stay readable), its text the characters of the cells.
        """
        pitch = self.px(MRZ_PITCH_MM)
        font = self.cap_font("mono", MRZ_CAP_MM)
        cells: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        for i, (line, base) in enumerate(zip(lines, baselines_mm)):
            x0, y = self.px(x_mm), round(self.px(base))
            for j, ch in enumerate(line):
                ox = x0 + j * pitch + (pitch - font.getlength(ch)) / 2  # centre the glyph in its cell
                self.draw.text((ox, y), ch, font=font, fill=(15, 15, 20), anchor="ls")
                cells[(i, j)] = ink_box(font, ox, y, ch)
            # Courier's advance is 0.6 em: this size gives the hidden PDF text the same pitch
            self.runs.append(Run(line, np.array([[x0, y]], dtype=float), pitch / 0.6, True, len(line) * pitch))
        for i, start, end, role, kind in spans:
            sel = [cells[(i, j)] for j in range(start, end)]
            box = (min(c[0] for c in sel), min(c[1] for c in sel), max(c[2] for c in sel), max(c[3] for c in sel))
            self.marks.append(Mark(role, kind, lines[i][start:end], rect_quad(*box)))

    def qr(self, x_mm: float, y_mm: float, size_mm: float, payload: str) -> None:
        """A QR code (segno) with a white quiet zone; the mark is the symbol without the quiet zone."""
        matrix = segno.make(payload, error="m", micro=False).matrix
        n = len(matrix)
        module = max(2, round(self.px(size_mm) / n))  # whole pixels per module: crisp edges
        x0, y0 = round(self.px(x_mm)), round(self.px(y_mm))
        quiet = 4 * module
        self.draw.rectangle((x0 - quiet, y0 - quiet, x0 + n * module + quiet - 1, y0 + n * module + quiet - 1),
                            fill=(252, 252, 252))
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    self.draw.rectangle((x0 + c * module, y0 + r * module,
                                         x0 + (c + 1) * module - 1, y0 + (r + 1) * module - 1), fill=(10, 10, 15))
        self.marks.append(Mark("qr", "bsn", payload, rect_quad(x0, y0, x0 + n * module, y0 + n * module)))

    def paste_portrait(self, face: Image.Image, x_mm: float, y_mm: float, w_mm: float, h_mm: float,
                       kind: str, opacity: float = 1.0) -> None:
        x0, y0 = round(self.px(x_mm)), round(self.px(y_mm))
        w, h = round(self.px(w_mm)), round(self.px(h_mm))
        photo = face.resize((w, h), Image.Resampling.LANCZOS)
        if opacity < 1.0:
            under = self.image.crop((x0, y0, x0 + w, y0 + h))
            photo = Image.blend(under, photo, opacity)
        self.image.paste(photo, (x0, y0))
        self.marks.append(Mark("portrait", kind, "", rect_quad(x0, y0, x0 + w, y0 + h)))


def ink_box(font: ImageFont.FreeTypeFont, x: float, y: float, text: str) -> tuple[int, int, int, int]:
    """Exact bounding box of the pixels `text` inks when drawn at baseline-left (x, y)."""
    ix, iy = math.floor(x), math.floor(y)
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    pad = 8
    mask = Image.new("L", (int(right - left) + 2 * pad, int(bottom - top) + 2 * pad))
    ImageDraw.Draw(mask).text((pad - left + (x - ix), pad - top + (y - iy)), text, font=font,
                              fill=255, anchor="ls")
    bb = mask.getbbox()
    assert bb is not None, text
    dx, dy = ix - (pad - left), iy - (pad - top)
    return bb[0] + dx, bb[1] + dy, bb[2] + dx, bb[3] + dy


def guilloche(p: Painter, rng: random.Random, colours: tuple[tuple[int, int, int], ...],
              area_mm: tuple[float, float, float, float], count: int) -> None:
    """Fine interlaced sine lines, the look of security printing."""
    x0, y0, x1, y1 = (p.px(v) for v in area_mm)
    xs = np.linspace(x0, x1, 400)
    width = max(1, round(p.px(0.08)))
    f1, f2 = rng.uniform(2, 4), rng.uniform(5, 9)
    for i in range(count):
        yc = y0 + (y1 - y0) * (i + 0.5) / count
        ph = i * 0.35
        ys = yc + p.px(1.6) * np.sin(2 * np.pi * f1 * (xs - x0) / (x1 - x0) + ph) \
            + p.px(0.7) * np.sin(2 * np.pi * f2 * (xs - x0) / (x1 - x0) - 2 * ph)
        p.draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colours[i % len(colours)], width=width)


def rosette(p: Painter, centre_mm: tuple[float, float], radius_mm: float,
            colour: tuple[int, int, int], petals: int) -> None:
    cx, cy = p.px(centre_mm[0]), p.px(centre_mm[1])
    theta = np.linspace(0, 2 * np.pi, 720)
    width = max(1, round(p.px(0.06)))
    for k in range(14):
        r = p.px(radius_mm) * (0.55 + 0.45 * (k + 1) / 14) * (1 + 0.12 * np.sin(petals * theta + k * 0.45))
        pts = list(zip((cx + r * np.cos(theta)).tolist(), (cy + r * np.sin(theta)).tolist()))
        p.draw.line(pts + pts[:1], fill=colour, width=width)


def signature(p: Painter, rng: random.Random, area_mm: tuple[float, float, float, float]) -> None:
    """A smooth handwritten-looking stroke."""
    x0, y0, x1, y1 = (p.px(v) for v in area_mm)
    t = np.linspace(0, 1, 300)
    loops = rng.uniform(3, 6)
    xs = x0 + (x1 - x0) * (t + 0.05 * np.sin(2 * np.pi * loops * t))
    ys = (y0 + y1) / 2 + (y1 - y0) * 0.35 * np.sin(2 * np.pi * loops * t * 0.9 + rng.uniform(0, 3)) \
        * np.exp(-t * rng.uniform(0.5, 1.5))
    p.draw.line(list(zip(xs.tolist(), ys.tolist())), fill=(25, 35, 110), width=max(1, round(p.px(0.25))),
                joint="curve")


# --------------------------------------------------------------------------- portraits


@dataclass(frozen=True)
class Assets:
    astronaut: Image.Image


def load_assets() -> Assets:
    from skimage import data
    return Assets(astronaut=Image.fromarray(data.astronaut()))


def passport_photo(assets: Assets, rng: random.Random, grey: bool) -> Image.Image:
    """Crop the astronaut to a 35x45 mm passport framing, varied per document: zoom, position,
    mirror, brightness, a colour cast, or greyscale."""
    zoom = rng.uniform(0.85, 1.12)
    w = 190 / zoom
    h = w * 45 / 35
    cx, cy = 225 + rng.uniform(-10, 10), 142 + rng.uniform(-8, 8)
    photo = assets.astronaut.crop((round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2)))
    if rng.random() < 0.5:
        photo = ImageOps.mirror(photo)
    photo = ImageEnhance.Brightness(photo).enhance(rng.uniform(0.88, 1.1))
    if grey:
        return ImageOps.grayscale(photo).convert("RGB")
    cast = np.array([rng.uniform(0.88, 1.08) for _ in range(3)], dtype=np.float32)
    tinted = np.clip(np.asarray(photo).astype(np.float32) * cast, 0, 255).astype(np.uint8)
    return ImageEnhance.Color(Image.fromarray(tinted)).enhance(rng.uniform(0.7, 1.2))


def ghost_photo(photo: Image.Image) -> Image.Image:
    """The faint second portrait: grey and low contrast (blended at 25-40 % opacity when pasted)."""
    grey = ImageOps.grayscale(photo)
    return ImageEnhance.Contrast(grey).enhance(0.7).convert("RGB")


# --------------------------------------------------------------------------- documents


def nl_passport_models() -> dict[str, PassportModel]:
    return {
        # before 9 March 2014: BSN printed ("Persoonsnummer") and in the MRZ; no ghost image
        "pre2014": PassportModel("pre2014", "NLD", (232, 238, 247), ((170, 190, 225), (205, 215, 238)),
                                 ghost=False, bsn_printed=True, bsn_in_mrz=True, grey_portrait=False,
                                 number_format=lambda b: grouped(b, (4, 2), ".")),
        # 2014 model: the BSN left the visual zone; it is in the MRZ only
        "2014": PassportModel("2014", "NLD", (240, 236, 240), ((214, 190, 214), (190, 205, 230)),
                              ghost=True, bsn_printed=False, bsn_in_mrz=True, grey_portrait=True,
                              number_format=lambda b: b),
        # 2021 model: no BSN on the data page at all (it is on the back of the holder page)
        "2021": PassportModel("2021", "NLD", (244, 238, 228), ((235, 200, 160), (180, 200, 225)),
                              ghost=True, bsn_printed=False, bsn_in_mrz=False, grey_portrait=True,
                              number_format=lambda b: b),
        # fictitious Utopia: a 10-digit personal number printed with a dash, plain in the MRZ
        "UTO": PassportModel("UTO", "UTO", (236, 244, 236), ((170, 215, 180), (215, 225, 190)),
                             ghost=False, bsn_printed=True, bsn_in_mrz=True, grey_portrait=False,
                             number_format=lambda b: f"{b[:6]}-{b[6:]}"),
    }


def mrz_spans_td3(personal: str) -> list[tuple[int, int, int, str, str]]:
    spans = [(1, 0, 28, "keep", "mrz_data")]  # document number, nationality, dates: stay readable
    if personal:
        spans.append((1, 28, 28 + len(personal), "personal_number", "mrz"))
    return spans


def draw_passport(p: Person, model: PassportModel, ppmm: float, assets: Assets, rng: random.Random) -> Sheet:
    """TD3 data page, 125 x 88 mm: portrait in zone V on the left, fields, ghost right, 2-line MRZ.

    The 2014/2021 layout follows the official 2014 specimen (numbered trilingual labels in small
    lower-case print, no personal number); the pre-2014 one the 2001 model (title band,
    "Persoonsnummer" right of the birth date)."""
    pt = Painter(TD3_MM, ppmm, model.paper)
    guilloche(pt, rng, model.lines, (0, 12, 125, 70), 34)
    rosette(pt, (96, 40), 22, model.lines[0], 9)
    modern = model.name in ("2014", "2021")
    if model.name == "pre2014":
        pt.draw.rectangle((0, 0, pt.px(125), pt.px(12.5)), fill=(60, 90, 160))
        pt.text(4, 8.0, "PASPOORT", face="bold", cap_mm=3.0, fill=(245, 245, 250))
        pt.text(40, 6.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=2.2, fill=(245, 245, 250))
        pt.text(40, 10.0, "KINGDOM OF THE NETHERLANDS / ROYAUME DES PAYS-BAS", cap_mm=1.0, fill=(230, 230, 245))
    elif modern:
        for k, word in enumerate(("PASPOORT", "PASSPORT", "PASSEPORT")):
            pt.text(4, 4.5 + 2.3 * k, word, cap_mm=1.3, fill=(60, 70, 140))
        pt.text(40, 7.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=3.0, fill=(90, 60, 120))
        pt.text(40, 10.8, "KINGDOM OF THE NETHERLANDS", cap_mm=1.1, fill=(60, 60, 110))
        pt.text(85, 10.8, "ROYAUME DES PAYS-BAS", cap_mm=1.1, fill=(60, 60, 110))
    else:
        pt.text(4, 6.5, "REPUBLIC OF UTOPIA", face="bold", cap_mm=2.4, fill=(20, 90, 50))
        pt.text(4, 10.5, "PASSPORT / PASSEPORT", face="bold", cap_mm=1.5, fill=(20, 90, 50))
        pt.text(72, 6.5, "RÉPUBLIQUE D'UTOPIE", cap_mm=1.0, fill=(20, 90, 50))

    photo = passport_photo(assets, rng, model.grey_portrait)
    pt.paste_portrait(photo, 4, 15, 32, 41, "main")
    if model.ghost:
        pt.paste_portrait(ghost_photo(photo), 76, 36, 13, 17, "ghost", opacity=rng.uniform(0.26, 0.36))
    v = 2.0
    printed = model.number_format(p.bsn)
    if modern:
        pt.label_value(40, 15, "1 type / type / type", "P", cap_mm=v)
        pt.label_value(52, 15, "code", "NLD", cap_mm=v)
        pt.label_value(66, 15, "2 nationaliteit / nationality / nationalité", "Nederlandse", cap_mm=v)
        pt.label_value(93, 15, "documentnummer / document no.", p.doc_number, cap_mm=v,
                       mark=("keep", "document_number"))
        pt.label_value(40, 22, "3 naam / surname / nom", p.surname, cap_mm=v, mark=("keep", "surname"))
        pt.label_value(40, 29, "4 voornamen / given names / prénoms", p.given_names, cap_mm=v,
                       mark=("keep", "given_names"))
        pt.label_value(40, 36, "5 geboortedatum / date of birth", nl_date(p.birth), cap_mm=v,
                       mark=("keep", "birth_date"))
        pt.label_value(40, 43, "6 geboorteplaats / place of birth", p.birth_place, cap_mm=v)
        pt.label_value(93, 43, "8 lengte / height / taille", p.height, cap_mm=v)
        pt.label_value(40, 50, "7 geslacht / sex / sexe", "V/F", cap_mm=v)
        pt.label_value(93, 50, "10 geldig tot / date of expiry", nl_date(p.expiry), cap_mm=v,
                       mark=("keep", "expiry_date"))
        pt.label_value(40, 57, "9 datum van afgifte / date of issue", nl_date(p.issue), cap_mm=v)
        pt.label_value(93, 57, "12 instantie / authority", p.authority, cap_mm=v)
        pt.text(40, 63.0, "11 handtekening / signature", cap_mm=0.95, fill=LABEL_INK)
        signature(pt, rng, (44, 63.5, 70, 69))
    else:
        dutch = model.state == "NLD"

        def lab(nl: str, en: str, fr: str | None = None) -> str:
            return " / ".join(([nl] if dutch else []) + [en] + ([fr] if fr else []))

        pt.label_value(40, 15, lab("Soort", "Type"), "P", cap_mm=v)
        pt.label_value(52, 15, "Code", model.state, cap_mm=v)
        pt.label_value(64, 15, lab("Nationaliteit", "Nationality"), "Nederlandse" if dutch else "Utopian", cap_mm=v)
        pt.label_value(93, 15, lab("Paspoortnr.", "Passport No."), p.doc_number, cap_mm=v,
                       mark=("keep", "document_number"))
        pt.label_value(40, 22, lab("Naam", "Surname", "Nom"), p.surname, cap_mm=v, mark=("keep", "surname"))
        pt.label_value(40, 29, lab("Voornamen", "Given names", "Prénoms"), p.given_names, cap_mm=v,
                       mark=("keep", "given_names"))
        birth = nl_date(p.birth) if dutch else dotted_date(p.birth)
        pt.label_value(40, 36, lab("Geboortedatum", "Date of birth"), birth, cap_mm=v, mark=("keep", "birth_date"))
        if model.bsn_printed:
            pt.label_value(82, 36, lab("Persoonsnummer", "Personal No.", "N° personnel"), printed, cap_mm=v,
                           mark=("personal_number", "viz"))
        pt.label_value(40, 43, lab("Geboorteplaats", "Place of birth"), p.birth_place if dutch else "Utopia City",
                       cap_mm=v)
        pt.label_value(82, 43, lab("Geslacht", "Sex"), "V/F" if dutch else "F", cap_mm=v)
        pt.label_value(100, 43, lab("Lengte", "Height"), p.height, cap_mm=v)
        pt.label_value(40, 50, lab("Datum van afgifte", "Date of issue"),
                       nl_date(p.issue) if dutch else dotted_date(p.issue), cap_mm=v)
        expiry = nl_date(p.expiry) if dutch else dotted_date(p.expiry)
        pt.label_value(82, 50, lab("Geldig tot", "Date of expiry"), expiry, cap_mm=v, mark=("keep", "expiry_date"))
        pt.label_value(40, 57, lab("Autoriteit", "Authority"), p.authority if dutch else "Utopia Passport Office",
                       cap_mm=v)
        pt.text(4, 59.5, lab("Handtekening houder", "Holder's signature"), cap_mm=0.9, fill=LABEL_INK)
        signature(pt, rng, (6, 60.5, 32, 68))

    mrz_digits = p.bsn if model.bsn_in_mrz else ""
    lines, _ = td3(model.state, p, mrz_digits)
    pt.draw.rectangle((0, pt.px(69.5), pt.px(125), pt.px(88)), fill=lighter(model.paper))
    pt.mrz(6.5, [76.0, 83.5], lines, mrz_spans_td3(mrz_digits))
    return Sheet(pt.image, pt.marks, pt.runs, lines)


def draw_holder_back_2021(p: Person, ppmm: float, rng: random.Random, printed: str) -> Sheet:
    """2021 passport, back of the holder page: the BSN in digits and as a QR code; no photo, no MRZ."""
    paper = (244, 238, 228)
    pt = Painter(TD3_MM, ppmm, paper)
    guilloche(pt, rng, ((235, 200, 160), (180, 200, 225)), (0, 14, 125, 88), 30)
    rosette(pt, (30, 58), 18, (228, 196, 170), 8)
    pt.text(6, 8.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=2.6, fill=(90, 60, 120))
    pt.text(6, 12.0, "PASPOORT / PASSPORT / PASSEPORT", cap_mm=1.3, fill=(60, 60, 110))
    pt.label_value(8, 26, "Persoonsnummer / Personal No. / N° personnel", printed, cap_mm=2.6,
                   mark=("personal_number", "viz"))
    pt.label_value(8, 40, "Documentnummer / Document no. / N° du document", p.doc_number, cap_mm=2.0,
                   mark=("keep", "document_number"))
    pt.qr(88, 20, 22, p.bsn)
    pt.text(118, 84, "3", cap_mm=2.0, fill=LABEL_INK)
    return Sheet(pt.image, pt.marks, pt.runs, [])


ID_PAPER = {"2014": (236, 232, 242), "2021": (242, 236, 226), "UTO": (232, 242, 234)}
ID_LINES = ((205, 190, 222), (188, 205, 228))


def draw_id_front(p: Person, ppmm: float, assets: Assets, rng: random.Random, model: str) -> Sheet:
    """ID card front (2014 and 2021 models, and Utopia's): portrait and ghost, no personal number, no MRZ."""
    pt = Painter(ID1_MM, ppmm, ID_PAPER[model])
    guilloche(pt, rng, ID_LINES, (0, 10, 85.6, 54), 26)
    rosette(pt, (70, 26), 14, ID_LINES[0], 11)
    if model == "UTO":
        pt.text(3, 5.0, "REPUBLIC OF UTOPIA", face="bold", cap_mm=1.8, fill=(20, 90, 50))
        pt.text(3, 8.3, "IDENTITY CARD / CARTE D'IDENTITÉ", cap_mm=1.0, fill=(20, 90, 50))
    else:
        pt.text(3, 5.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=1.8, fill=(40, 50, 110))
        pt.text(3, 8.3, "IDENTITEITSKAART / IDENTITY CARD / CARTE D'IDENTITÉ", cap_mm=1.0, fill=(60, 60, 110))
    if model == "2021":
        pt.text(76, 5.0, "NLD", face="bold", cap_mm=1.8, fill=(40, 50, 110))
    photo = passport_photo(assets, rng, grey=model != "UTO")
    pt.paste_portrait(photo, 3, 11, 24, 31, "main")
    ghost_at = (70, 17) if model != "2021" else (69, 30)
    pt.paste_portrait(ghost_photo(photo), *ghost_at, 12, 15.5, "ghost", opacity=rng.uniform(0.26, 0.36))
    v = 1.8
    nl = model != "UTO"
    pt.label_value(30, 13, "Naam / Surname / Nom" if nl else "Surname / Nom", p.surname, cap_mm=v,
                   mark=("keep", "surname"))
    pt.label_value(30, 20, "Voornamen / Given names" if nl else "Given names / Prénoms", p.given_names, cap_mm=v,
                   mark=("keep", "given_names"))
    birth = nl_date(p.birth) if nl else dotted_date(p.birth)
    pt.label_value(30, 27, "Geboortedatum / Date of birth" if nl else "Date of birth", birth, cap_mm=v,
                   mark=("keep", "birth_date"))
    pt.label_value(58, 27, "Geslacht / Sex" if nl else "Sex", "V/F" if nl else "F", cap_mm=v)
    pt.label_value(30, 34, "Nationaliteit / Nationality" if nl else "Nationality", "Nederlandse" if nl else "Utopian",
                   cap_mm=v)
    pt.label_value(30, 41, "Documentnummer / Document No." if nl else "Document No.", p.doc_number, cap_mm=v,
                   mark=("keep", "document_number"))
    expiry = nl_date(p.expiry) if nl else dotted_date(p.expiry)
    pt.label_value(30, 48, "Geldig tot / Date of expiry" if nl else "Date of expiry", expiry, cap_mm=v,
                   mark=("keep", "expiry_date"))
    pt.text(3, 45.0, "Handtekening / Signature" if nl else "Signature", cap_mm=0.9, fill=LABEL_INK)
    signature(pt, rng, (4, 46.5, 26, 52))
    return Sheet(pt.image, pt.marks, pt.runs, [])


def mrz_spans_td1(personal: str) -> list[tuple[int, int, int, str, str]]:
    spans = [(0, 2, 15, "keep", "mrz_document_number"), (1, 0, 18, "keep", "mrz_data")]
    if personal:
        spans.append((0, 15, 15 + len(personal), "personal_number", "mrz"))
    return spans


def draw_id_back(p: Person, ppmm: float, rng: random.Random, model: str, printed: str | None = None) -> Sheet:
    """ID card back and its 3-line TD1 MRZ.

    2014: "Persoonsnummer" top left, the BSN in MRZ line 1 optional data (positions 16-30).
    2021: the BSN in digits at the right and as a QR code; the MRZ optional data is filler.
    UTO: a personal number printed in another format than in its MRZ optional data."""
    paper = ID_PAPER[model]
    pt = Painter(ID1_MM, ppmm, paper)
    guilloche(pt, rng, ID_LINES, (0, 2, 85.6, 34), 20)
    rosette(pt, (40, 16), 11, ID_LINES[1], 7)
    printed = printed or p.bsn
    v = 2.0
    if model == "UTO":
        pt.text(3, 4.2, "IDENTITY CARD / CARTE D'IDENTITÉ", cap_mm=1.0, fill=(20, 90, 50))
        pt.label_value(3, 8.5, "Personal No. / N° personnel", printed, cap_mm=v, mark=("personal_number", "viz"))
        pt.label_value(3, 15.5, "Date of issue", dotted_date(p.issue), cap_mm=v)
        pt.label_value(3, 22.5, "Authority", "Utopia City Hall", cap_mm=v)
    else:
        pt.text(3, 4.2, "IDENTITEITSKAART / IDENTITY CARD", cap_mm=1.0, fill=(60, 60, 110))
        if model == "2014":
            pt.label_value(3, 8.5, "Persoonsnummer / Personal No.", printed, cap_mm=v,
                           mark=("personal_number", "viz"))
            pt.label_value(46, 15.5, "Lengte / Height", p.height, cap_mm=v)
        else:
            pt.label_value(3, 8.5, "Lengte / Height", p.height, cap_mm=v)
            pt.label_value(48, 8.5, "Persoonsnummer / Personal No.", printed, cap_mm=v,
                           mark=("personal_number", "viz"))
            pt.qr(68, 15, 13, p.bsn)
        pt.label_value(3, 15.5, "Datum van afgifte / Date of issue", nl_date(p.issue), cap_mm=v)
        pt.label_value(3, 22.5, "Autoriteit / Authority", p.authority, cap_mm=v)
        pt.text(3, 30.0, "Deze kaart is eigendom van de Staat der Nederlanden", cap_mm=1.0, fill=LABEL_INK)
    digits = p.bsn if model in ("2014", "UTO") else ""
    lines, _ = td1("NLD" if model != "UTO" else "UTO", p, digits)
    pt.draw.rectangle((0, pt.px(35.5), pt.px(85.6), pt.px(54)), fill=lighter(paper))
    pt.mrz(4.7, [40.5, 45.4, 50.3], lines, mrz_spans_td1(digits))
    return Sheet(pt.image, pt.marks, pt.runs, lines)


def draw_driving_licence(p: Person, licence_no: str, ppmm: float, assets: Assets, rng: random.Random,
                         model: str) -> Sheet:
    """Dutch driving licence (EU card) front. 2006 model: BSN in field 4d, licence number in field
    5, no MRZ. Newest model: no field 4d (no BSN at all) and a one-line D1NLD code without a BSN."""
    pt = Painter(ID1_MM, ppmm, (248, 228, 234) if model == "2006" else (240, 230, 240))
    guilloche(pt, rng, ((235, 190, 205), (225, 205, 225)), (0, 0, 85.6, 54), 28)
    rosette(pt, (68, 30), 15, (232, 186, 204), 13)
    pt.draw.rectangle((pt.px(3), pt.px(2.5), pt.px(14), pt.px(11.5)), fill=(25, 55, 150))
    for k in range(12):  # EU circle of stars, as dots
        a = 2 * np.pi * k / 12
        cx, cy = pt.px(8.5 + 3.0 * math.cos(a)), pt.px(6.2 + 3.0 * math.sin(a))
        pt.draw.ellipse((cx - pt.px(0.3), cy - pt.px(0.3), cx + pt.px(0.3), cy + pt.px(0.3)), fill=(250, 210, 40))
    pt.text(6.2, 7.4, "NL", face="bold", cap_mm=2.2, fill=(250, 250, 250))
    pt.text(18, 7.0, "RIJBEWIJS", face="bold", cap_mm=3.0, fill=(60, 30, 60))
    pt.text(18, 10.8, "KONINKRIJK DER NEDERLANDEN", cap_mm=1.2, fill=(60, 30, 60))
    photo = passport_photo(assets, rng, grey=True)
    pt.paste_portrait(photo, 3, 14, 21, 27, "main")
    v = 1.8
    rows = [17.0, 21.5, 26.0, 30.5, 35.0, 39.5, 44.0]
    pt.text(27, rows[0], "1.", cap_mm=v)
    pt.text(32, rows[0], p.surname, cap_mm=v, mark=("keep", "surname"))
    pt.text(27, rows[1], "2.", cap_mm=v)
    pt.text(32, rows[1], p.given_names, cap_mm=v, mark=("keep", "given_names"))
    pt.text(27, rows[2], "3.", cap_mm=v)
    box = pt.text(32, rows[2], dotted_date(p.birth), cap_mm=v, mark=("keep", "birth_date"))
    pt.text(box[2] / ppmm + 1.5, rows[2], p.birth_place, cap_mm=v)
    pt.text(27, rows[3], "4a.", cap_mm=v)
    pt.text(33, rows[3], dotted_date(p.issue), cap_mm=v)
    pt.text(54, rows[3], "4b.", cap_mm=v)
    pt.text(60, rows[3], dotted_date(p.expiry), cap_mm=v, mark=("keep", "expiry_date"))
    pt.text(27, rows[4], "4c.", cap_mm=v)
    pt.text(33, rows[4], p.authority, cap_mm=v)
    if model == "2006":
        pt.text(27, rows[5], "4d.", cap_mm=v)
        pt.text(33, rows[5], p.bsn, cap_mm=v, mark=("personal_number", "viz"))
        row5 = rows[6]
    else:
        row5 = rows[5]
    pt.text(27, row5, "5.", cap_mm=v)
    pt.text(32, row5, licence_no, cap_mm=v, mark=("keep", "licence_number"))
    pt.text(3, 47.5, "7.", cap_mm=1.4)
    signature(pt, rng, (7, 44, 25, 50 if model != "2006" else 52))
    if model == "2006":
        pt.text(60, 50.5, "9.", cap_mm=v)
        pt.text(65, 50.5, "AM/B", cap_mm=v)
        return Sheet(pt.image, pt.marks, pt.runs, [])
    pt.text(60, rows[6], "9.", cap_mm=v)
    pt.text(65, rows[6], "AM/B", cap_mm=v)
    code = licence_code(licence_no)
    pt.draw.rectangle((0, pt.px(47.5), pt.px(85.6), pt.px(54)), fill=(246, 240, 246))
    pt.mrz(4.7, [52.3], [code], [])
    return Sheet(pt.image, pt.marks, pt.runs, [code])


LETTER_WITH_PHOTO = [
    (25, 30, "J. Visser"), (25, 36, "Lindenlaan 12"), (25, 42, "3581 AB Utrecht"),
    (25, 62, "Aan: Gemeente Utrecht, afdeling Privacy"), (25, 68, "Postbus 16200"),
    (25, 84, "Utrecht, 3 maart 2025"), (25, 100, "Betreft: verzoek om inzage (art. 15 AVG)"),
    (25, 116, "Geachte heer, mevrouw,"),
    (25, 128, "Hierbij verzoek ik u om inzage in de persoonsgegevens die u over mij verwerkt."),
    (25, 134, "Ter identificatie stuur ik u een recente foto van mijzelf mee."),
    (25, 140, "Een kopie van mijn identiteitsbewijs volgt zo nodig later."),
    (25, 156, "Met vriendelijke groet,"),
]
LETTER_VISA = [
    (25, 30, "M. de Vries"), (25, 36, "Kerkstraat 4"), (25, 42, "2011 HK Haarlem"),
    (25, 62, "Aan: Reisbureau Zonneland, afdeling Klantenservice"),
    (25, 84, "Haarlem, 14 januari 2025"), (25, 100, "Betreft: Visa en passport voor mijn reis"),
    (25, 116, "Geachte heer, mevrouw,"),
    (25, 128, "Voor mijn reis naar Canada vraagt u een kopie van mijn passport en mijn Visa."),
    (25, 134, "Mijn paspoort is nog geldig tot volgend jaar; het Visa-nummer stuur ik na ontvangst."),
    (25, 140, "Kunt u bevestigen welke documenten (passport, identiteitskaart of rijbewijs)"),
    (25, 146, "u precies nodig heeft? Ik stuur liever geen kopie zonder reden."),
    (25, 152, "Nationality / Nationaliteit: Nederlandse.  Date of birth volgt desgewenst."),
    (25, 168, "Met vriendelijke groet,"),
]


def draw_letter(assets: Assets, rng: random.Random, ppmm: float, lines: list[tuple[int, int, str]],
                photo: bool) -> Sheet:
    """An A4 letter, with or without a pasted photo: text (and a face), but no identity document."""
    pt = Painter(A4_MM, ppmm, (253, 253, 251))
    for x, y, t in lines:
        pt.text(x, y, t, cap_mm=2.2)
    bottom = lines[-1][1]
    signature(pt, rng, (25, bottom + 6, 70, bottom + 20))
    pt.text(25, bottom + 28, lines[0][2], cap_mm=2.2)
    if photo:
        face = passport_photo(assets, rng, grey=False)
        pt.draw.rectangle((pt.px(147), pt.px(23), pt.px(188), pt.px(77)), fill=(250, 250, 250),
                          outline=(200, 200, 200))
        pt.paste_portrait(face, 149, 25, 37, 48, "main")
    return Sheet(pt.image, pt.marks, pt.runs, [])


def lighter(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(min(255, v + (255 - v) // 2) for v in c)  # type: ignore[return-value]


# --------------------------------------------------------------------------- capture


def on_bed(docs: list[tuple[Sheet, tuple[float, float]]], size_mm: tuple[float, float], ppmm: float,
           rounded_mm: float = 0.0, bed: tuple[int, int, int] = (247, 247, 245)) -> Sheet:
    """Place documents (each at its top-left mm position) on a flatbed scanner glass."""
    page = Image.new("RGB", (round(size_mm[0] * ppmm), round(size_mm[1] * ppmm)), bed)
    out = Sheet(page)
    for sheet, (x_mm, y_mm) in docs:
        x, y = round(x_mm * ppmm), round(y_mm * ppmm)
        w, h = sheet.image.size
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), radius=round(rounded_mm * ppmm), fill=255)
        shadow = mask.filter(ImageFilter.GaussianBlur(max(1.0, ppmm * 0.4)))
        page.paste((170, 170, 170), (x + 2, y + 3), shadow)
        page.paste(sheet.image, (x, y), mask)
        moved = mapped(sheet, page, lambda q, dx=x, dy=y: q + np.array([dx, dy], dtype=float))
        out.marks += moved.marks
        out.runs += moved.runs
        out.mrz += moved.mrz
    return out


def scan_noise(img: Image.Image, nrng: np.random.Generator, sigma: float) -> Image.Image:
    a = np.asarray(img).astype(np.float32)
    a += nrng.normal(0.0, sigma, a.shape[:2])[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def phone_photo(sheet: Sheet, rng: random.Random, nrng: np.random.Generator, avoid: list[np.ndarray],
                glare_at: tuple[float, float] | None = (0.56, 0.09), blur: float = 1.1) -> Sheet:
    """Photograph the page at an angle on a wooden table, with glare (kept clear of `avoid`) and blur."""
    W, H = 1600, 1200
    grain = nrng.normal(0, 1, (H // 8, W)).astype(np.float32)
    grain = cv2.resize(cv2.GaussianBlur(grain, (0, 0), sigmaX=12, sigmaY=1), (W, H))
    table = np.stack([95 + 18 * grain, 68 + 13 * grain, 48 + 9 * grain], axis=-1)
    w, h = sheet.image.size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32) - 0.5  # pixel-centre convention
    jit = [rng.uniform(-25, 25) for _ in range(8)]
    dst = np.array([[250 + jit[0], 215 + jit[1]], [1390 + jit[2], 170 + jit[3]],
                    [1450 + jit[4], 1000 + jit[5]], [185 + jit[6], 1045 + jit[7]]], dtype=np.float32) - 0.5
    m = cv2.getPerspectiveTransform(src, dst)
    doc = np.asarray(sheet.image).astype(np.float32)
    warped = cv2.warpPerspective(doc, m, (W, H), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), m, (W, H), flags=cv2.INTER_LINEAR)[..., None]
    shadow = cv2.GaussianBlur(alpha, (0, 0), 9)[..., None]
    shadow = np.roll(shadow, (10, 8), axis=(0, 1))
    img = table * (1 - 0.45 * shadow) * (1 - alpha) + warped * alpha

    def fwd(q: np.ndarray) -> np.ndarray:
        pts = cv2.perspectiveTransform((q - 0.5).reshape(-1, 1, 2).astype(np.float64), m.astype(np.float64))
        return pts.reshape(-1, 2) + 0.5

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    if glare_at is not None:
        img = _glare(img, fwd(np.array([[w * glare_at[0], h * glare_at[1]]]))[0], [fwd(q) for q in avoid], xx, yy)
    light = 1.0 - 0.18 * ((xx - W * 0.3) ** 2 + (yy - H * 0.4) ** 2) / (W * W)
    img = cv2.GaussianBlur(img * light[..., None], (0, 0), blur)
    img = img + nrng.normal(0, 3.0, img.shape[:2]).astype(np.float32)[..., None]
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return mapped(sheet, out, fwd)


def _glare(img: np.ndarray, centre: np.ndarray, avoid: list[np.ndarray], xx: np.ndarray,
           yy: np.ndarray) -> np.ndarray:
    """A soft bright ellipse (on the header), checked to stay clear of the BSN and QR code."""
    gx, gy = centre
    radius = 120.0
    for fq in avoid:
        nearest = np.clip([gx, gy], fq.min(axis=0), fq.max(axis=0))
        assert np.hypot(*(nearest - [gx, gy])) > radius * 1.6, "glare would cover the BSN"
    glare = np.exp(-(((xx - gx) / (radius * 1.5)) ** 2 + ((yy - gy) / radius) ** 2))[..., None]
    return img * (1 - 0.75 * glare) + 255 * 0.75 * glare




def skew(sheet: Sheet, degrees: float, bed: tuple[int, int, int] = (247, 247, 245)) -> Sheet:
    """Turn the whole scan by a few degrees (positive: counter-clockwise), growing the canvas."""
    w, h = sheet.image.size
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = math.ceil(w * cos + h * sin), math.ceil(w * sin + h * cos)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    turned = cv2.warpAffine(np.asarray(sheet.image), m, (nw, nh), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=bed)

    def fwd(q: np.ndarray) -> np.ndarray:
        # cv2's matrix maps pixel centres; shift to the continuous-edge convention and back
        return (q - 0.5) @ m[:, :2].T + m[:, 2] + 0.5

    return mapped(sheet, Image.fromarray(turned), fwd)


def downscale(sheet: Sheet, factor: float) -> Sheet:
    """A lower-resolution capture of the same sheet (area averaging, like a camera's sensor)."""
    w, h = sheet.image.size
    size = (round(w * factor), round(h * factor))
    small = cv2.resize(np.asarray(sheet.image), size, interpolation=cv2.INTER_AREA)
    sx, sy = size[0] / w, size[1] / h
    return mapped(sheet, Image.fromarray(small), lambda q: q * np.array([sx, sy]))


def pen_line(sheet: Sheet, kinds: tuple[str, str], rng: random.Random, width_px: int,
             cross: bool = False) -> None:
    """A requester's strike-through: thin ballpoint strokes over the marked item (still legible)."""
    d = ImageDraw.Draw(sheet.image)
    for m in sheet.marks:
        if (m.role, m.kind) != kinds:
            continue
        x0, y0 = m.quad.min(axis=0)
        x1, y1 = m.quad.max(axis=0)
        ym = (y0 + y1) / 2
        if cross:
            segs = [((x0 + 10, y0 + 15), (x1 - 10, y1 - 20)), ((x0 + 12, y1 - 12), (x1 - 15, y0 + 18))]
        else:
            segs = [((x0 - 25, ym + rng.uniform(1, 4)), (x1 + 30, ym - rng.uniform(1, 4)))]
        for a, b in segs:
            d.line([a, b], fill=(30, 45, 150), width=width_px)


def smear(sheet: Sheet, rng: random.Random) -> None:
    """Make the printed BSN illegible: heavy blur plus a dense scribble; the mark grows to cover it."""
    for m in sheet.marks:
        if (m.role, m.kind) != ("personal_number", "viz"):
            continue
        x0, y0 = (int(v) for v in m.quad.min(axis=0))
        x1, y1 = (int(v) for v in m.quad.max(axis=0))
        pad = 10
        region = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        sheet.image.paste(sheet.image.crop(region).filter(ImageFilter.GaussianBlur(9)), region[:2])
        d = ImageDraw.Draw(sheet.image)
        pts = []
        for i in range(40):
            x = x0 - 4 + (x1 - x0 + 8) * i / 39 + rng.uniform(-3, 3)
            y = (y0 - 3) if i % 2 == 0 else (y1 + 3)
            pts.append((x, y + rng.uniform(-2, 2)))
        d.line(pts, fill=(35, 35, 60), width=3, joint="curve")
        xs = [pt[0] for pt in pts]
        ys = [pt[1] for pt in pts]
        m.quad = rect_quad(min(x0 - pad, min(xs) - 2), min(y0 - pad, min(ys) - 2),
                           max(x1 + pad, max(xs) + 2), max(y1 + pad, max(ys) + 2))


# --------------------------------------------------------------------------- encoding


def jpeg_bytes(img: Image.Image, dpi: int, quality: int = JPEG_QUALITY, exif: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    img.save(buf, "JPEG", quality=quality, subsampling=2, optimize=True, dpi=(dpi, dpi), **kwargs)
    return buf.getvalue()


def png_bytes(img: Image.Image, dpi: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=9, dpi=(dpi, dpi))
    return buf.getvalue()


def encode(img: Image.Image, fmt: str, dpi: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpg":
        return jpeg_bytes(img, dpi)
    if fmt == "png":
        return png_bytes(img, dpi)
    if fmt == "webp":
        img.save(buf, "WEBP", quality=85, method=4)
    elif fmt == "tiff":
        img.save(buf, "TIFF", compression="tiff_adobe_deflate", dpi=(dpi, dpi))
    elif fmt == "heic":
        import pillow_heif
        pillow_heif.from_pillow(img).save(buf, quality=80)
    else:
        raise ValueError(fmt)
    return buf.getvalue()


# --------------------------------------------------------------------------- ground truth


def boxes(sheet: Sheet, scale: float = 1.0, limit: tuple[float, float] | None = None, step: float = 1.0,
          page: int | None = None) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Portraits, personal numbers, keep-fields and QR codes of a sheet as annotation dicts."""
    lim = limit or (float(sheet.image.size[0]), float(sheet.image.size[1]))
    portraits, numbers, keep, qr = [], [], [], []
    for m in sheet.marks:
        box = outer_box(m.quad * scale, lim, step)
        extra = {"page": page} if page is not None else {}
        if m.role == "portrait":
            portraits.append({"box": box, "type": m.kind, "confidence": "sure", **extra})
        elif m.role == "personal_number":
            numbers.append({"text": m.text, "zone": m.kind, "box": box, **extra})
        elif m.role == "qr":
            qr.append({"box": box, "holds": m.kind, **extra})
        else:
            keep.append({"name": m.kind, "text": m.text, "box": box, **extra})
    return portraits, numbers, keep, qr


def dedupe(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for it in items:
        key = json.dumps(it, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


def pdf_document(pages: list[tuple[Sheet, bytes, int, tuple[float, float] | None]], hidden_text: bool,
                 ) -> tuple[bytes, tuple[list[dict], ...], tuple[float, float]]:
    """Pages of (sheet, jpeg, dpi, page size in pt or None = image size); image at the top left.

    With hidden_text, every printed string is added as invisible text (render mode 3), the way
    scanner apps add an OCR layer; a personal number found in that layer becomes a "text_layer" mark.
    Returns the PDF, the annotation lists of all pages merged, and the last page's size.
    """
    doc = pymupdf.open()
    merged: tuple[list[dict], ...] = ([], [], [], [])
    page_size = (0.0, 0.0)
    for index, (sheet, jpeg, dpi, size_pt) in enumerate(pages):
        scale = PT_PER_INCH / dpi
        w, h = sheet.image.size
        page_size = size_pt or (round(w * scale, 2), round(h * scale, 2))
        page = doc.new_page(width=page_size[0], height=page_size[1])
        page.insert_image(pymupdf.Rect(0, 0, w * scale, h * scale), stream=jpeg)
        portraits, numbers, keep, qr = boxes(sheet, scale=scale, limit=page_size, step=0.01, page=index)
        if hidden_text:
            for run in sheet.runs:
                x, y = run.origin[0] * scale
                font, size = ("cour" if run.mono else "helv"), run.size_px * scale
                # stretch horizontally so each hidden word lies over its printed word, as OCR layers do
                stretch = run.width_px * scale / pymupdf.get_text_length(run.text, fontname=font, fontsize=size)
                page.insert_text((x, y), run.text, fontsize=size, fontname=font, render_mode=3,
                                 morph=(pymupdf.Point(x, y), pymupdf.Matrix(stretch, 1)))
            for number in sorted({m.text for m in sheet.marks if m.role == "personal_number"}):
                for rect in page.search_for(number):
                    numbers.append({"text": number, "zone": "text_layer", "page": index,
                                    "box": outer_box(rect_quad(rect.x0, rect.y0, rect.x1, rect.y1),
                                                     page_size, 0.01)})
        for target, items in zip(merged, (portraits, dedupe(numbers), keep, qr)):
            target.extend(items)
    doc.set_metadata({})
    buf = io.BytesIO()
    doc.save(buf, garbage=4, deflate=True, no_new_id=True)
    return buf.getvalue(), merged, page_size


# --------------------------------------------------------------------------- the set


@dataclass
class Output:
    files: dict[str, bytes] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    def add(self, data: bytes, entry: Entry) -> None:
        assert entry.file not in self.files, entry.file
        self.files[entry.file] = data
        self.entries.append(entry)

    def image(self, name: str, sheet: Sheet, data: bytes, *, kind: str, generation: str | None,
              country: str | None, surname: str | None, notes: str, capture: str, status: str = "redacted",
              rotation: int = 0, precision: str = "exact") -> None:
        portraits, numbers, keep, qr = boxes(sheet)
        self.add(data, Entry(name, kind, country, status, surname, portraits, numbers, keep, qr, sheet.mrz, notes,
                             [sheet.image.size[0], sheet.image.size[1]], generation, capture, rotation, precision))


def rngs(seed: int, name: str) -> tuple[random.Random, np.random.Generator]:
    """Independent generators per document, so adding a document never changes the others."""
    key = f"{seed}:{name}"
    return random.Random(key), np.random.default_rng(zlib.crc32(key.encode()))


def ppmm_of(dpi: int) -> float:
    return dpi / MM_PER_INCH


def passport_scan(doc: Sheet, dpi: int, margin_mm: float = 8.0) -> Sheet:
    return on_bed([(doc, (margin_mm, margin_mm))], (TD3_MM[0] + 2 * margin_mm, TD3_MM[1] + 2 * margin_mm),
                  ppmm_of(dpi), rounded_mm=1.0)


def card_scan(sheet: Sheet, dpi: int, margin_mm: float = 6.0) -> Sheet:
    return on_bed([(sheet, (margin_mm, margin_mm))], (ID1_MM[0] + 2 * margin_mm, ID1_MM[1] + 2 * margin_mm),
                  ppmm_of(dpi), rounded_mm=3.18)


def with_exif_orientation(img: Image.Image, orientation: int) -> tuple[Image.Image, bytes]:
    """Pixels stored turned, plus the EXIF Orientation tag that makes a viewer show `img` upright."""
    stored = img.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                            8: Image.Transpose.ROTATE_270}[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    return stored, exif.tobytes()


ISSUE_YEARS = {"pre2014": (2009, 2013), "2014": (2015, 2020), "2021": (2022, 2025), "UTO": (2016, 2022)}
MODEL_NOTES = {
    "pre2014": "NL passport data page, model before March 2014: BSN printed as 'Persoonsnummer' and in MRZ "
               "line 2 positions 29-42; no ghost portrait",
    "2014": "NL passport data page, 2014 model: BSN only in MRZ line 2 positions 29-42, not printed; main "
            "portrait left, ghost portrait right",
    "2021": "NL passport data page, 2021 model: no BSN at all (MRZ personal-number field is filler); main "
            "portrait left, ghost portrait right",
}


def nl_passport(seed: int, key: str, model_name: str, dpi: int, assets: Assets,
                bsn: str | None = None) -> tuple[Sheet, Person, random.Random, np.random.Generator]:
    rng, nrng = rngs(seed, key)
    person = make_person(rng, ISSUE_YEARS[model_name], bsn=bsn)
    if model_name == "pre2014":  # passports were valid for five years then
        person = replace(person, expiry=date(person.issue.year + 5, person.issue.month, min(person.issue.day, 28)))
    doc = draw_passport(person, nl_passport_models()[model_name], ppmm_of(dpi), assets, rng)
    return doc, person, rng, nrng


def build_passports(seed: int, assets: Assets, out: Output) -> None:
    P = "passport_data_page"

    # flatbed 300 dpi, and the same pixels stored turned with EXIF Orientation 6
    doc, person, rng, nrng = nl_passport(seed, "passport2014", "2014", 300, assets)
    sheet = passport_scan(doc, 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    common = dict(kind=P, generation="2014", country="NLD", surname=person.surname)
    out.image("nl_passport_2014_scan300.jpg", sheet, jpeg_bytes(sheet.image, 300), **common,
              capture="flatbed 300 dpi", notes=MODEL_NOTES["2014"])
    stored, exif = with_exif_orientation(sheet.image, 6)
    out.image("nl_passport_2014_exif_orientation6.jpg", sheet, jpeg_bytes(stored, 300, exif=exif), **common,
              capture="EXIF orientation 6 only", notes="the same scan as nl_passport_2014_scan300.jpg; pixels "
              "stored turned 90 degrees counter-clockwise with EXIF Orientation=6, so it displays upright; "
              "boxes are in displayed coordinates")

    doc, person, rng, nrng = nl_passport(seed, "passport_pre2014", "pre2014", 200, assets)
    sheet = passport_scan(doc, 200)
    out.image("nl_passport_pre2014_scan200.png", sheet, png_bytes(sheet.image, 200), kind=P, generation="pre2014",
              country="NLD", surname=person.surname, capture="flatbed 200 dpi PNG",
              notes=MODEL_NOTES["pre2014"] + "; printed sofinummer-style with dots; the document is expired")

    doc, person, rng, nrng = nl_passport(seed, "passport2021", "2021", 300, assets)
    sheet = passport_scan(doc, 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_passport_2021_scan300.jpg", sheet, jpeg_bytes(sheet.image, 300), kind=P, generation="2021",
              country="NLD", surname=person.surname, capture="flatbed 300 dpi", notes=MODEL_NOTES["2021"])

    for name, key, model_name, degrees in [("nl_passport_2014_rotated90.jpg", "rot90", "2014", 90),
                                           ("nl_passport_2021_rotated180.jpg", "rot180", "2021", 180),
                                           ("nl_passport_pre2014_rotated270.jpg", "rot270", "pre2014", 270)]:
        doc, person, rng, nrng = nl_passport(seed, key, model_name, 200, assets)
        sheet = rotate(passport_scan(doc, 200), degrees)
        sheet.image = scan_noise(sheet.image, nrng, 2.0)
        turn = {90: "90 degrees clockwise", 180: "180 degrees", 270: "90 degrees counter-clockwise"}[degrees]
        out.image(name, sheet, jpeg_bytes(sheet.image, 200), kind=P, generation=model_name, country="NLD",
                  surname=person.surname, capture=f"pixels turned {turn}", rotation=degrees,
                  notes=MODEL_NOTES[model_name] + f"; 200 dpi scan whose pixels are turned {turn} (no EXIF tag)")

    for name, key, model_name, small in [("nl_passport_2014_phone_photo.jpg", "phone", "2014", False),
                                         ("nl_passport_pre2014_phone_photo.jpg", "phone_pre2014", "pre2014", False),
                                         ("nl_passport_2021_phone_small.jpg", "phone_small", "2021", True)]:
        doc, person, rng, nrng = nl_passport(seed, key, model_name, 250, assets)
        avoid = [m.quad for m in doc.marks if m.role in ("personal_number", "qr")]
        sheet = phone_photo(doc, rng, nrng, avoid, blur=1.1 if not small else 1.6)
        if small:
            sheet = downscale(sheet, 0.5)
        out.image(name, sheet, jpeg_bytes(sheet.image, 72, quality=85), kind=P, generation=model_name,
                  country="NLD", surname=person.surname, precision="warped",
                  capture="phone photo, perspective" + (", small (800 px wide)" if small else ""),
                  notes=MODEL_NOTES[model_name] + "; phone photo at an angle on a wooden table, blur, a glare "
                  "blob on the header; boxes are bounding boxes of the warped quadrilaterals")

    # PDF from a scanner app with a hidden OCR text layer; and an image-only PDF
    doc, person, rng, nrng = nl_passport(seed, "pdf_ocr", "2014", 200, assets)
    sheet = on_bed([(doc, (20, 20))], A4_MM, ppmm_of(200), rounded_mm=1.0, bed=(252, 252, 252))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    data, (portraits, numbers, keep, qr), size = pdf_document(
        [(sheet, jpeg_bytes(sheet.image, 200, quality=80), 200, A4_PT)], True)
    out.add(data, Entry("nl_passport_2014_ocr_layer.pdf", P, "NLD", "redacted", person.surname, portraits, numbers,
                        keep, qr, sheet.mrz, MODEL_NOTES["2014"] + "; A4 PDF from a scanner app: one JPEG image "
                        "(200 dpi) plus an invisible (render mode 3) OCR text layer holding all printed text, the "
                        "BSN in its MRZ line", list(size), "2014", "PDF with hidden OCR text layer",
                        box_units="pt"))
    doc, person, rng, nrng = nl_passport(seed, "pdf_image", "pre2014", 150, assets)
    sheet = on_bed([(doc, (30, 25))], A4_MM, ppmm_of(150), rounded_mm=1.0, bed=(250, 250, 250))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    data, (portraits, numbers, keep, qr), size = pdf_document(
        [(sheet, jpeg_bytes(sheet.image, 150, quality=82), 150, A4_PT)], False)
    out.add(data, Entry("nl_passport_pre2014_image_only.pdf", P, "NLD", "redacted", person.surname, portraits,
                        numbers, keep, qr, sheet.mrz, MODEL_NOTES["pre2014"] + "; A4 PDF holding one 150 dpi JPEG, "
                        "no text layer", list(size), "pre2014", "PDF, image only", box_units="pt"))

    doc, person, rng, nrng = nl_passport(seed, "formats", "2014", 200, assets)
    sheet = passport_scan(doc, 200)
    for fmt in ("heic", "webp", "tiff"):
        out.image(f"nl_passport_2014_as_{fmt}.{fmt}", sheet, encode(sheet.image, fmt, 200), kind=P,
                  generation="2014", country="NLD", surname=person.surname, capture=f"{fmt.upper()} file, 200 dpi",
                  notes=MODEL_NOTES["2014"] + "; the same document is also stored as "
                  + ", ".join(f for f in ("HEIC", "WebP", "TIFF") if f.lower() != fmt))

    # the requester struck through the BSN and the photo with a thin pen; both stay legible
    doc, person, rng, nrng = nl_passport(seed, "pen", "pre2014", 300, assets)
    sheet = passport_scan(doc, 300)
    pen_line(sheet, ("personal_number", "viz"), rng, 3)
    pen_line(sheet, ("portrait", "main"), rng, 3, cross=True)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_passport_pre2014_pen_line_over_bsn.jpg", sheet, jpeg_bytes(sheet.image, 300), kind=P,
              generation="pre2014", country="NLD", surname=person.surname, capture="flatbed 300 dpi, pen strokes",
              notes=MODEL_NOTES["pre2014"] + "; the requester tried to redact: a thin blue pen line through the "
              "printed BSN and a pen cross over the portrait, both still legible; the MRZ was not touched")

    doc, person, rng, nrng = nl_passport(seed, "lowres", "2014", 300, assets)
    sheet = downscale(passport_scan(doc, 300), 110 / 300)
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.image("nl_passport_2014_lowres_110dpi.jpg", sheet, jpeg_bytes(sheet.image, 110), kind=P,
              generation="2014", country="NLD", surname=person.surname, capture="low resolution, 110 dpi",
              notes=MODEL_NOTES["2014"] + "; scanned at 110 dpi (MRZ characters about 11 px tall)")

    for name, key, model_name, degrees in [("nl_passport_2021_skew_3deg.jpg", "skew2021", "2021", 3.0),
                                           ("nl_passport_2014_skew_minus4deg.jpg", "skew2014", "2014", -4.0)]:
        doc, person, rng, nrng = nl_passport(seed, key, model_name, 250, assets)
        sheet = skew(passport_scan(doc, 250, margin_mm=12), degrees)
        sheet.image = scan_noise(sheet.image, nrng, 2.0)
        way = "counter-clockwise" if degrees > 0 else "clockwise"
        out.image(name, sheet, jpeg_bytes(sheet.image, 250), kind=P, generation=model_name, country="NLD",
                  surname=person.surname, capture=f"skewed {abs(degrees):g} degrees {way}", precision="warped",
                  notes=MODEL_NOTES[model_name] + f"; 250 dpi scan, the page lies {abs(degrees):g} degrees "
                  f"{way} on the glass; boxes are bounding boxes of the tilted quadrilaterals")

    # back of the 2021 holder page: BSN in digits and as a QR code, no photo, no MRZ
    HB = "passport_holder_page_back"
    hb_notes = ("NL passport 2021 model, back of the holder page: the BSN in readable digits and a QR code that "
                "holds it; no portrait, no MRZ")
    rng, nrng = rngs(seed, "holder_back")
    person = make_person(rng, ISSUE_YEARS["2021"])
    sheet = passport_scan(draw_holder_back_2021(person, ppmm_of(300), rng, person.bsn), 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_passport_2021_holder_back_scan300.jpg", sheet, jpeg_bytes(sheet.image, 300), kind=HB,
              generation="2021", country="NLD", surname=None, capture="flatbed 300 dpi", notes=hb_notes)
    rng, nrng = rngs(seed, "holder_back_phone")
    person = make_person(rng, ISSUE_YEARS["2021"])
    doc = draw_holder_back_2021(person, ppmm_of(250), rng, grouped(person.bsn, (3, 3), " "))
    avoid = [m.quad for m in doc.marks if m.role in ("personal_number", "qr")]
    sheet = phone_photo(doc, rng, nrng, avoid, glare_at=(0.45, 0.9))
    out.image("nl_passport_2021_holder_back_phone_photo.jpg", sheet, jpeg_bytes(sheet.image, 72, quality=85),
              kind=HB, generation="2021", country="NLD", surname=None, capture="phone photo, perspective",
              precision="warped", notes=hb_notes + "; BSN printed in groups of three; phone photo at an angle, "
              "glare low on the page")
    rng, nrng = rngs(seed, "holder_back_rot270")
    person = make_person(rng, ISSUE_YEARS["2021"])
    sheet = rotate(passport_scan(draw_holder_back_2021(person, ppmm_of(200), rng, person.bsn), 200), 270)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_passport_2021_holder_back_rotated270.jpg", sheet, jpeg_bytes(sheet.image, 200), kind=HB,
              generation="2021", country="NLD", surname=None, capture="pixels turned 90 degrees counter-clockwise",
              rotation=270, notes=hb_notes + "; 200 dpi, pixels turned 90 degrees counter-clockwise")


ID_NOTES = {
    ("2014", "front"): "NL ID card 2014 model, front: main portrait and ghost portrait, no BSN, no MRZ",
    ("2014", "back"): "NL ID card 2014 model, back: BSN printed as 'Persoonsnummer' and in TD1 MRZ line 1 "
                      "optional data (positions 16-30)",
    ("2021", "front"): "NL ID card 2021 model, front: main portrait and ghost portrait, no BSN, no MRZ",
    ("2021", "back"): "NL ID card 2021 model, back: BSN in digits at the right and as a QR code; TD1 MRZ "
                      "optional data is filler",
}


def build_id_cards(seed: int, assets: Assets, out: Output) -> None:
    def card(key: str, model: str, dpi: int, side: str) -> tuple[Sheet, Person, random.Random, np.random.Generator]:
        rng, nrng = rngs(seed, key)
        person = make_person(rng, ISSUE_YEARS[model], bsn=SPECIMEN_BSN if model == "2014" and "a4" in key else None)
        ppmm = ppmm_of(dpi)
        doc = draw_id_front(person, ppmm, assets, rng, model) if side == "front" else \
            draw_id_back(person, ppmm, rng, model)
        return doc, person, rng, nrng

    def flat(name: str, key: str, model: str, side: str, dpi: int = 300, degrees: int = 0) -> None:
        doc, person, rng, nrng = card(key, model, dpi, side)
        sheet = card_scan(doc, dpi)
        if degrees:
            sheet = rotate(sheet, degrees)
        sheet.image = scan_noise(sheet.image, nrng, 2.0)
        turn = {0: "", 90: "pixels turned 90 degrees clockwise", 270: "pixels turned 90 degrees counter-clockwise"}
        out.image(name, sheet, jpeg_bytes(sheet.image, dpi), kind=f"id_card_{side}", generation=model,
                  country="NLD", surname=person.surname if side == "front" else None, rotation=degrees,
                  capture=turn[degrees] or f"flatbed {dpi} dpi",
                  notes=ID_NOTES[(model, side)] + f"; {dpi} dpi" + (f", {turn[degrees]}" if degrees else ""))

    flat("nl_idcard_2014_front_scan300.jpg", "id2014_front", "2014", "front")
    flat("nl_idcard_2014_back_scan300.jpg", "id2014_back", "2014", "back")
    flat("nl_idcard_2014_back_rotated90.jpg", "id2014_back_rot90", "2014", "back", 200, 90)
    flat("nl_idcard_2021_front_scan300.jpg", "id2021_front", "2021", "front")
    flat("nl_idcard_2021_back.jpg", "idcard2021_back", "2021", "back")
    flat("nl_idcard_2021_back_rotated270.jpg", "id2021_back_rot270", "2021", "back", 200, 270)

    # both sides of one card on one A4 page
    for name, key, model, dpi in [("nl_idcard_2014_both_sides_a4_150dpi.jpg", "idcard2014_a4", "2014", 150),
                                  ("nl_idcard_2021_both_sides_a4_200dpi.jpg", "idcard2021_a4", "2021", 200)]:
        rng, nrng = rngs(seed, key)
        person = make_person(rng, ISSUE_YEARS[model], bsn=SPECIMEN_BSN if model == "2014" else None)
        ppmm = ppmm_of(dpi)
        front, back = draw_id_front(person, ppmm, assets, rng, model), draw_id_back(person, ppmm, rng, model)
        sheet = on_bed([(front, (22, 28)), (back, (22, 98))], A4_MM, ppmm, rounded_mm=3.18, bed=(250, 250, 250))
        sheet.image = scan_noise(sheet.image, nrng, 1.5)
        out.image(name, sheet, jpeg_bytes(sheet.image, dpi), kind="id_card_both_sides", generation=model,
                  country="NLD", surname=person.surname, capture=f"both sides on one A4 page, {dpi} dpi",
                  notes=f"{ID_NOTES[(model, 'front')]}; {ID_NOTES[(model, 'back')]}; both on one A4 page"
                  + ("; uses the specimen BSN 999999990" if person.bsn == SPECIMEN_BSN else ""))

    # two-page PDF, 2014 card front then back, images only
    rng, nrng = rngs(seed, "pdf_two_pages")
    person = make_person(rng, ISSUE_YEARS["2014"], bsn=SPECIMEN_BSN)
    ppmm = ppmm_of(300)
    front = card_scan(draw_id_front(person, ppmm, assets, rng, "2014"), 300)
    back = card_scan(draw_id_back(person, ppmm, rng, "2014"), 300)
    front.image, back.image = scan_noise(front.image, nrng, 2.0), scan_noise(back.image, nrng, 2.0)
    data, (portraits, numbers, keep, qr), size = pdf_document(
        [(front, jpeg_bytes(front.image, 300), 300, None), (back, jpeg_bytes(back.image, 300), 300, None)], False)
    out.add(data, Entry("nl_idcard_2014_two_pages.pdf", "id_card_both_sides", "NLD", "redacted", person.surname,
                        portraits, numbers, keep, qr, front.mrz + back.mrz, "two-page PDF, one 300 dpi JPEG per "
                        "page, no text layer: page 0 " + ID_NOTES[("2014", "front")] + "; page 1 "
                        + ID_NOTES[("2014", "back")], list(size), "2014", "PDF, image only, two pages",
                        box_units="pt"))

    # 2021 card both sides on A4 with a hidden OCR text layer (the BSN is in it)
    rng, nrng = rngs(seed, "id2021_pdf_ocr")
    person = make_person(rng, ISSUE_YEARS["2021"])
    ppmm = ppmm_of(200)
    sheet = on_bed([(draw_id_front(person, ppmm, assets, rng, "2021"), (25, 30)),
                    (draw_id_back(person, ppmm, rng, "2021"), (25, 100))], A4_MM, ppmm, rounded_mm=3.18,
                   bed=(252, 252, 252))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    data, (portraits, numbers, keep, qr), size = pdf_document(
        [(sheet, jpeg_bytes(sheet.image, 200, quality=80), 200, A4_PT)], True)
    out.add(data, Entry("nl_idcard_2021_both_sides_ocr_layer.pdf", "id_card_both_sides", "NLD", "redacted",
                        person.surname, portraits, numbers, keep, qr, sheet.mrz, ID_NOTES[("2021", "front")] + "; "
                        + ID_NOTES[("2021", "back")] + "; A4 PDF from a scanner app (200 dpi JPEG) with an "
                        "invisible OCR text layer that holds the BSN", list(size), "2021",
                        "PDF with hidden OCR text layer", box_units="pt"))

    # one card front on an A4 page, image-only PDF: shrunk whole to OCR size its labels are a few
    # pixels high, so a reader must look closer where the card is
    rng, nrng = rngs(seed, "id2021_front_a4_pdf")
    person = make_person(rng, ISSUE_YEARS["2021"])
    sheet = on_bed([(draw_id_front(person, ppmm_of(200), assets, rng, "2021"), (25, 25))], A4_MM, ppmm_of(200),
                   rounded_mm=3.18, bed=(251, 251, 251))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    data, (portraits, numbers, keep, qr), size = pdf_document(
        [(sheet, jpeg_bytes(sheet.image, 200, quality=82), 200, A4_PT)], False)
    out.add(data, Entry("nl_idcard_2021_front_a4.pdf", "id_card_front", "NLD", "redacted", person.surname,
                        portraits, numbers, keep, qr, sheet.mrz, ID_NOTES[("2021", "front")] + "; the card alone "
                        "near the top left of an A4 page, 200 dpi JPEG in a PDF, no text layer", list(size), "2021",
                        "PDF, image only, card on A4", box_units="pt"))

    # phone photos: a 2021 front, and a small (800 px) 2014 front
    for name, key, model, small in [("nl_idcard_2021_front_phone_photo.jpg", "id2021_front_phone", "2021", False),
                                    ("nl_idcard_2014_front_phone_small.jpg", "id2014_front_small", "2014", True)]:
        doc, person, rng, nrng = card(key, model, 300, "front")
        sheet = phone_photo(doc, rng, nrng, [], glare_at=(0.5, 0.05), blur=1.2 if not small else 1.6)
        if small:
            sheet = downscale(sheet, 0.5)
        out.image(name, sheet, jpeg_bytes(sheet.image, 72, quality=85), kind="id_card_front", generation=model,
                  country="NLD", surname=person.surname, precision="warped",
                  capture="phone photo, perspective" + (", small (800 px wide)" if small else ""),
                  notes=ID_NOTES[(model, "front")] + "; phone photo at an angle on a table, blur, glare on the "
                  "header" + ("; downscaled to 800 px wide" if small else ""))

    # a phone held upright photographs the card lying across and askew on the table: perspective,
    # lines slanted 6 degrees, and a quarter turn without an EXIF tag
    doc, person, rng, nrng = card("id2014_back_phone_upright", "2014", 300, "back")
    avoid = [m.quad for m in doc.marks if m.role == "personal_number"]
    photo = phone_photo(doc, rng, nrng, avoid, glare_at=(0.56, 0.09), blur=1.1)
    sheet = rotate(skew(photo, 6.0, bed=(92, 66, 47)), 90)
    out.image("nl_idcard_2014_back_phone_upright.jpg", sheet, jpeg_bytes(sheet.image, 72, quality=85),
              kind="id_card_back", generation="2014", country="NLD", surname=None, precision="warped", rotation=90,
              capture="phone photo, perspective, askew 6 degrees, turned 90 degrees clockwise",
              notes=ID_NOTES[("2014", "back")] + "; phone photo at an angle on a table, the card askew, taken "
              "with the phone upright: pixels turned 90 degrees clockwise, no EXIF orientation")

    doc, person, rng, nrng = card("id2021_back_skew", "2021", 300, "back")
    sheet = skew(card_scan(doc, 300, margin_mm=8), 2.0)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_idcard_2021_back_skew_2deg.jpg", sheet, jpeg_bytes(sheet.image, 300), kind="id_card_back",
              generation="2021", country="NLD", surname=None, capture="skewed 2 degrees counter-clockwise",
              precision="warped", notes=ID_NOTES[("2021", "back")] + "; 300 dpi, lying 2 degrees "
              "counter-clockwise on the glass")

    doc, person, rng, nrng = card("id2021_back_exif8", "2021", 300, "back")
    sheet = card_scan(doc, 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    stored, exif = with_exif_orientation(sheet.image, 8)
    out.image("nl_idcard_2021_back_exif_orientation8.jpg", sheet, jpeg_bytes(stored, 300, exif=exif),
              kind="id_card_back", generation="2021", country="NLD", surname=None, capture="EXIF orientation 8 only",
              notes=ID_NOTES[("2021", "back")] + "; pixels stored turned 90 degrees clockwise with EXIF "
              "Orientation=8, so it displays upright")

    doc, person, rng, nrng = card("id2021_back_lowres", "2021", 300, "back")
    sheet = downscale(card_scan(doc, 300), 120 / 300)
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.image("nl_idcard_2021_back_lowres_120dpi.jpg", sheet, jpeg_bytes(sheet.image, 120), kind="id_card_back",
              generation="2021", country="NLD", surname=None, capture="low resolution, 120 dpi",
              notes=ID_NOTES[("2021", "back")] + "; 120 dpi (QR modules about 2.5 px)")

    # the printed BSN smeared beyond reading -> needs_review
    doc, person, rng, nrng = card("smeared", "2021", 300, "back")
    sheet = card_scan(doc, 300)
    smear(sheet, rng)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_idcard_2021_back_bsn_smeared.jpg", sheet, jpeg_bytes(sheet.image, 300), kind="id_card_back",
              generation="2021", country="NLD", surname=None, status="needs_review", capture="flatbed 300 dpi",
              notes=ID_NOTES[("2021", "back")] + "; the printed value is blurred and scribbled over so no number "
              "can be read (box = smeared area, text = what was printed underneath); a person must check")


def build_driving_licences(seed: int, assets: Assets, out: Output) -> None:
    notes = {"2006": "NL driving licence (EU card), 2006 model: BSN in field 4d, the 10-digit licence number in "
                     "field 5 must stay readable; no MRZ, no ghost",
             "2025": "NL driving licence, newest model (2025 specimen): no field 4d, no BSN at all; a one-line "
                     "D1NLD code that holds the licence number, no BSN"}

    def licence(key: str, model: str, dpi: int) -> tuple[Sheet, Person, random.Random, np.random.Generator]:
        rng, nrng = rngs(seed, key)
        person = make_person(rng, (2013, 2023) if model == "2006" else (2025, 2025))
        licence_no = make_licence_number(rng)
        return draw_driving_licence(person, licence_no, ppmm_of(dpi), assets, rng, model), person, rng, nrng

    doc, person, rng, nrng = licence("driving_licence", "2006", 300)
    sheet = card_scan(doc, 300)
    out.image("nl_driving_licence_2006_scan300.png", sheet, png_bytes(sheet.image, 300), kind="driving_licence",
              generation="2006", country="NLD", surname=person.surname, capture="flatbed 300 dpi PNG",
              notes=notes["2006"])
    doc, person, rng, nrng = licence("dl2006_phone", "2006", 300)
    avoid = [m.quad for m in doc.marks if m.role == "personal_number"]
    sheet = phone_photo(doc, rng, nrng, avoid)
    out.image("nl_driving_licence_2006_phone_photo.jpg", sheet, jpeg_bytes(sheet.image, 72, quality=85),
              kind="driving_licence", generation="2006", country="NLD", surname=person.surname,
              capture="phone photo, perspective", precision="warped", notes=notes["2006"] + "; phone photo")
    doc, person, rng, nrng = licence("dl2006_rot90", "2006", 200)
    sheet = rotate(card_scan(doc, 200), 90)
    out.image("nl_driving_licence_2006_rotated90.webp", sheet, encode(sheet.image, "webp", 200),
              kind="driving_licence", generation="2006", country="NLD", surname=person.surname, rotation=90,
              capture="WebP, pixels turned 90 degrees clockwise", notes=notes["2006"] + "; 200 dpi WebP")
    doc, person, rng, nrng = licence("dl2025", "2025", 300)
    sheet = card_scan(doc, 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("nl_driving_licence_2025_scan300.jpg", sheet, jpeg_bytes(sheet.image, 300), kind="driving_licence",
              generation="2025", country="NLD", surname=person.surname, capture="flatbed 300 dpi",
              notes=notes["2025"])
    doc, person, rng, nrng = licence("dl2025_lowres", "2025", 300)
    sheet = downscale(card_scan(doc, 300), 100 / 300)
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.image("nl_driving_licence_2025_lowres_100dpi.jpg", sheet, jpeg_bytes(sheet.image, 100),
              kind="driving_licence", generation="2025", country="NLD", surname=person.surname,
              capture="low resolution, 100 dpi", notes=notes["2025"] + "; 100 dpi")


def build_foreign_and_letters(seed: int, assets: Assets, out: Output) -> None:
    rng, nrng = rngs(seed, "utopia")
    person = make_person(rng, ISSUE_YEARS["UTO"], bsn="".join(str(rng.randint(0, 9)) for _ in range(10)))
    person = replace(person, surname=rng.choice(["ERIKSSON", "MUSTERFRAU", "OLSEN"]))
    sheet = passport_scan(draw_passport(person, nl_passport_models()["UTO"], ppmm_of(300), assets, rng), 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("uto_passport.jpg", sheet, jpeg_bytes(sheet.image, 300), kind="passport_data_page", generation=None,
              country="UTO", surname=person.surname, capture="flatbed 300 dpi",
              notes="passport of the fictitious state Utopia (UTO), 300 dpi; a 10-digit national personal number "
              "printed with a dash and plain in the MRZ personal-number field (no checksum scheme); no ghost")

    rng, nrng = rngs(seed, "utopia_id")
    person = make_person(rng, ISSUE_YEARS["UTO"], bsn="".join(str(rng.randint(0, 9)) for _ in range(10)))
    person = replace(person, surname=rng.choice(["NOWAK", "LINDQVIST", "KOVAC"]))
    printed = f"{person.bsn[:6]}/{person.bsn[6:8]} {person.bsn[8:]}"
    ppmm = ppmm_of(300)
    front = draw_id_front(person, ppmm, assets, rng, "UTO")
    back = draw_id_back(person, ppmm, rng, "UTO", printed=printed)
    sheet = on_bed([(front, (6, 6)), (back, (97, 6))], (188.6, 66), ppmm, rounded_mm=3.18)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.image("uto_idcard_both_sides.jpg", sheet, jpeg_bytes(sheet.image, 300), kind="id_card_both_sides",
              generation=None, country="UTO", surname=person.surname, capture="both sides side by side, 300 dpi",
              notes="ID card of the fictitious state Utopia, front (portrait + ghost) and back side by side; the "
              f"personal number is printed '{printed}' (slash and space) and plain in TD1 line 1 optional data")

    rng, nrng = rngs(seed, "letter")
    sheet = draw_letter(assets, rng, ppmm_of(150), LETTER_WITH_PHOTO, photo=True)
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.image("letter_with_photo.jpg", sheet, jpeg_bytes(sheet.image, 150), kind="letter", generation=None,
              country=None, surname=None, status="needs_review", capture="A4 150 dpi",
              notes="an A4 letter with a pasted face photo and text, but no identity document")
    rng, nrng = rngs(seed, "letter_visa")
    sheet = draw_letter(assets, rng, ppmm_of(150), LETTER_VISA, photo=False)
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.image("letter_visa_passport_text.jpg", sheet, jpeg_bytes(sheet.image, 150), kind="letter", generation=None,
              country=None, surname=None, status="needs_review", capture="A4 150 dpi",
              notes="a plain text letter that mentions 'Visa', 'passport' and 'paspoort', with field-like words, "
              "but shows no document: must not be published as an identity document (needs_review or rejected)")


# --- every document in every capture style (--matrix): an evaluation set, not committed

MATRIX_DOCS = ("passport_2014", "passport_2021", "passport_pre2014", "holder_back_2021", "id_2014_front",
               "id_2014_back", "id_2021_front", "id_2021_back", "licence_2006", "licence_2025")
# phone_rot90/270: a phone held upright photographs a card or passport lying across, and the
# photo comes without an EXIF turn: perspective, glare and a quarter turn together.
# The last five combine what real captures combine: a phone held upside down, a small scan
# turned, a skewed scan turned, a grey office scan, and a heavily compressed mail attachment.
MATRIX_STYLES = ("scan300", "phone", "phone_small", "rot90", "rot180", "rot270", "lowres", "skew", "pdf",
                 "phone_rot90", "phone_rot270", "phone_rot180", "lowres_rot90", "skew_rot270", "grey", "jpeg_poor")


def matrix_document(seed: int, doc: str, style: str, dpi: int, assets: Assets,
                    ) -> tuple[Sheet, str, str, str, str | None, bool, random.Random, np.random.Generator]:
    """One document drawn at `dpi`: (sheet scanned flat, kind, generation, notes, surname, is_card, rngs)."""
    rng, nrng = rngs(seed, f"matrix:{doc}:{style}")
    ppmm = ppmm_of(dpi)
    if doc.startswith("passport_"):
        model = doc.split("_")[1]
        person = make_person(rng, ISSUE_YEARS[model])
        sheet = draw_passport(person, nl_passport_models()[model], ppmm, assets, rng)
        return sheet, "passport_data_page", model, MODEL_NOTES[model], person.surname, False, rng, nrng
    if doc == "holder_back_2021":
        person = make_person(rng, ISSUE_YEARS["2021"])
        printed = rng.choice([person.bsn, grouped(person.bsn, (3, 3), " ")])
        sheet = draw_holder_back_2021(person, ppmm, rng, printed)
        return sheet, "passport_holder_page_back", "2021", "NL passport 2021, holder-page back", None, False, rng, nrng
    if doc.startswith("id_"):
        _, model, side = doc.split("_")
        person = make_person(rng, ISSUE_YEARS[model])
        sheet = draw_id_front(person, ppmm, assets, rng, model) if side == "front" else draw_id_back(person, ppmm, rng, model)
        surname = person.surname if side == "front" else None
        return sheet, f"id_card_{side}", model, ID_NOTES[(model, side)], surname, True, rng, nrng
    model = doc.split("_")[1]
    person = make_person(rng, (2013, 2023) if model == "2006" else (2025, 2025))
    licence_no = make_licence_number(rng)
    sheet = draw_driving_licence(person, licence_no, ppmm, assets, rng, model)
    return sheet, "driving_licence", model, f"NL driving licence {model}", person.surname, True, rng, nrng


def build_matrix(seed: int, assets: Assets, out: Output) -> None:
    """Each document of MATRIX_DOCS in each capture style of MATRIX_STYLES."""
    for doc in MATRIX_DOCS:
        for style in MATRIX_STYLES:
            dpi = {"scan300": 300, "lowres": 300, "lowres_rot90": 300, "pdf": 200, "jpeg_poor": 150}.get(
                style, 250 if style.startswith("phone") else 200)
            sheet, kind, generation, notes, surname, is_card, rng, nrng = matrix_document(seed, doc, style, dpi, assets)
            scan = card_scan if is_card else passport_scan
            name = f"m_{doc}_{style}"
            common = dict(kind=kind, generation=generation, country="NLD", surname=surname)
            if style.startswith("phone"):
                avoid = [m.quad for m in sheet.marks if m.role in ("personal_number", "qr")]
                for glare in ((0.56, 0.09), (0.45, 0.9), None):  # glare never on a BSN or QR code
                    try:
                        photo = phone_photo(sheet, rng, nrng, avoid, glare, blur=1.6 if style == "phone_small" else 1.1)
                        break
                    except AssertionError:
                        continue
                if style == "phone_small":
                    photo = downscale(photo, 0.5)
                degrees = int(style[len("phone_rot"):]) if style.startswith("phone_rot") else 0
                photo = rotate(photo, degrees) if degrees else photo
                out.image(name + ".jpg", photo, jpeg_bytes(photo.image, 72, quality=85), **common, notes=notes,
                          capture="phone photo, perspective" + (f", turned {degrees} degrees clockwise" if degrees else ""),
                          rotation=degrees, precision="warped")
            elif style.startswith("rot"):
                degrees = int(style[3:])
                turned = rotate(scan(sheet, dpi), degrees)
                turned.image = scan_noise(turned.image, nrng, 2.0)
                out.image(name + ".jpg", turned, jpeg_bytes(turned.image, dpi), **common, notes=notes,
                          capture=f"pixels turned {degrees} degrees clockwise", rotation=degrees)
            elif style in ("lowres", "lowres_rot90"):
                low_dpi = rng.choice([100, 110, 120])
                small = downscale(scan(sheet, dpi), low_dpi / dpi)
                small.image = scan_noise(small.image, nrng, 1.5)
                degrees = 90 if style == "lowres_rot90" else 0
                small = rotate(small, degrees) if degrees else small
                out.image(name + ".jpg", small, jpeg_bytes(small.image, low_dpi), **common, notes=notes,
                          capture=f"low resolution, {low_dpi} dpi" + (f", turned {degrees} degrees" if degrees else ""),
                          rotation=degrees)
            elif style in ("skew", "skew_rot270"):
                degrees = rng.choice([-4.0, -2.5, 2.5, 4.0])
                tilted = skew(scan(sheet, dpi) if is_card else passport_scan(sheet, dpi, margin_mm=12), degrees)
                tilted.image = scan_noise(tilted.image, nrng, 2.0)
                turn = 270 if style == "skew_rot270" else 0
                tilted = rotate(tilted, turn) if turn else tilted
                out.image(name + ".jpg", tilted, jpeg_bytes(tilted.image, dpi), **common, notes=notes,
                          capture=f"skewed {degrees:g} degrees" + (f", turned {turn} degrees" if turn else ""),
                          rotation=turn, precision="warped")
            elif style == "pdf":
                page = on_bed([(sheet, (25, 25))], A4_MM, ppmm_of(dpi), rounded_mm=3.18 if is_card else 1.0,
                              bed=(251, 251, 251))
                page.image = scan_noise(page.image, nrng, 1.5)
                data, (portraits, numbers, keep, qr), size = pdf_document(
                    [(page, jpeg_bytes(page.image, dpi, quality=82), dpi, A4_PT)], False)
                out.add(data, Entry(name + ".pdf", kind, "NLD", "redacted", surname, portraits, numbers, keep, qr,
                                    page.mrz, notes + "; A4 PDF, image only", list(size), generation,
                                    "PDF, image only", box_units="pt"))
            else:  # flatbed: scan300, grey, jpeg_poor
                flat = scan(sheet, dpi)
                grey = style == "grey"
                if grey:
                    flat.image = flat.image.convert("L").convert("RGB")
                flat.image = scan_noise(flat.image, nrng, 2.0)
                if grey:
                    flat.image = flat.image.convert("L")
                quality = 35 if style == "jpeg_poor" else JPEG_QUALITY
                out.image(name + ".jpg", flat, jpeg_bytes(flat.image, dpi, quality=quality), **common, notes=notes,
                          capture=("greyscale " if grey else "") + f"flatbed {dpi} dpi"
                          + (f", JPEG quality {quality}" if quality != JPEG_QUALITY else ""))


def build(seed: int, matrix: bool = False) -> Output:
    assets = load_assets()
    out = Output()
    if matrix:
        build_matrix(seed, assets, out)
        return out
    build_passports(seed, assets, out)
    build_id_cards(seed, assets, out)
    build_driving_licences(seed, assets, out)
    build_foreign_and_letters(seed, assets, out)
    return out


def write(out: Output, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in out.files.items():
        (folder / name).write_bytes(data)
    text = json.dumps([e.as_json() for e in out.entries], indent=1, ensure_ascii=False) + "\n"
    (folder / "annotations.json").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--matrix", action="store_true",
                    help="every Dutch document in every capture style (%d files), for evaluation; needs --out"
                    % (len(MATRIX_DOCS) * len(MATRIX_STYLES)))
    args = ap.parse_args(argv)
    if args.matrix and args.out == Path(__file__).resolve().parent:
        ap.error("--matrix writes an evaluation set: give --out DIR outside sample_docs/")
    write(build(args.seed, args.matrix), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
