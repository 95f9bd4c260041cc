"""`redactor eval DIR`: run the pipeline over a folder with ground truth (DIR/annotations.json,
the format of sample_docs/ and of the shared specimens) and judge the OUTPUT files the way a
reader would: are the personal numbers, QR codes and faces gone, are the kept fields readable?

Judging from the output, never from the pipeline's own boxes, keeps the measure honest:
- a personal number leaks when its annotated box is not blacked out, or when a reader (the
  full-page RapidOCR pass, RapidOCR and Tesseract on the box's neighbourhood) still reads 5
  or more of its characters in a row, or when the output PDF's text holds them;
- a portrait (main or ghost) leaks when its box is not blacked out;
- a QR code leaks when its box is not blacked out, and any QR code that OpenCV or zxing-cpp
  still decodes anywhere on a published page is a leak too (it holds the BSN on Dutch 2021
  documents, and a reader that decodes it is what an attacker would use);
- a kept field is readable when OCR of the redacted copy finds its text (a few OCR slips allowed).

How much of a box must be black depends on how the box was drawn (`box_precision`): `exact`
boxes (the generator's, measured from the ink) must be black all over, `warped` ones (the
bounding box of a tilted or perspective quadrilateral) all over their inner 90 %, and
hand-drawn boxes (the specimens: no `box_precision`) in their middle.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageOps

from redactor.config import Settings
from redactor.core import Box, TextLine
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import Engines, Outcome, redact_document
from redactor.record import KeyStore

BLACK_LEVEL = 16  # a pixel this dark in every channel counts as blacked out
# (shrink each side by this fraction, share of the rest that must be black) per box precision
COVERAGE = {"exact": (0.0, 0.97), "warped": (0.05, 0.97), "hand": (0.2, 0.8)}
PUBLISH_TARGET = 0.95  # issue 9: at least 95 % of the documents meant to be published are
LEAK_RUN = 5  # this many characters of a personal number in a row, read back, is a leak
PICTURE_MAX_SIDE = 1600


@dataclass
class DocResult:
    file: str
    status: str
    expected: str
    seconds: float
    reasons: list[str] = field(default_factory=list)
    numbers_total: int = 0
    numbers_hidden: int = 0
    portraits_total: int = 0
    portraits_hidden: int = 0
    ghosts_total: int = 0
    ghosts_hidden: int = 0
    qr_total: int = 0
    qr_hidden: int = 0
    keep_total: int = 0
    keep_readable: int = 0
    leaks: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def wrong_status(self) -> bool:
        return self.expected == "needs_review" and self.status == "redacted"

    @property
    def published(self) -> bool:
        return self.expected == "redacted" and self.status == "redacted"


@dataclass
class Judge:
    """The readers the eval trusts. `ocr` is a full-page reader; Tesseract runs when installed."""

    ocr: RapidOcrEngine
    tesseract: bool = field(default_factory=lambda: _tesseract_available())


def _tesseract_available() -> bool:
    try:
        import pytesseract

        pytesseract.get_tesseract_version()
        return True
    except Exception:  # noqa: BLE001 - not installed: one reader fewer, said in the summary
        return False


# --------------------------------------------------------------------------- pixels


def _output_pages(outcome: Outcome, settings: Settings) -> tuple[list[np.ndarray], float]:
    """Output pages as RGB arrays, and the factor from PDF points to their pixels."""
    assert outcome.output is not None
    if outcome.extension == "pdf":
        return _pdf_pages(outcome.output, settings.pdf_dpi), settings.pdf_dpi / 72.0
    return [np.asarray(Image.open(io.BytesIO(outcome.output)).convert("RGB"))], 1.0


def _pdf_pages(data: bytes, dpi: int) -> list[np.ndarray]:
    pages = []
    zoom = dpi / 72.0
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page in doc:
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
            pages.append(np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).copy())
    return pages


def _input_pages(data: bytes, settings: Settings) -> list[np.ndarray]:
    """The input as a person sees it (EXIF orientation applied, PDF pages at the pipeline's dpi)."""
    if data[:5] == b"%PDF-":
        return _pdf_pages(data, settings.pdf_dpi)
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as im:
        return [np.asarray(ImageOps.exif_transpose(im).convert("RGB"))]


def _pdf_text(outcome: Outcome) -> str:
    if outcome.extension != "pdf" or outcome.output is None:
        return ""
    with pymupdf.open(stream=outcome.output, filetype="pdf") as doc:
        return "".join(page.get_text() for page in doc)


def _blacked(image: np.ndarray, box: Box, precision: str) -> bool:
    shrink, share = COVERAGE[precision]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * shrink, (y1 - y0) * shrink
    h, w = image.shape[:2]
    a, b = int(max(0, np.floor(x0 + dx))), int(min(w, np.ceil(x1 - dx)))
    c, d = int(max(0, np.floor(y0 + dy))), int(min(h, np.ceil(y1 - dy)))
    if b <= a or d <= c:
        return False
    patch = image[c:d, a:b]
    return float((patch.max(axis=2) <= BLACK_LEVEL).mean()) >= share


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Undo a clockwise content rotation of 0/90/180/270 degrees (np.rot90 turns counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(image, (rotation // 90) % 4))


def _upright_box(box: Box, rotation: int, size: tuple[int, int]) -> Box:
    """Where `box` lands after _upright; size = (width, height) before turning."""
    w, h = size
    x0, y0, x1, y1 = box
    for _ in range((rotation // 90) % 4):  # one counter-clockwise quarter turn at a time
        x0, y0, x1, y1 = y0, w - x1, y1, w - x0
        w, h = h, w
    return (x0, y0, x1, y1)


# --------------------------------------------------------------------------- text


def squash(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def readable(needle: str, haystack: str) -> bool:
    """`needle` occurs in `haystack` with a few OCR slips: edits (substitution, a dropped or an
    extra character) up to one per 6 characters (at least one), none below 5 characters."""
    n = squash(needle)
    if not n or n in haystack:
        return True
    allowed = max(1, len(n) // 6) if len(n) >= 5 else 0
    return allowed > 0 and _substring_distance(n, haystack) <= allowed


def _substring_distance(needle: str, haystack: str) -> int:
    """The least edit distance between `needle` and any substring of `haystack` (Sellers)."""
    previous = [0] * (len(haystack) + 1)
    for i, a in enumerate(needle, 1):
        current = [i] + [0] * len(haystack)
        for j, b in enumerate(haystack, 1):
            current[j] = min(previous[j - 1] + (a != b), previous[j] + 1, current[j - 1] + 1)
        previous = current
    return min(previous)


def _leaks_in_text(number: str, haystack: str) -> bool:
    n = squash(number)
    if len(n) < LEAK_RUN:
        return bool(n) and n in haystack
    return any(n[i : i + LEAK_RUN] in haystack for i in range(len(n) - LEAK_RUN + 1))


def _text_inside(line: TextLine, box: Box) -> str:
    """The characters of `line` whose centres lie in `box` (the whole line without char boxes)."""
    if len(line.chars) != len(line.text):
        return line.text
    inside = [
        c for c, b in zip(line.text, line.chars)
        if box[0] <= (b[0] + b[2]) / 2 <= box[2] and box[1] <= (b[1] + b[3]) / 2 <= box[3]
    ]
    return "".join(inside)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crop_reads(judge: Judge, upright_page: np.ndarray, box: Box) -> str:
    """What RapidOCR and Tesseract read in the neighbourhood of `box` (upright page pixels)."""
    x0, y0, x1, y1 = box
    m = max(4.0, 0.35 * (y1 - y0))
    h, w = upright_page.shape[:2]
    a, b = int(max(0, x0 - m)), int(min(w, x1 + m))
    c, d = int(max(0, y0 - m)), int(min(h, y1 + m))
    if b - a < 4 or d - c < 4:
        return ""
    crop = upright_page[c:d, a:b]
    # Small print reads better enlarged: aim for letters about 40 px tall.
    scale = min(4.0, max(1.0, 40.0 / max(1.0, y1 - y0)))
    if scale > 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    crop = cv2.copyMakeBorder(crop, 16, 16, 16, 16, cv2.BORDER_REPLICATE)
    texts = [l.text for l in judge.ocr.read(crop, fix_upside_down=False)]
    if judge.tesseract:
        import pytesseract

        texts.append(pytesseract.image_to_string(Image.fromarray(crop), config="--psm 6"))
    return squash(" ".join(texts))


# --------------------------------------------------------------------------- QR codes


def _decoded_qr_codes(image: np.ndarray) -> list[str]:
    """Names of the readers that decode a QR code somewhere on the page (full and half size)."""
    readers = []
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    pictures = [grey, cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)]
    detector = cv2.QRCodeDetector()
    for picture in pictures:
        try:
            ok, texts, _, _ = detector.detectAndDecodeMulti(picture)
        except cv2.error:
            ok, texts = False, ()
        if ok and any(texts):
            readers.append("opencv")
            break
    try:
        import zxingcpp
    except ImportError:
        return readers
    if any(r.text for picture in pictures for r in zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)):
        readers.append("zxing")
    return readers


# --------------------------------------------------------------------------- one document


def _scale(box: list[float], factor: float) -> Box:
    return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)


def _keep_fields(entry: dict) -> list[dict]:
    return entry.get("keep_fields") or ([{"name": "surname", "text": entry["surname"]}] if entry.get("surname") else [])


def evaluate_one(
    entry: dict, data: bytes, engines: Engines, keys: KeyStore, settings: Settings, reader: RapidOcrEngine | Judge
) -> DocResult:
    judge = reader if isinstance(reader, Judge) else Judge(reader)
    start = time.perf_counter()
    outcome = redact_document(data, engines=engines, keys=keys, settings=settings)
    seconds = time.perf_counter() - start
    result, _ = judge_outcome(entry, outcome, settings, judge)
    result.seconds = seconds
    return result


def judge_outcome(entry: dict, outcome: Outcome, settings: Settings, judge: Judge) -> tuple[DocResult, list[np.ndarray]]:
    """Judge one pipeline outcome against its ground truth; returns the result and the output pages."""
    result = DocResult(entry["file"], outcome.status, entry.get("expected_status", "redacted"), 0.0,
                       reasons=list(outcome.reasons))
    numbers = entry.get("personal_numbers", [])
    portraits = [p for p in entry.get("portraits", []) if p.get("type") == "main"]
    ghosts = [p for p in entry.get("portraits", []) if p.get("type") == "ghost"]
    qr_codes = entry.get("qr_codes", [])
    keep = _keep_fields(entry)
    result.numbers_total, result.portraits_total, result.ghosts_total = len(numbers), len(portraits), len(ghosts)
    result.qr_total, result.keep_total = len(qr_codes), len(keep)
    if outcome.output is None:
        # Nothing published: nothing can leak, and nothing is readable either.
        result.numbers_hidden, result.portraits_hidden, result.ghosts_hidden = len(numbers), len(portraits), len(ghosts)
        result.qr_hidden = len(qr_codes)
        return result, []

    pages, factor = _output_pages(outcome, settings)
    if entry.get("box_units") != "pt":
        factor = 1.0
    precision = entry.get("box_precision", "hand")
    rotation = int(entry.get("rotation", 0))
    upright = [_upright(p, rotation) for p in pages]
    read = [judge.ocr.read(p) for p in upright]
    texts = [squash(" ".join(l.text for l in lines)) for lines in read]
    pdf_text = squash(_pdf_text(outcome))

    for item in numbers:
        index = item.get("page", 0)
        box = _scale(item["box"], factor)
        ubox = _upright_box(box, rotation, (pages[index].shape[1], pages[index].shape[0]))
        # Only text read where the number was printed counts: a birth date elsewhere can
        # share digits with a personal number that encodes it.
        nearby = squash(" ".join(_text_inside(l, ubox) for l in read[index] if _overlaps(l.box, ubox)))
        in_layer = item.get("zone") == "text_layer"
        read_back = _leaks_in_text(item["text"], nearby) or _leaks_in_text(item["text"], pdf_text)
        if not read_back and not in_layer:
            read_back = _leaks_in_text(item["text"], _crop_reads(judge, upright[index], ubox))
        hidden = (in_layer or _blacked(pages[index], box, precision)) and not read_back
        result.numbers_hidden += hidden
        if not hidden:
            what = "read back" if read_back else "not blacked out"
            result.leaks.append(f"number {item.get('zone', '?')} page {index} ({what})")
    for kind, items in (("portrait", portraits), ("ghost", ghosts)):
        for item in items:
            hidden = _blacked(pages[item.get("page", 0)], _scale(item["box"], factor), precision)
            if kind == "portrait":
                result.portraits_hidden += hidden
            else:
                result.ghosts_hidden += hidden
            if not hidden:
                result.leaks.append(f"{kind} page {item.get('page', 0)}")
    for item in qr_codes:
        hidden = _blacked(pages[item.get("page", 0)], _scale(item["box"], factor), precision)
        result.qr_hidden += hidden
        if not hidden:
            result.leaks.append(f"QR code page {item.get('page', 0)} not blacked out")
    for index, page in enumerate(pages):
        readers = _decoded_qr_codes(page)
        if readers:
            result.leaks.append(f"QR code decodes on page {index} ({', '.join(readers)})")
    for item in keep:
        ok = readable(item["text"], texts[item["page"]] if "page" in item else "".join(texts))
        result.keep_readable += ok
        if not ok:
            result.unreadable.append(item["name"])
    return result, pages


# --------------------------------------------------------------------------- pictures


def save_pictures(folder: Path, entry: dict, data: bytes, outcome: Outcome, output_pages: list[np.ndarray],
                  settings: Settings) -> list[Path]:
    """Before/after PNGs, like Presidio's ImageRedactorEngine verify: ground truth in green (kept
    fields) and red (what must go), the pipeline's own boxes from the record in blue."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(entry["file"]).name.replace(".", "_")
    factor = settings.pdf_dpi / 72.0 if entry.get("box_units") == "pt" else 1.0
    truth: list[tuple[int, Box, tuple[int, int, int]]] = []
    for key, colour in (("personal_numbers", (230, 0, 0)), ("portraits", (230, 0, 0)), ("qr_codes", (230, 0, 0)),
                        ("keep_fields", (0, 170, 0))):
        for item in entry.get(key, []):
            if "box" in item:
                truth.append((item.get("page", 0), _scale(item["box"], factor), colour))
    found = [(r.get("page", 0), tuple(r["box"]), (0, 90, 255)) for r in outcome.record.get("redactions", [])]
    written = []
    for label, pages, boxes in (("before", _input_pages(data, settings), truth),
                                ("after", output_pages, truth + found)):
        for index, page in enumerate(pages):
            picture = Image.fromarray(page)
            draw = ImageDraw.Draw(picture)
            width = max(2, round(max(picture.size) / 500))
            for page_index, box, colour in boxes:
                if page_index == index:
                    draw.rectangle(box, outline=colour, width=width)
            if label == "after" or not output_pages:
                caption = f"{outcome.status}: " + (" ".join(outcome.reasons) or "published")
                draw.rectangle((0, 0, picture.size[0], 14 * width), fill=(255, 255, 255))
                draw.text((4, 2), caption[:160], fill=(0, 0, 0), font_size=10 * width)
            picture.thumbnail((PICTURE_MAX_SIDE, PICTURE_MAX_SIDE))
            suffix = f"_p{index}" if len(pages) > 1 else ""
            path = folder / f"{stem}{suffix}.{label}.png"
            picture.save(path)
            written.append(path)
    return written


# --------------------------------------------------------------------------- the folder


def run_eval(folder: Path, show: Path | None = None) -> int:
    annotations = folder / "annotations.json"
    if not annotations.is_file():
        print(f"redactor eval: {annotations} not found")
        return 2
    try:
        entries = json.loads(annotations.read_text())
    except (OSError, ValueError) as exc:
        print(f"redactor eval: cannot read {annotations} ({exc})")
        return 2
    settings = Settings()
    with tempfile.TemporaryDirectory() as keydir:
        keys = KeyStore(Path(keydir))
        engines = Engines.load()
        judge = Judge(RapidOcrEngine(careful=True))
        results = []
        print(f"{'file':44} {'status':13} {'numbers':>8} {'portr.':>7} {'ghosts':>7} {'QR':>5} {'kept':>6} {'sec':>5}  notes")
        for entry in entries:
            path = folder / entry["file"]
            try:
                data = path.read_bytes()
            except OSError as exc:
                print(f"redactor eval: cannot read {path} ({exc.strerror})")
                return 2
            start = time.perf_counter()
            outcome = redact_document(data, engines=engines, keys=keys, settings=settings)
            seconds = time.perf_counter() - start
            r, pages = judge_outcome(entry, outcome, settings, judge)
            r.seconds = seconds
            results.append(r)
            if show is not None:
                save_pictures(show, entry, data, outcome, pages, settings)
            _print_row(r)
    return _summary(results, judge)


def _print_row(r: DocResult) -> None:
    notes = "; ".join(
        (["LEAK: " + ", ".join(r.leaks)] if r.leaks else [])
        + (["unreadable: " + ", ".join(r.unreadable)] if r.unreadable else [])
        + (["WRONG: expected needs_review"] if r.wrong_status else [])
        + ([f"expected {r.expected}"] if r.expected != r.status and not r.wrong_status else [])
    )
    print(
        f"{r.file[:44]:44} {r.status:13} {r.numbers_hidden:>3}/{r.numbers_total:<4} "
        f"{r.portraits_hidden:>3}/{r.portraits_total:<3} {r.ghosts_hidden:>3}/{r.ghosts_total:<3} "
        f"{r.qr_hidden:>2}/{r.qr_total:<2} {r.keep_readable:>2}/{r.keep_total:<3} {r.seconds:5.2f}  {notes}",
        flush=True,
    )
    for reason in r.reasons if r.status != "redacted" else []:
        print(f"    reason: {reason}", flush=True)


def _summary(results: list[DocResult], judge: Judge) -> int:
    def total(attr: str) -> int:
        return sum(getattr(r, attr) for r in results)

    published = [r for r in results if r.status == "redacted"]
    to_publish = [r for r in results if r.expected == "redacted"]
    ok = sum(r.published for r in results)
    share = ok / len(to_publish) if to_publish else 1.0
    keep_pub = sum(r.keep_total for r in published)
    keep_ok = sum(r.keep_readable for r in published)
    secs = sorted(r.seconds for r in results)
    median = secs[len(secs) // 2] if secs else 0.0
    leaks = sum(len(r.leaks) for r in results)
    wrong = sum(r.wrong_status for r in results)
    print("-" * 100)
    print(f"documents: {len(results)}  redacted: {len(published)}  needs_review: "
          f"{sum(r.status == 'needs_review' for r in results)}  rejected: {sum(r.status == 'rejected' for r in results)}")
    print(f"personal numbers hidden: {total('numbers_hidden')}/{total('numbers_total')}  "
          f"portraits hidden: {total('portraits_hidden')}/{total('portraits_total')}  "
          f"ghosts hidden: {total('ghosts_hidden')}/{total('ghosts_total')}  "
          f"QR codes hidden: {total('qr_hidden')}/{total('qr_total')}")
    print(f"kept fields readable (published copies): {keep_ok}/{keep_pub}"
          + (f" = {100 * keep_ok / keep_pub:.1f}%" if keep_pub else ""))
    print(f"wrong 'redacted' where needs_review was expected: {wrong}")
    print(f"seconds per document: median {median:.2f}, max {max(secs, default=0):.2f}"
          + ("" if judge.tesseract else "  (Tesseract missing: one reader fewer)"))
    print(f"published {ok}/{len(to_publish)} = {100 * share:.1f}% (target {100 * PUBLISH_TARGET:.0f}%)   LEAKS: {leaks}")
    failed = leaks > 0 or wrong > 0 or share < PUBLISH_TARGET
    if failed:
        print("FAIL: " + ", ".join(
            ([f"{leaks} leak(s)"] if leaks else []) + ([f"{wrong} wrongly published"] if wrong else [])
            + ([f"published {100 * share:.1f}% < {100 * PUBLISH_TARGET:.0f}%"] if share < PUBLISH_TARGET else [])))
    return 1 if failed else 0
