"""`redactor eval DIR`: run the pipeline over a folder with ground truth (DIR/annotations.json,
the format of sample_docs/ and of the shared specimens) and judge the OUTPUT files the way a
reader would: are the personal numbers and faces gone, are the kept fields still readable?

Judging from the output, not from the pipeline's own boxes, keeps the measure honest:
- a personal number leaks when the middle of its annotated box is not blacked out, or when
  OCR of the redacted copy still reads 5 or more of its characters in a row;
- a portrait leaks when the middle of its annotated box is not blacked out;
- a kept field is readable when OCR of the redacted copy finds its text (one slip allowed).
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from redactor.config import Settings
from redactor.core import Box, TextLine
from redactor.geometry import intersection
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import Engines, Outcome, redact_document
from redactor.record import KeyStore

BLACK_LEVEL = 16  # a pixel this dark in every channel counts as blacked out
SHRINK = 0.2  # judge the middle of a (generous, hand-drawn) box


@dataclass
class DocResult:
    file: str
    status: str
    expected: str
    seconds: float
    numbers_total: int = 0
    numbers_hidden: int = 0
    portraits_total: int = 0
    portraits_hidden: int = 0
    ghosts_total: int = 0
    ghosts_hidden: int = 0
    keep_total: int = 0
    keep_readable: int = 0
    leaks: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def wrong_status(self) -> bool:
        return self.expected == "needs_review" and self.status == "redacted"


def _output_pages(outcome: Outcome, settings: Settings) -> tuple[list[np.ndarray], float]:
    """Output pages as RGB arrays, and the factor from annotation units to their pixels."""
    assert outcome.output is not None
    if outcome.extension == "pdf":
        pages = []
        zoom = settings.pdf_dpi / 72.0
        with pymupdf.open(stream=outcome.output, filetype="pdf") as doc:
            for page in doc:
                pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
                pages.append(np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[:, :, :3].copy())
        return pages, zoom
    return [np.asarray(Image.open(io.BytesIO(outcome.output)).convert("RGB"))], 1.0


def _blacked(image: np.ndarray, box: Box) -> bool:
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * SHRINK, (y1 - y0) * SHRINK
    h, w = image.shape[:2]
    a, b = int(max(0, x0 + dx)), int(min(w, x1 - dx))
    c, d = int(max(0, y0 + dy)), int(min(h, y1 - dy))
    if b <= a or d <= c:
        return False
    patch = image[c:d, a:b]
    return float((patch.max(axis=2) <= BLACK_LEVEL).mean()) >= 0.8


def _squash(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _readable(needle: str, haystack: str) -> bool:
    n = _squash(needle)
    if not n:
        return True
    if n in haystack:
        return True
    k = len(n)
    allowed = 1 if k >= 5 else 0
    return any(sum(a != b for a, b in zip(haystack[i : i + k], n)) <= allowed for i in range(len(haystack) - k + 1))


def _leaks_in_text(number: str, haystack: str) -> bool:
    n = _squash(number)
    return any(n[i : i + 5] in haystack for i in range(max(1, len(n) - 4))) if len(n) >= 5 else n in haystack


def _text_inside(line: TextLine, box: Box) -> str:
    """The characters of `line` whose centres lie in `box` (the whole line without char boxes)."""
    if len(line.chars) != len(line.text):
        return line.text
    inside = [
        c for c, b in zip(line.text, line.chars)
        if box[0] <= (b[0] + b[2]) / 2 <= box[2] and box[1] <= (b[1] + b[3]) / 2 <= box[3]
    ]
    return "".join(inside)


def _scale(box: list[float], factor: float) -> Box:
    return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)


def evaluate_one(entry: dict, data: bytes, engines: Engines, keys: KeyStore, settings: Settings, reader: RapidOcrEngine) -> DocResult:
    start = time.perf_counter()
    outcome = redact_document(data, engines=engines, keys=keys, settings=settings)
    seconds = time.perf_counter() - start
    result = DocResult(entry["file"], outcome.status, entry.get("expected_status", "redacted"), seconds)
    numbers = entry.get("personal_numbers", [])
    portraits = [p for p in entry.get("portraits", []) if p.get("type") == "main"]
    ghosts = [p for p in entry.get("portraits", []) if p.get("type") == "ghost"]
    keep = entry.get("keep_fields") or ([{"name": "surname", "text": entry["surname"]}] if entry.get("surname") else [])
    result.numbers_total, result.portraits_total, result.ghosts_total = len(numbers), len(portraits), len(ghosts)
    result.keep_total = len(keep)
    if outcome.output is None:
        # Nothing published: nothing can leak, and nothing is readable either.
        result.numbers_hidden, result.portraits_hidden, result.ghosts_hidden = len(numbers), len(portraits), len(ghosts)
        return result

    pages, factor = _output_pages(outcome, settings)
    if entry.get("box_units") != "pt":
        factor = 1.0
    read = [reader.read(p) for p in pages]
    texts = [_squash(" ".join(l.text for l in lines)) for lines in read]
    for item in numbers:
        index = item.get("page", 0)
        box = _scale(item["box"], factor)
        # Only text read where the number was printed counts: a birth date elsewhere can
        # share digits with a personal number that encodes it.
        nearby = _squash(" ".join(_text_inside(l, box) for l in read[index] if intersection(l.box, box) > 0))
        readable = _leaks_in_text(item["text"], nearby)
        hidden = (_blacked(pages[index], box) or item.get("zone") == "text_layer") and not readable
        result.numbers_hidden += hidden
        if not hidden:
            result.leaks.append(f"number {item.get('zone', '?')} page {item.get('page', 0)}")
    for kind, items in (("portrait", portraits), ("ghost", ghosts)):
        for item in items:
            hidden = _blacked(pages[item.get("page", 0)], _scale(item["box"], factor))
            if kind == "portrait":
                result.portraits_hidden += hidden
            else:
                result.ghosts_hidden += hidden
            if not hidden:
                result.leaks.append(f"{kind} page {item.get('page', 0)}")
    for item in keep:
        ok = _readable(item["text"], texts[item.get("page", 0)] if "page" in item else "".join(texts))
        result.keep_readable += ok
        if not ok:
            result.unreadable.append(item["name"])
    return result


def run_eval(folder: Path, show: Path | None = None) -> int:
    annotations = folder / "annotations.json"
    if not annotations.is_file():
        print(f"redactor eval: {annotations} not found")
        return 2
    entries = json.loads(annotations.read_text())
    settings = Settings()
    with tempfile.TemporaryDirectory() as keydir:
        keys = KeyStore(Path(keydir))
        engines = Engines.load()
        reader = RapidOcrEngine()
        results = []
        header = f"{'file':34} {'status':13} {'numbers':>8} {'portr.':>7} {'ghosts':>7} {'kept':>6} {'sec':>5}  notes"
        print(header)
        for entry in entries:
            data = (folder / entry["file"]).read_bytes()
            r = evaluate_one(entry, data, engines, keys, settings, reader)
            results.append(r)
            notes = "; ".join(
                (["LEAK: " + ", ".join(r.leaks)] if r.leaks else [])
                + (["unreadable: " + ", ".join(r.unreadable)] if r.unreadable else [])
                + (["WRONG: expected needs_review"] if r.wrong_status else [])
                + ([f"expected {r.expected}"] if r.expected != r.status and not r.wrong_status else [])
            )
            print(
                f"{r.file[:34]:34} {r.status:13} {r.numbers_hidden:>3}/{r.numbers_total:<4} "
                f"{r.portraits_hidden:>3}/{r.portraits_total:<3} {r.ghosts_hidden:>3}/{r.ghosts_total:<3} "
                f"{r.keep_readable:>2}/{r.keep_total:<3} {r.seconds:5.2f}  {notes}",
                flush=True,
            )
    return _summary(results)


def _summary(results: list[DocResult]) -> int:
    def total(attr: str) -> int:
        return sum(getattr(r, attr) for r in results)

    published = [r for r in results if r.status == "redacted"]
    keep_pub = sum(r.keep_total for r in published)
    keep_ok = sum(r.keep_readable for r in published)
    secs = sorted(r.seconds for r in results)
    median = secs[len(secs) // 2] if secs else 0.0
    print("-" * 80)
    print(f"documents: {len(results)}  redacted: {len(published)}  needs_review: "
          f"{sum(r.status == 'needs_review' for r in results)}  rejected: {sum(r.status == 'rejected' for r in results)}")
    print(f"personal numbers hidden: {total('numbers_hidden')}/{total('numbers_total')}  "
          f"portraits hidden: {total('portraits_hidden')}/{total('portraits_total')}  "
          f"ghosts hidden: {total('ghosts_hidden')}/{total('ghosts_total')}")
    print(f"kept fields readable (published copies): {keep_ok}/{keep_pub}"
          + (f" = {100 * keep_ok / keep_pub:.1f}%" if keep_pub else ""))
    print(f"wrong 'redacted' where needs_review was expected: {sum(r.wrong_status for r in results)}")
    print(f"seconds per document: median {median:.2f}, max {max(secs, default=0):.2f}")
    leaks = sum(len(r.leaks) for r in results)
    print(f"LEAKS: {leaks}")
    return 1 if leaks or any(r.wrong_status for r in results) else 0
