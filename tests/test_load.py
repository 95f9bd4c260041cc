"""Loading: formats judged from bytes, limits enforced before decoding, EXIF applied."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pymupdf
import pytest
from PIL import Image

from redactor.config import Settings
from redactor.errors import RejectedInput
from redactor.load import load

from conftest import SAMPLES


def _reject_code(data: bytes, settings: Settings | None = None) -> str:
    with pytest.raises(RejectedInput) as info:
        load(data, settings or Settings())
    assert info.value.message  # always a sentence for a person
    return info.value.code


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: decoding it would need gigabytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")


def test_empty_file_is_rejected():
    assert _reject_code(b"") == "empty"


def test_text_file_named_jpg_is_unsupported():
    assert _reject_code(b"Dear privacy office, here is my passport.\n") == "unsupported_type"


def test_truncated_jpeg_is_unreadable():
    data = (SAMPLES / "nl_passport_2014_scan300.jpg").read_bytes()
    assert _reject_code(data[: len(data) // 3]) == "unreadable"


def test_huge_image_is_refused_quickly_without_decoding():
    start = time.perf_counter()
    assert _reject_code(_png_header_only(30000, 30000)) == "too_large"
    assert time.perf_counter() - start < 2


def test_file_over_the_byte_limit_is_refused():
    assert _reject_code(b"\xff\xd8\xff" + b"\0" * 2048, Settings(max_bytes=1024)) == "too_large"


def test_pdf_with_500_pages_is_refused_quickly():
    doc = pymupdf.open()
    for _ in range(500):
        doc.new_page(width=200, height=200)
    data = doc.tobytes()
    start = time.perf_counter()
    assert _reject_code(data) == "too_many_pages"
    assert time.perf_counter() - start < 5


def test_encrypted_pdf_is_refused():
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret")
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")
    assert _reject_code(data) == "encrypted"


def test_exif_orientation_is_applied(sample_entries):
    entry = sample_entries["nl_passport_2014_exif_orientation6.jpg"]
    doc = load((SAMPLES / entry["file"]).read_bytes(), Settings())
    stored = Image.open(SAMPLES / entry["file"]).size
    page = doc.pages[0]
    # Displayed upright: the stored pixels are turned, the loaded page is not.
    assert page.size == (stored[1], stored[0])
    upright = load((SAMPLES / "nl_passport_2014_scan300.jpg").read_bytes(), Settings()).pages[0]
    assert page.size == upright.size


@pytest.mark.parametrize("name", ["nl_passport_2014_as_heic.heic", "nl_passport_2014_as_webp.webp", "nl_passport_2014_as_tiff.tiff"])
def test_other_image_formats_load_at_their_size(name, sample_entries):
    page = load((SAMPLES / name).read_bytes(), Settings()).pages[0]
    assert list(page.size) == sample_entries[name]["size"]
    # A real picture, not a blank decode.
    assert page.image.std() > 20


def test_pdf_pages_keep_their_size_and_text_layer():
    doc = load((SAMPLES / "nl_passport_2014_ocr_layer.pdf").read_bytes(), Settings())
    with pymupdf.open(SAMPLES / "nl_passport_2014_ocr_layer.pdf") as pdf:
        assert doc.pages[0].pdf_size_pt == pytest.approx((pdf[0].rect.width, pdf[0].rect.height))
    assert any(sum(c.isdigit() for c in line.text) >= 9 for line in doc.pages[0].text_layer)


def test_png_with_transparency_becomes_white_background():
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    page = load(buf.getvalue(), Settings()).pages[0]
    assert page.image.min() == 255
