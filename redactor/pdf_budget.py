"""How much drawing work a PDF asks of MuPDF, counted before anything is rendered.

MuPDF renders in one C call that holds the GIL and offers no operation limit, so a hostile
PDF must be refused before rendering. The count expands form XObjects: a page that calls a
form 110 times, which calls another 110 times, and so on, costs the product. Every stream is
read at most once (costs are memoised per object) and decompression is capped, so the count
itself stays cheap on a hostile file. Type 3 glyphs and tiling-pattern repetitions are not
counted; the service's worker timeout (the worker is killed) is the backstop for those.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import pymupdf as fitz

# A content-stream operator: a bare keyword (re, f*, Do, ', ") not preceded by '/' (a name).
# Words inside strings are counted too: an over-count is safe and bounded by the stream size.
_OPERATOR = re.compile(rb"(?:^|(?<=[\s\]>)]))[A-Za-z'\"][A-Za-z0-9*]{0,2}(?=[\s\[</(]|$)")
_DO = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do(?![A-Za-z0-9])")
_REFERENCE = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*(\d+)\s+\d+\s+R")
# Decoded content bytes read per document at most (the scan's own memory bound).
MAX_SCANNED_BYTES = 64 * 1024 * 1024


class TooMuchWork(Exception):
    """The document asks for more drawing operations (or content bytes) than allowed."""


@dataclass
class _Scan:
    doc: "fitz.Document"
    limit: int
    total: int = 0
    scanned_bytes: int = 0
    costs: dict[int, int] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)

    def add(self, operations: int) -> None:
        self.total += operations
        if self.total > self.limit:
            raise TooMuchWork()


def pdf_operations(doc: "fitz.Document", limit: int) -> int:
    """Drawing operations of all pages (forms expanded); raises TooMuchWork past `limit`."""
    scan = _Scan(doc, limit)
    for page in doc:
        names = {name: xref for xref, name, invoker, _bbox in page.get_xobjects() if invoker == 0}
        for xref in page.get_contents():
            scan.add(_stream_cost(scan, xref, names))
        for annot in page.annots() or ():
            for xref in _appearance_streams(doc, annot.xref):
                scan.add(_form_cost(scan, xref, names))
    return scan.total


def _stream_cost(scan: _Scan, xref: int, names: dict[str, int]) -> int:
    """Operators of one content stream plus, for each `/Name Do`, the cost of that XObject."""
    data = _decoded(scan, xref)
    cost = len(_OPERATOR.findall(data))
    for match in _DO.finditer(data):
        target = names.get(match.group(1).decode("latin-1"))
        if target is not None:
            cost += _form_cost(scan, target, names)
        if scan.total + cost > scan.limit:
            raise TooMuchWork()
    return cost


def _form_cost(scan: _Scan, xref: int, inherited: dict[str, int]) -> int:
    if xref in scan.costs:
        return scan.costs[xref]
    if xref in scan.active:  # a form that calls itself: MuPDF stops the cycle, so do we
        return 0
    if scan.doc.xref_get_key(xref, "Subtype")[1] != "/Form":
        return 1  # an image: decoded once, its size is limited elsewhere
    scan.active.add(xref)
    try:
        # A form without its own resources uses its caller's (old PDFs do this).
        names = _xobject_names(scan.doc, xref) or inherited
        cost = _stream_cost(scan, xref, names)
    finally:
        scan.active.discard(xref)
    scan.costs[xref] = cost
    return cost


def _xobject_names(doc: "fitz.Document", xref: int) -> dict[str, int]:
    kind, value = doc.xref_get_key(xref, "Resources/XObject")
    if kind == "xref":
        value = doc.xref_object(int(value.split()[0]), compressed=True)
    elif kind != "dict":
        return {}
    return {m.group(1).decode("latin-1"): int(m.group(2)) for m in _REFERENCE.finditer(value.encode("latin-1"))}


def _appearance_streams(doc: "fitz.Document", annot_xref: int) -> list[int]:
    kind, value = doc.xref_get_key(annot_xref, "AP/N")
    if kind == "xref":
        return [int(value.split()[0])]
    if kind == "dict":  # one appearance per state
        return [int(m.group(2)) for m in _REFERENCE.finditer(value.encode("latin-1"))]
    return []


def _decoded(scan: _Scan, xref: int) -> bytes:
    """The stream's content, decompressed with a cap (a flate bomb must not be inflated here)."""
    room = MAX_SCANNED_BYTES - scan.scanned_bytes
    kind, value = scan.doc.xref_get_key(xref, "Filter")
    raw = scan.doc.xref_stream_raw(xref) or b""
    if kind == "null":
        data = raw
    elif value in ("/FlateDecode", "[/FlateDecode]", "/Fl"):
        try:
            data = zlib.decompressobj().decompress(raw, room + 1)
        except zlib.error:
            data = scan.doc.xref_stream(xref) or b""  # MuPDF repairs what zlib refuses
    else:  # other filters (rare on content streams): MuPDF decodes them
        data = scan.doc.xref_stream(xref) or b""
    scan.scanned_bytes += len(data)
    if scan.scanned_bytes > MAX_SCANNED_BYTES:
        raise TooMuchWork()
    return data
