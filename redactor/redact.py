"""Black out the regions (solid, opaque, with a safety margin) and add the optional
KopieID-style watermark. Only draws what it is given; finding happens elsewhere."""

from __future__ import annotations

from datetime import date

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from redactor.core import Box, Region, RegionKind
from redactor.geometry import clip, pad

# OCR boxes hug the glyphs: a slack of 15% of the text height (at least 2 px) keeps the
# anti-aliased edges of digits from showing. Photo zones are generous already.
TEXT_MARGIN_FRACTION = 0.15


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


def watermark(image: np.ndarray, purpose: str, today: date, keep_clear: list[Box]) -> np.ndarray:
    """'Kopie voor <purpose> - <date>' across the page, placed where it hides no kept field."""
    text = f"KOPIE - {purpose} - {today.isoformat()}"
    base = Image.fromarray(image).convert("RGBA")
    w, h = base.size
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, int(h * 0.045))
    # Shrink until the whole line fits across the page.
    while size > 12 and draw.textlength(text, font=ImageFont.load_default(size=size)) > 0.94 * w:
        size = int(size * 0.9)
    font = ImageFont.load_default(size=size)
    tw = draw.textlength(text, font=font)
    # Try bands from the top; take the first that crosses no field that must stay readable.
    candidates = [h * f for f in (0.02, 0.94, 0.5, 0.3, 0.7)]
    y = candidates[0]
    for cand in candidates:
        band = (0, cand, w, cand + size * 1.3)
        if not any(b[1] < band[3] and b[3] > band[1] for b in keep_clear):
            y = cand
            break
    x = max(4.0, (w - tw) / 2)
    draw.text((x, y), text, font=font, fill=(200, 0, 0, 150))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))
