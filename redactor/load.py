"""Read the uploaded bytes into pages, refusing anything we cannot read safely.

The type is judged from the bytes, never from the file name. Size limits are checked
before any pixels are decoded, so a 30000 x 30000 image or a 500-page PDF is refused in
milliseconds with bounded memory. A PDF's drawing work is counted before MuPDF renders it,
and all pages together share one pixel budget (`max_document_megapixels`): pages are
rendered (or decoded) one at a time and scaled down to their share, so ten huge pages cost
no more memory than one ordinary scan.
"""

from __future__ import annotations

import io
import warnings

import pymupdf as fitz
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from redactor.config import Settings
from redactor.core import Document, Page, TextLine
from redactor.errors import RejectedInput
from redactor.formats import PDF_MAGIC, PNG_MAGIC
from redactor.pdf_budget import TooMuchWork, pdf_operations

register_heif_opener()

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def sniff(data: bytes) -> str:
    """The file format from its first bytes."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "heic"
    if data.lstrip().startswith(PDF_MAGIC):
        return "pdf"
    raise RejectedInput("unsupported_type", "This is not a JPEG, PNG, TIFF, WebP, HEIC or PDF file.")


def load(data: bytes, settings: Settings) -> Document:
    if not data:
        raise RejectedInput("empty", "The file is empty.")
    if len(data) > settings.max_bytes:
        raise RejectedInput("too_large", f"The file is larger than {settings.max_bytes // (1024 * 1024)} MB.")
    fmt = sniff(data)
    pages = _load_pdf(data, settings) if fmt == "pdf" else _load_image(data, settings)
    return Document(pages=tuple(pages), source_format=fmt)  # type: ignore[arg-type]


def _check_pixels(width: int, height: int, settings: Settings) -> None:
    if width * height > settings.max_megapixels * 1_000_000:
        raise RejectedInput(
            "too_large", f"The image is {width} x {height} pixels; at most {settings.max_megapixels:g} megapixels per page."
        )


def _to_rgb(frame: Image.Image) -> np.ndarray:
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(background, rgba)
    elif frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(frame, dtype=np.float64)
        arr = (255 * (arr - arr.min()) / max(arr.max() - arr.min(), 1)).astype(np.uint8)
        frame = Image.fromarray(arr)
    return np.ascontiguousarray(np.asarray(frame.convert("RGB")))


def _load_image(data: bytes, settings: Settings) -> list[Page]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_pixels(*image.size, settings)
            n_frames = getattr(image, "n_frames", 1)
            if n_frames > settings.max_pages:
                raise RejectedInput("too_many_pages", f"The file has {n_frames} pages; at most {settings.max_pages}.")
            scale = _budget_scale(_frame_pixels(image, n_frames, settings), settings)
            pages = []
            for index in range(n_frames):
                image.seek(index)
                image.load()
                # Apply the EXIF orientation: pages are handled as a person sees them.
                frame = ImageOps.exif_transpose(image)
                if scale < 1.0:  # one frame at full size at a time, kept only at its share of the budget
                    size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
                    frame = frame.resize(size, Image.Resampling.LANCZOS)
                pages.append(Page(index=index, image=_to_rgb(frame)))
            return pages
    except RejectedInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RejectedInput("too_large", "The image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise RejectedInput("unreadable", "The image is damaged or incomplete and cannot be read.") from exc


def _load_pdf(data: bytes, settings: Settings) -> list[Page]:
    try:
        doc = fitz.open(stream=data, filetype="pdf")
    except (fitz.FileDataError, RuntimeError, ValueError) as exc:
        raise RejectedInput("unreadable", "The PDF is damaged and cannot be read.") from exc
    with doc:
        if doc.needs_pass or doc.is_encrypted:
            raise RejectedInput("encrypted", "The PDF is protected with a password; send it without protection.")
        if doc.page_count == 0:
            raise RejectedInput("unreadable", "The PDF has no pages.")
        if doc.page_count > settings.max_pages:
            raise RejectedInput("too_many_pages", f"The PDF has {doc.page_count} pages; at most {settings.max_pages}.")
        try:
            pdf_operations(doc, settings.max_pdf_operations)
            areas = [page.rect.width * page.rect.height for page in doc]
            if min(areas) < 1.0:
                raise RejectedInput("unreadable", "A page of the PDF has no area.")
            zoom = settings.pdf_dpi / 72.0
            zoom *= _budget_scale([a * zoom * zoom for a in areas], settings)
            # One page at a time: its pixmap is freed before the next page is rendered.
            return [_render_page(page, zoom, settings) for page in doc]
        except TooMuchWork:
            raise RejectedInput(
                "too_large", f"The PDF is too complex to render (over {settings.max_pdf_operations:,} drawing operations)."
            ) from None
        except (RuntimeError, ValueError) as exc:
            raise RejectedInput("unreadable", "A page of the PDF cannot be rendered.") from exc
        finally:
            fitz.TOOLS.store_shrink(100)  # drop MuPDF's cached fonts and images of this document


def _frame_pixels(image: Image.Image, n_frames: int, settings: Settings) -> list[float]:
    """Every frame's pixel count, from the headers only (nothing decoded yet)."""
    sizes = []
    for index in range(n_frames):
        image.seek(index)
        _check_pixels(*image.size, settings)
        sizes.append(float(image.size[0] * image.size[1]))
    image.seek(0)
    return sizes


def _budget_scale(pixels: list[float], settings: Settings) -> float:
    """The linear scale (<= 1) that fits all pages together into the document's pixel budget."""
    total = sum(pixels)
    budget = settings.max_document_megapixels * 1_000_000
    return 1.0 if total <= budget else (budget / total) ** 0.5


def _render_page(page: "fitz.Page", zoom: float, settings: Settings) -> Page:
    rect = page.rect  # already rotated as displayed
    # Large page formats render at a lower resolution rather than beyond the per-page pixel limit.
    max_pixels = settings.max_megapixels * 1_000_000
    if rect.width * rect.height * zoom * zoom > max_pixels:
        zoom = (max_pixels / (rect.width * rect.height)) ** 0.5
    pix = page.get_pixmap(matrix=fitz.Matrix(zoom, zoom), colorspace=fitz.csRGB, alpha=False, annots=True)
    image = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3).copy()
    del pix  # the samples are copied: free MuPDF's buffer before the text layer is read
    sx, sy = image.shape[1] / rect.width, image.shape[0] / rect.height
    grouped: dict[tuple[int, int], list[tuple[tuple[float, float, float, float], str]]] = {}
    for x0, y0, x1, y1, text, block, line, _ in page.get_text("words"):
        r = fitz.Rect(x0, y0, x1, y1) * page.rotation_matrix
        grouped.setdefault((block, line), []).append(((r.x0 * sx, r.y0 * sy, r.x1 * sx, r.y1 * sy), text))
    words = [_text_layer_line(items) for items in grouped.values()]
    return Page(index=page.number, image=image, pdf_size_pt=(rect.width, rect.height), text_layer=tuple(words))


def _text_layer_line(words: list[tuple[tuple[float, float, float, float], str]]) -> TextLine:
    """One line of the PDF text layer, with a box per character (spaces get the gap between words)."""
    text, chars = "", []
    for i, (box, word) in enumerate(words):
        if i:
            prev = chars[-1]
            text += " "
            chars.append((prev[2], box[1], max(prev[2], box[0]), box[3]))
        text += word
        chars.extend(_split_chars(box, word))
    xs0, ys0, xs1, ys1 = zip(*(b for b, _ in words))
    return TextLine(text=text, box=(min(xs0), min(ys0), max(xs1), max(ys1)), confidence=1.0, source="pdf-text", chars=tuple(chars))


def _split_chars(box: tuple[float, float, float, float], text: str) -> tuple[tuple[float, float, float, float], ...]:
    """Equal-width character cells: a text layer word carries no per-glyph boxes here."""
    if not text:
        return ()
    x0, y0, x1, y1 = box
    step = (x1 - x0) / len(text)
    return tuple((x0 + i * step, y0, x0 + (i + 1) * step, y1) for i in range(len(text)))
