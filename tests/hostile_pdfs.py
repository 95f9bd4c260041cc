"""Small PDFs that ask for a lot of work: used by the hardening tests and bench/pdf_memory.py."""

from __future__ import annotations

import io
from pathlib import Path


def nested_xobject_pdf(width: int = 110, depth: int = 4) -> bytes:
    """One page whose drawing expands to width**depth rectangle fills through nested forms:
    the page calls a form `width` times, which calls the next one `width` times, ... down to
    a form that fills `width` rectangles. 110 wide and 4 deep is about 1.5e8 operations in 5 KB."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(content: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d %s >>\nstream\n" % (len(content), extra) + content + b"\nendstream"

    form = b"/Type /XObject /Subtype /Form /BBox [0 0 200 200]"
    child = add(stream(b" ".join(b"%d 0 1 1 re f" % i for i in range(width)), form))
    for _ in range(depth - 2):
        child = add(stream(b"/F Do " * width, form + b" /Resources << /XObject << /F %d 0 R >> >>" % child))
    content = add(stream(b"/F Do " * width))
    pages_number = len(objects) + 2  # the page comes next, then its parent
    page = add(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
        b"/Resources << /XObject << /F %d 0 R >> >> >>" % (pages_number, content, child)
    )
    pages = add(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def huge_pages_pdf(picture: Path, pages: int = 10, side_pt: float = 14400.0) -> bytes:
    """`pages` pages of side_pt x side_pt points (14400 is PDF's largest page), each showing
    `picture` (an ID scan) across the page, so the pipeline has real work on every page."""
    import pymupdf

    doc = pymupdf.open()
    data = picture.read_bytes()
    for _ in range(pages):
        page = doc.new_page(width=side_pt, height=side_pt)
        page.insert_image(page.rect, stream=data)
    buffer = io.BytesIO()
    doc.save(buffer, garbage=3, deflate=True)
    return buffer.getvalue()
