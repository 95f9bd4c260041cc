"""Black out the regions (solid, opaque, with a safety margin) and add the optional
KopieID-style watermark. Only draws what it is given; finding happens elsewhere."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from redactor.core import Box, Region, RegionKind
from redactor.geometry import clip, pad

# OCR boxes hug the glyphs: a slack of 15% of the text height (at least 2 px) keeps the
# anti-aliased edges of digits from showing. Photo zones are generous already.
TEXT_MARGIN_FRACTION = 0.15
# Translucent enough that text under the mark stays readable (tests/test_pipeline.py reads it).
WATERMARK_COLOUR = (200, 0, 0, 80)
DATE_IN_TEXT = re.compile(r"\b\d{1,2}[-/. ]\d{1,2}[-/. ]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2} [a-z]+ \d{4}\b", re.I)


def margin_box(region: Region, size: tuple[int, int]) -> Box:
    box = region.box
    # The text height is the box's shorter side, also for text on a page turned a quarter.
    text_height = min(box[2] - box[0], box[3] - box[1])
    margin = max(2.0, TEXT_MARGIN_FRACTION * text_height) if RegionKind(region.kind).is_text else 2.0
    return clip(pad(box, margin), *size)


def black_out(image: np.ndarray, regions: list[Region]) -> tuple[np.ndarray, list[Region]]:
    """A copy of `image` with every region filled black; returns the boxes as drawn."""
    out = image.copy()
    h, w = out.shape[:2]
    drawn = []
    for region in regions:
        x0, y0, x1, y1 = margin_box(region, (w, h))
        ix0, iy0, ix1, iy1 = int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1))
        out[iy0:iy1, ix0:ix1] = 0
        drawn.append(Region(region.kind, region.page, (ix0, iy0, ix1, iy1), region.reason))
    return out, drawn


def watermark_text(purpose: str, today: date) -> str:
    """The requester's text once, with one date: today's, unless the text carries a date."""
    text = " ".join(purpose.split())
    if not DATE_IN_TEXT.search(text):
        text = f"{text} - {today.strftime('%d-%m-%Y')}"
    if "kopie" not in text.lower():
        text = f"Kopie - {text}"
    return text


def watermark(image: np.ndarray, purpose: str, today: date) -> np.ndarray:
    """The KopieID-style mark: the text once, diagonally from the bottom-left towards the
    top-right corner, in translucent red letters that the fields stay readable through."""
    text = watermark_text(purpose, today)
    base = Image.fromarray(image).convert("RGBA")
    w, h = base.size
    diagonal = float(np.hypot(w, h))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    # As large as fits in 80% of the diagonal, and never taller than a tenth of the short side.
    size = max(10, int(min(w, h) * 0.1))
    while size > 10 and probe.textlength(text, font=ImageFont.load_default(size=size)) > 0.8 * diagonal:
        size = int(size * 0.92)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    strip = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
    ImageDraw.Draw(strip).text((4 - left, 4 - top), text, font=font, fill=WATERMARK_COLOUR)
    turned = strip.rotate(float(np.degrees(np.arctan2(h, w))), expand=True, resample=Image.BICUBIC)
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    layer.paste(turned, ((w - turned.width) // 2, (h - turned.height) // 2))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))
