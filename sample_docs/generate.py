"""Deterministic generator of synthetic Dutch identity documents with exact ground truth.

    .venv/bin/python sample_docs/generate.py --seed 7 --out sample_docs

Everything is drawn here (Pillow, OpenCV, numpy, PyMuPDF); the only image source is
scikit-image's bundled ``astronaut`` photo, the only fonts are Debian's DejaVu. Every
personal number, portrait and field that must stay readable is recorded while it is
drawn and carried as a quadrilateral through every later step (placement on the scanner
bed, rotation, EXIF orientation, perspective warp, PDF placement), so the boxes written
to ``annotations.json`` are exact. Same seed -> same bytes.
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

    role: str  # "portrait" | "personal_number" | "keep"
    kind: str  # portrait: main/ghost; personal_number: viz/mrz/text_layer; keep: field name
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
    name: str  # "pre2014" | "2014" | "2021" | "UTO"
    state: str
    paper: tuple[int, int, int]
    lines: tuple[tuple[int, int, int], ...]
    ghost: bool
    bsn_in_mrz: bool
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
    mrz: list[str]
    notes: str
    size: list[float]
    box_units: str | None = None

    def as_json(self) -> dict:
        out: dict = {"file": self.file, "kind": self.kind, "country": self.country,
                     "expected_status": self.expected_status, "surname": self.surname}
        if self.box_units:
            out["box_units"] = self.box_units
        out.update(size=self.size, portraits=self.portraits, personal_numbers=self.personal_numbers,
                   keep_fields=self.keep_fields)
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
                    mark: tuple[str, str] | None = None, gap_mm: float | None = None) -> tuple[int, ...]:
        self.text(x_mm, base_mm, label, cap_mm=1.0, fill=LABEL_INK)
        return self.text(x_mm, base_mm + (gap_mm or cap_mm + 1.7), value, cap_mm=cap_mm, mark=mark)

    def mrz(self, x_mm: float, baselines_mm: list[float], lines: list[str],
            personal: tuple[int, int, str] | None) -> None:
        """Print MRZ lines cell by cell at 10 characters per inch, glyphs about 2.5 mm tall like OCR-B.

        personal = (line index, 0-based offset, text): those cells are marked as a personal number.
        """
        pitch = self.px(MRZ_PITCH_MM)
        font = self.cap_font("mono", MRZ_CAP_MM)
        for i, (line, base) in enumerate(zip(lines, baselines_mm)):
            x0, y = self.px(x_mm), round(self.px(base))
            cells = []
            for j, ch in enumerate(line):
                ox = x0 + j * pitch + (pitch - font.getlength(ch)) / 2  # centre the glyph in its cell
                self.draw.text((ox, y), ch, font=font, fill=(15, 15, 20), anchor="ls")
                if personal and personal[0] == i and personal[1] <= j < personal[1] + len(personal[2]):
                    cells.append(ink_box(font, ox, y, ch))
            # Courier's advance is 0.6 em: this size gives the hidden PDF text the same pitch
            self.runs.append(Run(line, np.array([[x0, y]], dtype=float), pitch / 0.6, True, len(line) * pitch))
            if cells:
                box = (min(c[0] for c in cells), min(c[1] for c in cells),
                       max(c[2] for c in cells), max(c[3] for c in cells))
                self.marks.append(Mark("personal_number", "mrz", personal[2], rect_quad(*box)))

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
    """Crop the astronaut to a 35x45 mm passport framing, varied per document."""
    zoom = rng.uniform(0.93, 1.07)
    w = 190 / zoom
    h = w * 45 / 35
    cx, cy = 225 + rng.uniform(-6, 6), 142 + rng.uniform(-5, 5)
    photo = assets.astronaut.crop((round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2)))
    if rng.random() < 0.5:
        photo = ImageOps.mirror(photo)
    photo = ImageEnhance.Brightness(photo).enhance(rng.uniform(0.92, 1.08))
    if grey:
        photo = ImageOps.grayscale(photo).convert("RGB")
    return photo


def ghost_photo(photo: Image.Image) -> Image.Image:
    """The faint second portrait: grey and low contrast (blended at 25-40 % opacity when pasted)."""
    grey = ImageOps.grayscale(photo)
    return ImageEnhance.Contrast(grey).enhance(0.7).convert("RGB")


# --------------------------------------------------------------------------- documents


def nl_passport_models() -> dict[str, PassportModel]:
    return {
        "pre2014": PassportModel("pre2014", "NLD", (232, 238, 247), ((170, 190, 225), (205, 215, 238)),
                                 ghost=False, bsn_in_mrz=True, grey_portrait=False,
                                 number_format=lambda b: f"{b[:4]}.{b[4:6]}.{b[6:]}"),
        "2014": PassportModel("2014", "NLD", (240, 236, 240), ((214, 190, 214), (190, 205, 230)),
                              ghost=True, bsn_in_mrz=True, grey_portrait=True, number_format=lambda b: b),
        "2021": PassportModel("2021", "NLD", (244, 238, 228), ((235, 200, 160), (180, 200, 225)),
                              ghost=True, bsn_in_mrz=False, grey_portrait=True,
                              number_format=lambda b: f"{b[:3]} {b[3:6]} {b[6:]}"),
        "UTO": PassportModel("UTO", "UTO", (236, 244, 236), ((170, 215, 180), (215, 225, 190)),
                             ghost=False, bsn_in_mrz=True, grey_portrait=False,
                             number_format=lambda b: f"{b[:6]}-{b[6:]}"),
    }


def draw_passport(p: Person, model: PassportModel, ppmm: float, assets: Assets, rng: random.Random) -> Sheet:
    """TD3 data page, 125 x 88 mm: portrait in zone V on the left, fields, ghost right, 2-line MRZ."""
    pt = Painter(TD3_MM, ppmm, model.paper)
    guilloche(pt, rng, model.lines, (0, 12, 125, 70), 34)
    rosette(pt, (96, 40), 22, model.lines[0], 9)
    dutch = model.state == "NLD"
    if model.name == "pre2014":  # the old model has a coloured title band
        pt.draw.rectangle((0, 0, pt.px(125), pt.px(12.5)), fill=(60, 90, 160))
        pt.text(4, 8.0, "PASPOORT", face="bold", cap_mm=3.0, fill=(245, 245, 250))
        pt.text(40, 6.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=2.2, fill=(245, 245, 250))
        pt.text(40, 10.0, "KINGDOM OF THE NETHERLANDS / ROYAUME DES PAYS-BAS", cap_mm=1.0, fill=(230, 230, 245))
    elif dutch:
        pt.text(4, 6.5, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=2.4, fill=(40, 50, 110))
        pt.text(4, 10.5, "PASPOORT / PASSPORT / PASSEPORT", face="bold", cap_mm=1.5, fill=(40, 50, 110))
        pt.text(72, 6.5, "KINGDOM OF THE NETHERLANDS / ROYAUME DES PAYS-BAS", cap_mm=1.0, fill=(60, 60, 110))
    else:
        pt.text(4, 6.5, "REPUBLIC OF UTOPIA", face="bold", cap_mm=2.4, fill=(20, 90, 50))
        pt.text(4, 10.5, "PASSPORT / PASSEPORT", face="bold", cap_mm=1.5, fill=(20, 90, 50))
        pt.text(72, 6.5, "RÉPUBLIQUE D'UTOPIE", cap_mm=1.0, fill=(20, 90, 50))

    photo = passport_photo(assets, rng, model.grey_portrait)
    pt.paste_portrait(photo, 4, 14, 31, 40, "main")
    if model.ghost:
        pt.paste_portrait(ghost_photo(photo), 109, 27, 13, 17, "ghost", opacity=rng.uniform(0.28, 0.38))

    def lab(nl: str, en: str, fr: str | None = None) -> str:
        parts = ([nl] if dutch else []) + [en] + ([fr] if fr else [])
        return " / ".join(parts)

    v = 2.0  # value cap height, mm
    pt.label_value(40, 15, lab("Soort", "Type", "Type"), "P", cap_mm=v)
    pt.label_value(56, 15, lab("Code", "Code", "Code"), model.state, cap_mm=v)
    pt.label_value(80, 15, lab("Paspoortnr.", "Passport No."), p.doc_number, cap_mm=v,
                   mark=("keep", "document_number"))
    pt.label_value(40, 22, lab("Naam", "Surname", "Nom"), p.surname, cap_mm=v, mark=("keep", "surname"))
    pt.label_value(40, 29, lab("Voornamen", "Given names", "Prénoms"), p.given_names, cap_mm=v,
                   mark=("keep", "given_names"))
    pt.label_value(40, 36, lab("Nationaliteit", "Nationality"), "Nederlandse" if dutch else "Utopian", cap_mm=v)
    birth = nl_date(p.birth) if dutch else dotted_date(p.birth)
    pt.label_value(80, 36, lab("Geboortedatum", "Date of birth"), birth, cap_mm=v, mark=("keep", "birth_date"))
    pt.label_value(40, 43, lab("Geboorteplaats", "Place of birth"), p.birth_place if dutch else "Utopia City",
                   cap_mm=v)
    pt.label_value(80, 43, lab("Geslacht", "Sex"), "V/F" if dutch else "F", cap_mm=v)
    pt.label_value(94, 43, lab("Lengte", "Height"), p.height, cap_mm=v)
    pt.label_value(40, 50, lab("Datum van afgifte", "Date of issue"),
                   nl_date(p.issue) if dutch else dotted_date(p.issue), cap_mm=v)
    expiry = nl_date(p.expiry) if dutch else dotted_date(p.expiry)
    pt.label_value(80, 50, lab("Geldig tot", "Date of expiry"), expiry, cap_mm=v, mark=("keep", "expiry_date"))
    printed = model.number_format(p.bsn)
    pt.label_value(40, 57, lab("Persoonsnummer", "Personal No.", "N° personnel"), printed, cap_mm=v,
                   mark=("personal_number", "viz"))
    pt.label_value(80, 57, lab("Autoriteit", "Authority"), p.authority if dutch else "Utopia Passport Office",
                   cap_mm=v)
    pt.text(4, 57.5, lab("Handtekening houder", "Holder's signature"), cap_mm=0.9, fill=LABEL_INK)
    signature(pt, rng, (6, 59, 32, 67))

    mrz_digits = p.bsn if model.bsn_in_mrz else ""
    lines, offset = td3(model.state, p, mrz_digits)
    pt.draw.rectangle((0, pt.px(69.5), pt.px(125), pt.px(88)), fill=lighter(model.paper))
    pt.mrz(6.5, [76.0, 83.5], lines, (1, offset, mrz_digits) if mrz_digits else None)
    return Sheet(pt.image, pt.marks, pt.runs, lines)


def lighter(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(min(255, v + (255 - v) // 2) for v in c)  # type: ignore[return-value]


ID_PAPER_2014 = (236, 232, 242)
ID_PAPER_2021 = (242, 236, 226)
ID_LINES = ((205, 190, 222), (188, 205, 228))


def draw_id_front(p: Person, ppmm: float, assets: Assets, rng: random.Random) -> Sheet:
    """NL ID card 2014, front: portrait and ghost, no BSN."""
    pt = Painter(ID1_MM, ppmm, ID_PAPER_2014)
    guilloche(pt, rng, ID_LINES, (0, 10, 85.6, 54), 26)
    rosette(pt, (70, 26), 14, ID_LINES[0], 11)
    pt.text(3, 5.0, "KONINKRIJK DER NEDERLANDEN", face="bold", cap_mm=1.8, fill=(40, 50, 110))
    pt.text(3, 8.3, "IDENTITEITSKAART / IDENTITY CARD / CARTE D'IDENTITÉ", cap_mm=1.0, fill=(60, 60, 110))
    photo = passport_photo(assets, rng, grey=True)
    pt.paste_portrait(photo, 3, 11, 24, 31, "main")
    pt.paste_portrait(ghost_photo(photo), 70, 17, 12, 15.5, "ghost", opacity=rng.uniform(0.28, 0.38))
    v = 1.8
    pt.label_value(30, 13, "Naam / Surname / Nom", p.surname, cap_mm=v, mark=("keep", "surname"))
    pt.label_value(30, 20, "Voornamen / Given names", p.given_names, cap_mm=v, mark=("keep", "given_names"))
    pt.label_value(30, 27, "Geboortedatum / Date of birth", nl_date(p.birth), cap_mm=v, mark=("keep", "birth_date"))
    pt.label_value(58, 27, "Geslacht / Sex", "V/F", cap_mm=v)
    pt.label_value(30, 34, "Nationaliteit / Nationality", "Nederlandse", cap_mm=v)
    pt.label_value(30, 41, "Documentnummer / Document No.", p.doc_number, cap_mm=v,
                   mark=("keep", "document_number"))
    pt.label_value(58, 41, "Geldig tot / Date of expiry", nl_date(p.expiry), cap_mm=v, mark=("keep", "expiry_date"))
    pt.text(3, 45.0, "Handtekening / Signature", cap_mm=0.9, fill=LABEL_INK)
    signature(pt, rng, (4, 46.5, 26, 52))
    return Sheet(pt.image, pt.marks, pt.runs, [])


def draw_id_back(p: Person, ppmm: float, rng: random.Random, model: str) -> Sheet:
    """NL ID card back: printed BSN, issue data and the 3-line TD1 MRZ (BSN in it only on the 2014 model)."""
    paper = ID_PAPER_2014 if model == "2014" else ID_PAPER_2021
    pt = Painter(ID1_MM, ppmm, paper)
    guilloche(pt, rng, ID_LINES, (0, 2, 85.6, 34), 20)
    rosette(pt, (71, 16), 11, ID_LINES[1], 7)
    pt.text(3, 4.2, "IDENTITEITSKAART / IDENTITY CARD", cap_mm=1.0, fill=(60, 60, 110))
    v = 2.0
    pt.label_value(3, 8.5, "Persoonsnummer / Personal No.", p.bsn, cap_mm=v, mark=("personal_number", "viz"))
    pt.label_value(3, 15.5, "Datum van afgifte / Date of issue", nl_date(p.issue), cap_mm=v)
    pt.label_value(46, 15.5, "Lengte / Height", p.height, cap_mm=v)
    pt.label_value(3, 22.5, "Autoriteit / Authority", p.authority, cap_mm=v)
    pt.text(3, 30.0, "Deze kaart is eigendom van de Staat der Nederlanden", cap_mm=1.0, fill=LABEL_INK)
    digits = p.bsn if model == "2014" else ""
    lines, offset = td1("NLD", p, digits)
    pt.draw.rectangle((0, pt.px(35.5), pt.px(85.6), pt.px(54)), fill=lighter(paper))
    pt.mrz(4.7, [40.5, 45.4, 50.3], lines, (0, offset, digits) if digits else None)
    return Sheet(pt.image, pt.marks, pt.runs, lines)


def draw_driving_licence(p: Person, licence_no: str, ppmm: float, assets: Assets, rng: random.Random) -> Sheet:
    """EU-model Dutch driving licence front: numbered fields, BSN in 4d, licence number in 5, no MRZ."""
    pt = Painter(ID1_MM, ppmm, (248, 228, 234))
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
    pt.text(27, rows[5], "4d.", cap_mm=v)
    pt.text(33, rows[5], p.bsn, cap_mm=v, mark=("personal_number", "viz"))
    pt.text(27, rows[6], "5.", cap_mm=v)
    pt.text(32, rows[6], licence_no, cap_mm=v, mark=("keep", "licence_number"))
    pt.text(3, 47.5, "7.", cap_mm=1.4)
    signature(pt, rng, (7, 44, 25, 52))
    pt.text(60, 50.5, "9.", cap_mm=v)
    pt.text(65, 50.5, "AM/B", cap_mm=v)
    return Sheet(pt.image, pt.marks, pt.runs, [])


def draw_letter(assets: Assets, rng: random.Random, ppmm: float) -> Sheet:
    """An A4 letter with a photo pasted in: shows a face and text, but no identity document."""
    pt = Painter(A4_MM, ppmm, (253, 253, 251))
    lines = [
        (25, 30, "J. Visser", 2.2), (25, 36, "Lindenlaan 12", 2.2), (25, 42, "3581 AB Utrecht", 2.2),
        (25, 62, "Aan: Gemeente Utrecht, afdeling Privacy", 2.2), (25, 68, "Postbus 16200", 2.2),
        (25, 84, "Utrecht, 3 maart 2025", 2.2), (25, 100, "Betreft: verzoek om inzage (art. 15 AVG)", 2.2),
        (25, 116, "Geachte heer, mevrouw,", 2.2),
        (25, 128, "Hierbij verzoek ik u om inzage in de persoonsgegevens die u over mij verwerkt.", 2.2),
        (25, 134, "Ter identificatie stuur ik u een recente foto van mijzelf mee.", 2.2),
        (25, 140, "Een kopie van mijn identiteitsbewijs volgt zo nodig later.", 2.2),
        (25, 156, "Met vriendelijke groet,", 2.2),
    ]
    for x, y, t, cap in lines:
        pt.text(x, y, t, cap_mm=cap)
    signature(pt, rng, (25, 162, 70, 176))
    pt.text(25, 184, "J. Visser", cap_mm=2.2)
    photo = passport_photo(assets, rng, grey=False)
    pt.draw.rectangle((pt.px(147), pt.px(23), pt.px(188), pt.px(77)), fill=(250, 250, 250), outline=(200, 200, 200))
    pt.paste_portrait(photo, 149, 25, 37, 48, "main")
    return Sheet(pt.image, pt.marks, pt.runs, [])


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


def phone_photo(sheet: Sheet, rng: random.Random, nrng: np.random.Generator,
                avoid: list[np.ndarray]) -> Sheet:
    """Photograph the page at an angle on a wooden table, with glare and slight blur."""
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

    # glare: a soft bright ellipse on the header, checked to stay clear of the BSN
    gx, gy = fwd(np.array([[w * 0.56, h * 0.09]]))[0]
    radius = 120.0
    for q in avoid:
        fq = fwd(q)
        nearest = np.clip([gx, gy], fq.min(axis=0), fq.max(axis=0))
        assert np.hypot(*(nearest - [gx, gy])) > radius * 1.6, "glare would cover the BSN"
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    glare = np.exp(-(((xx - gx) / (radius * 1.5)) ** 2 + ((yy - gy) / radius) ** 2))[..., None]
    img = img * (1 - 0.75 * glare) + 255 * 0.75 * glare
    light = 1.0 - 0.18 * ((xx - W * 0.3) ** 2 + (yy - H * 0.4) ** 2) / (W * W)
    img = cv2.GaussianBlur(img * light[..., None], (0, 0), 1.1)
    img = img + nrng.normal(0, 3.0, img.shape[:2]).astype(np.float32)[..., None]
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return mapped(sheet, out, fwd)


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


def boxes(sheet: Sheet, scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0),
          limit: tuple[float, float] | None = None, step: float = 1.0,
          page: int | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """Portraits, personal numbers and keep-fields of a sheet as annotation dicts."""
    lim = limit or (float(sheet.image.size[0]), float(sheet.image.size[1]))
    portraits, numbers, keep = [], [], []
    for m in sheet.marks:
        box = outer_box(m.quad * scale + np.array(offset), lim, step)
        extra = {"page": page} if page is not None else {}
        if m.role == "portrait":
            portraits.append({"box": box, "type": m.kind, "confidence": "sure", **extra})
        elif m.role == "personal_number":
            numbers.append({"text": m.text, "zone": m.kind, "box": box, **extra})
        else:
            keep.append({"name": m.kind, "text": m.text, "box": box, **extra})
    return portraits, numbers, keep


def image_entry(name: str, sheet: Sheet, *, kind: str, country: str | None, status: str,
                surname: str | None, notes: str) -> Entry:
    portraits, numbers, keep = boxes(sheet)
    return Entry(name, kind, country, status, surname, portraits, numbers, keep, sheet.mrz, notes,
                 [sheet.image.size[0], sheet.image.size[1]])


def pdf_document(pages: list[tuple[Sheet, bytes, int, tuple[float, float] | None]], hidden_text: bool,
                 ) -> tuple[bytes, list[tuple[list[dict], list[dict], list[dict]]], tuple[float, float]]:
    """Pages of (sheet, jpeg, dpi, page size in pt or None = image size); image fills the page.

    With hidden_text, every printed string is added as invisible text (render mode 3), the way
    scanner apps add an OCR layer; the BSN found in that layer becomes a "text_layer" mark.
    """
    doc = pymupdf.open()
    per_page = []
    page_size = (0.0, 0.0)
    for index, (sheet, jpeg, dpi, size_pt) in enumerate(pages):
        scale = PT_PER_INCH / dpi
        w, h = sheet.image.size
        page_size = size_pt or (round(w * scale, 2), round(h * scale, 2))
        page = doc.new_page(width=page_size[0], height=page_size[1])
        page.insert_image(pymupdf.Rect(0, 0, w * scale, h * scale), stream=jpeg)
        portraits, numbers, keep = boxes(sheet, scale=scale, limit=page_size, step=0.01, page=index)
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
        per_page.append((portraits, dedupe(numbers), keep))
    doc.set_metadata({})
    buf = io.BytesIO()
    doc.save(buf, garbage=4, deflate=True, no_new_id=True)
    return buf.getvalue(), per_page, page_size


def dedupe(items: list[dict]) -> list[dict]:
    seen, out = set(), []
    for it in items:
        key = json.dumps(it, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


# --------------------------------------------------------------------------- the set


@dataclass
class Output:
    files: dict[str, bytes] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    def add(self, name: str, data: bytes, entry: Entry) -> None:
        self.files[name] = data
        self.entries.append(entry)


def rngs(seed: int, name: str) -> tuple[random.Random, np.random.Generator]:
    """Independent generators per document, so adding a document never changes the others."""
    key = f"{seed}:{name}"
    return random.Random(key), np.random.default_rng(zlib.crc32(key.encode()))


def ppmm_of(dpi: int) -> float:
    return dpi / MM_PER_INCH


def passport_scan(p: Person, model: PassportModel, dpi: int, assets: Assets, rng: random.Random,
                  margin_mm: float = 8.0) -> Sheet:
    ppmm = ppmm_of(dpi)
    doc = draw_passport(p, model, ppmm, assets, rng)
    return on_bed([(doc, (margin_mm, margin_mm))], (TD3_MM[0] + 2 * margin_mm, TD3_MM[1] + 2 * margin_mm), ppmm,
                  rounded_mm=1.0)


def card_scan(sheet: Sheet, dpi: int, margin_mm: float = 6.0) -> Sheet:
    return on_bed([(sheet, (margin_mm, margin_mm))], (ID1_MM[0] + 2 * margin_mm, ID1_MM[1] + 2 * margin_mm),
                  ppmm_of(dpi), rounded_mm=3.18)


def build(seed: int) -> Output:
    assets = load_assets()
    models = nl_passport_models()
    out = Output()

    # 1 + 7: NL passport 2014, flatbed 300 dpi; the same pixels stored rotated with EXIF Orientation 6.
    rng, nrng = rngs(seed, "passport2014")
    person = make_person(rng, (2015, 2019))
    sheet = passport_scan(person, models["2014"], 300, assets, rng)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    data = jpeg_bytes(sheet.image, 300)
    out.add("nl_passport_2014_scan300.jpg", data, image_entry(
        "nl_passport_2014_scan300.jpg", sheet, kind="passport_data_page", country="NLD", status="redacted",
        surname=person.surname, notes="NL passport 2014 model, flatbed scan at 300 dpi; BSN printed in "
        "'Persoonsnummer' and in MRZ line 2 positions 29-42; main portrait left, ghost portrait right"))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    stored = sheet.image.transpose(Image.Transpose.ROTATE_90)
    entry = image_entry("nl_passport_2014_exif_orientation6.jpg", sheet, kind="passport_data_page",
                        country="NLD", status="redacted", surname=person.surname,
                        notes="the same passport as nl_passport_2014_scan300.jpg; pixels stored rotated 90 degrees "
                        "counter-clockwise with EXIF Orientation=6, so it displays upright; boxes are in "
                        "displayed (EXIF-applied) coordinates")
    out.add(entry.file, jpeg_bytes(stored, 300, exif=exif.tobytes()), entry)

    # 2: pre-2014 passport, sofinummer-style BSN, PNG at 200 dpi.
    rng, nrng = rngs(seed, "passport_pre2014")
    person = make_person(rng, (2009, 2013))
    sheet = passport_scan(person, models["pre2014"], 200, assets, rng)
    out.add("nl_passport_pre2014_scan200.png", png_bytes(sheet.image, 200), image_entry(
        "nl_passport_pre2014_scan200.png", sheet, kind="passport_data_page", country="NLD", status="redacted",
        surname=person.surname, notes="NL passport pre-2014 model, clean 200 dpi scan (PNG); BSN printed "
        "sofinummer-style with dots and in MRZ line 2; no ghost portrait on this model; the document is "
        "expired, which does not change the redaction"))

    # 3: 2021 passport: BSN only in the visual zone.
    rng, nrng = rngs(seed, "passport2021")
    person = make_person(rng, (2021, 2024))
    sheet = passport_scan(person, models["2021"], 300, assets, rng)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.add("nl_passport_2021_scan300.jpg", jpeg_bytes(sheet.image, 300), image_entry(
        "nl_passport_2021_scan300.jpg", sheet, kind="passport_data_page", country="NLD", status="redacted",
        surname=person.surname, notes="NL passport 2021 model, 300 dpi scan; BSN printed with spaces in the "
        "visual zone only, the MRZ personal-number field is all '<'"))

    # 4: ID card 2014 front and back on one A4 page at 150 dpi.
    rng, nrng = rngs(seed, "idcard2014_a4")
    person = make_person(rng, (2016, 2020), bsn=SPECIMEN_BSN)
    ppmm = ppmm_of(150)
    front, back = draw_id_front(person, ppmm, assets, rng), draw_id_back(person, ppmm, rng, "2014")
    sheet = on_bed([(front, (22, 28)), (back, (22, 98))], A4_MM, ppmm, rounded_mm=3.18, bed=(250, 250, 250))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.add("nl_idcard_2014_both_sides_a4_150dpi.jpg", jpeg_bytes(sheet.image, 150), image_entry(
        "nl_idcard_2014_both_sides_a4_150dpi.jpg", sheet, kind="id_card_both_sides", country="NLD",
        status="redacted", surname=person.surname, notes="NL ID card 2014 model, front (portrait + ghost, no "
        "BSN) and back (BSN printed + in TD1 MRZ line 1 positions 16-30) on one A4 page scanned at 150 dpi; "
        "uses the specimen BSN 999999990"))

    # 5: ID card 2021, back alone.
    rng, nrng = rngs(seed, "idcard2021_back")
    person = make_person(rng, (2021, 2024))
    sheet = card_scan(draw_id_back(person, ppmm_of(300), rng, "2021"), 300)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.add("nl_idcard_2021_back.jpg", jpeg_bytes(sheet.image, 300), image_entry(
        "nl_idcard_2021_back.jpg", sheet, kind="id_card_back", country="NLD", status="redacted",
        surname=person.surname, notes="NL ID card 2021 model, back only, 300 dpi; BSN printed, TD1 optional "
        "data is filler; no portrait on this side"))

    # 6: driving licence.
    rng, nrng = rngs(seed, "driving_licence")
    person = make_person(rng, (2016, 2022))
    licence_no = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
    sheet = card_scan(draw_driving_licence(person, licence_no, ppmm_of(300), assets, rng), 300)
    out.add("nl_driving_licence.png", png_bytes(sheet.image, 300), image_entry(
        "nl_driving_licence.png", sheet, kind="driving_licence", country="NLD", status="redacted",
        surname=person.surname, notes="NL driving licence (EU card), 300 dpi PNG; BSN in field 4d, the "
        "10-digit licence number in field 5 must stay readable; no MRZ, no ghost portrait"))

    # 8: rotated pixels, no EXIF: 90 degrees clockwise and 180 degrees.
    for name, key, degrees, model, years in [("nl_passport_2014_rotated90.jpg", "rot90", 90, "2014", (2015, 2019)),
                                             ("nl_passport_2021_rotated180.jpg", "rot180", 180, "2021", (2021, 2024))]:
        rng, nrng = rngs(seed, key)
        person = make_person(rng, years)
        sheet = rotate(passport_scan(person, models[model], 200, assets, rng), degrees)
        sheet.image = scan_noise(sheet.image, nrng, 2.0)
        out.add(name, jpeg_bytes(sheet.image, 200), image_entry(
            name, sheet, kind="passport_data_page", country="NLD", status="redacted", surname=person.surname,
            notes=f"NL passport {model} model, 200 dpi scan whose pixels are rotated {degrees} degrees "
            "clockwise (no EXIF orientation tag)"))

    # 9: phone photo.
    rng, nrng = rngs(seed, "phone")
    person = make_person(rng, (2015, 2019))
    ppmm = ppmm_of(250)
    doc = draw_passport(person, models["2014"], ppmm, assets, rng)
    avoid = [m.quad for m in doc.marks if m.role == "personal_number"]
    sheet = phone_photo(doc, rng, nrng, avoid)
    out.add("nl_passport_2014_phone_photo.jpg", jpeg_bytes(sheet.image, 72, quality=85), image_entry(
        "nl_passport_2014_phone_photo.jpg", sheet, kind="passport_data_page", country="NLD", status="redacted",
        surname=person.surname, notes="phone photo of a NL passport 2014 data page: perspective (taken at an "
        "angle) on a dark wooden table, mild blur, a glare blob on the header (not over the BSN); boxes are "
        "the bounding boxes of the warped quadrilaterals"))

    # 10: one-page PDF with a scanned image and a hidden OCR text layer.
    rng, nrng = rngs(seed, "pdf_ocr")
    person = make_person(rng, (2015, 2019))
    ppmm = ppmm_of(200)
    doc = draw_passport(person, models["2014"], ppmm, assets, rng)
    sheet = on_bed([(doc, (20, 20))], A4_MM, ppmm, rounded_mm=1.0, bed=(252, 252, 252))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    data, pages, size = pdf_document([(sheet, jpeg_bytes(sheet.image, 200, quality=80), 200, A4_PT)], True)
    portraits, numbers, keep = pages[0]
    out.add("nl_passport_2014_ocr_layer.pdf", data, Entry(
        "nl_passport_2014_ocr_layer.pdf", "passport_data_page", "NLD", "redacted", person.surname, portraits,
        numbers, keep, sheet.mrz, "A4 PDF from a scanner app: one JPEG image (200 dpi) of a NL passport 2014 "
        "data page plus an invisible (render mode 3) OCR text layer holding all printed text, the BSN twice "
        "(visual zone line and MRZ line)", list(size), box_units="pt"))

    # 11: two-page PDF, ID card front then back.
    rng, nrng = rngs(seed, "pdf_two_pages")
    person = make_person(rng, (2015, 2020), bsn=SPECIMEN_BSN)
    ppmm = ppmm_of(300)
    front = card_scan(draw_id_front(person, ppmm, assets, rng), 300)
    back = card_scan(draw_id_back(person, ppmm, rng, "2014"), 300)
    front.image, back.image = scan_noise(front.image, nrng, 2.0), scan_noise(back.image, nrng, 2.0)
    data, pages, size = pdf_document([(front, jpeg_bytes(front.image, 300), 300, None),
                                      (back, jpeg_bytes(back.image, 300), 300, None)], False)
    merged = [sum((pg[i] for pg in pages), []) for i in range(3)]
    out.add("nl_idcard_2014_two_pages.pdf", data, Entry(
        "nl_idcard_2014_two_pages.pdf", "id_card_both_sides", "NLD", "redacted", person.surname, merged[0],
        merged[1], merged[2], front.mrz + back.mrz, "two-page PDF, one 300 dpi JPEG image per page, no text "
        "layer: page 0 is the NL ID card 2014 front (portrait + ghost), page 1 the back (BSN printed and in "
        "the MRZ); pages are sized to the card scan", list(size), box_units="pt"))

    # 12: one document in HEIC, WebP and TIFF.
    rng, nrng = rngs(seed, "formats")
    person = make_person(rng, (2015, 2019))
    sheet = passport_scan(person, models["2014"], 200, assets, rng)
    for fmt in ("heic", "webp", "tiff"):
        name = f"nl_passport_2014_as_{fmt}.{fmt}"
        out.add(name, encode(sheet.image, fmt, 200), image_entry(
            name, sheet, kind="passport_data_page", country="NLD", status="redacted", surname=person.surname,
            notes=f"NL passport 2014 model, 200 dpi; the same document is also stored as "
            f"{', '.join(f for f in ('HEIC', 'WebP', 'TIFF') if f.lower() != fmt)}"))

    # 13: the requester struck through the BSN (and the photo) with a thin pen; digits stay legible.
    rng, nrng = rngs(seed, "pen")
    person = make_person(rng, (2015, 2019))
    sheet = passport_scan(person, models["2014"], 300, assets, rng)
    pen_line(sheet, ("personal_number", "viz"), rng, 3)
    pen_line(sheet, ("portrait", "main"), rng, 3, cross=True)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.add("nl_passport_2014_pen_line_over_bsn.jpg", jpeg_bytes(sheet.image, 300), image_entry(
        "nl_passport_2014_pen_line_over_bsn.jpg", sheet, kind="passport_data_page", country="NLD",
        status="redacted", surname=person.surname, notes="the requester tried to redact: a thin blue pen line "
        "runs through the printed BSN and a pen cross over the portrait, but both stay legible; the MRZ was "
        "not touched"))

    # 14a: BSN smeared beyond reading -> needs_review.
    rng, nrng = rngs(seed, "smeared")
    person = make_person(rng, (2021, 2024))
    sheet = card_scan(draw_id_back(person, ppmm_of(300), rng, "2021"), 300)
    smear(sheet, rng)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.add("nl_idcard_2021_back_bsn_smeared.jpg", jpeg_bytes(sheet.image, 300), image_entry(
        "nl_idcard_2021_back_bsn_smeared.jpg", sheet, kind="id_card_back", country="NLD",
        status="needs_review", surname=person.surname, notes="NL ID card 2021 back: the 'Persoonsnummer' label "
        "is present but its value is blurred and scribbled over so no number can be read, and the MRZ has no "
        "BSN; the box covers the smeared area and the text is what was printed underneath"))

    # 14b: a letter with a photo, no identity document -> needs_review.
    rng, nrng = rngs(seed, "letter")
    sheet = draw_letter(assets, rng, ppmm_of(150))
    sheet.image = scan_noise(sheet.image, nrng, 1.5)
    out.add("letter_with_photo.jpg", jpeg_bytes(sheet.image, 150), image_entry(
        "letter_with_photo.jpg", sheet, kind="letter", country=None, status="needs_review", surname=None,
        notes="an A4 letter (150 dpi) with a pasted face photo and text, but no identity document"))

    # 15: foreign passport (Utopia) with a personal number.
    rng, nrng = rngs(seed, "utopia")
    person = make_person(rng, (2016, 2022), bsn="".join(str(rng.randint(0, 9)) for _ in range(10)))
    person = replace(person, surname=rng.choice(["ERIKSSON", "MUSTERFRAU", "OLSEN"]))
    sheet = passport_scan(person, models["UTO"], 300, assets, rng)
    sheet.image = scan_noise(sheet.image, nrng, 2.0)
    out.add("uto_passport.jpg", jpeg_bytes(sheet.image, 300), image_entry(
        "uto_passport.jpg", sheet, kind="passport_data_page", country="UTO", status="redacted",
        surname=person.surname, notes="passport of the fictitious state Utopia (UTO), 300 dpi; a 10-digit "
        "national personal number printed with a dash and in the MRZ personal-number field (no checksum "
        "scheme); no ghost portrait"))
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
    args = ap.parse_args(argv)
    write(build(args.seed), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
