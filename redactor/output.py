"""Encode the redacted pages. Nothing of the original travels along: no EXIF, XMP, ICC
profile or comments in a PNG; a PDF gets one fresh raster image per page, no text layer,
no metadata, no attachments."""

from __future__ import annotations

import io

import pymupdf as fitz
import numpy as np
from PIL import Image


def encode_png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    # A fresh Image from raw pixels carries no info dict, so nothing but pixels is written.
    Image.fromarray(image, mode="RGB").save(buf, format="PNG", compress_level=1)  # fast; size matters less
    return buf.getvalue()


def preview(image: np.ndarray, max_side: int, fmt: str = "png") -> bytes:
    """A page scaled to at most `max_side` pixels, as PNG or JPEG, without metadata: what a
    person reviewing the document looks at and draws on."""
    picture = Image.fromarray(image, mode="RGB")
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if fmt == "jpeg":
        picture.save(buf, format="JPEG", quality=85)
    else:
        picture.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_pdf(images: list[np.ndarray], page_sizes_pt: list[tuple[float, float]]) -> bytes:
    doc = fitz.open()
    for image, (w, h) in zip(images, page_sizes_pt):
        page = doc.new_page(width=w, height=h)
        page.insert_image(page.rect, stream=encode_png(image))
    doc.set_metadata({})
    doc.del_xml_metadata()
    data = doc.tobytes(garbage=4, deflate=True, no_new_id=True)
    doc.close()
    return data
