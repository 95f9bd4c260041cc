"""The whole pipeline, top to bottom. Every entry point (CLI, REST, watched folder) calls
`redact_document`; nothing here touches the disk except the key store.

    load -> normalise -> find (text, MRZ, faces, layout) -> decide -> redact -> record
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from redactor import load as loader
from redactor import mrz as mrz_reader
from redactor.config import Settings
from redactor.core import Box, Document, PageFindings, Region, RegionKind, Review, Status, TextLine
from redactor.decide import decide
from redactor.documents import DocumentKind, PageEvidence, classify, issuing_state, layout_zone
from redactor.errors import RejectedInput
from redactor.faces import CenterFaceDetector, Face, HaarFaceDetector, enhance_contrast
from redactor.geometry import intersection, union
from redactor.layout import GHOST_SCORE, MAIN_SCORE, MrzFrame, face_zones, ghost_copy_zone
from redactor.layout import zone_region
from redactor.normalise import UprightPage, upright
from redactor.numbers import NumberFindings, find_numbers
from redactor.ocr import RapidOcrEngine
from redactor.output import encode_pdf, encode_png, preview
from redactor.qr import find_qr_codes
from redactor.record import KeyStore, build_record
from redactor.redact import black_out, watermark
from redactor.resources import model_json
from redactor.verify import secrets_of, verify

log = logging.getLogger(__name__)

# The sizes (long side, px) the faint-face passes see the document's area at. Measured on the
# 141 annotated ghosts of sample_docs, the specimens, their variants and a seed-53 matrix:
# CenterFace found 103 at 640 and 800 px of the text area, every one of the 99 that 640 and
# 960 px of the whole page found, for four fifths of the cost. Faint faces come and go from
# one scale to the next: 480 and 800 px found 106, but not the French specimen's ghost at
# JPEG quality 30, which only 640 px shows.
FAINT_SIDES = (640, 800)


@dataclass
class Engines:
    """The loaded models and tables. Loading takes a second; build one per process and reuse it."""

    ocr: RapidOcrEngine
    faces: CenterFaceDetector
    # A second face model with other blind spots; verification runs both.
    haar: HaarFaceDetector
    documents: dict  # models/documents.json: what each kind of document carries

    @classmethod
    def load(cls, threads: int = 2) -> "Engines":
        """`threads` per model; a pool of N worker processes on 2 cores wants 2 // N."""
        return cls(
            ocr=RapidOcrEngine(threads),
            faces=CenterFaceDetector(threads),
            haar=HaarFaceDetector(threads),
            documents=model_json("documents.json"),
        )


@dataclass(frozen=True)
class Outcome:
    """The result for one input document.

    `output` (the redacted PNG or PDF bytes) is set only when `status == "redacted"`.
    `record` is always the signed verification record, also for needs_review/rejected
    (then its `redacted_sha256` is null and `reasons` says why).
    """

    status: Status
    reasons: list[str]
    record: dict[str, Any]
    output: bytes | None = None
    extension: str | None = None  # "png" or "pdf"
    media_type: str | None = None  # "image/png" or "application/pdf"
    reject_code: str | None = None  # see redactor.errors.RejectCode
    # needs_review: what the pipeline would black out (page pixels as displayed), for a person
    # to start from, and what verification still saw after blacking that out.
    proposed: tuple[Region, ...] = ()
    leftovers: tuple[Region, ...] = ()
    page_sizes: tuple[tuple[int, int], ...] = ()  # (width, height) of each page as displayed


@dataclass(frozen=True)
class _PageText:
    """What a page's text says: its MRZ (read, or lines that look like one and do not parse),
    the other lines, and the personal numbers in them."""

    reading: mrz_reader.MrzReading
    lines: list[TextLine]  # outside the MRZ
    dutch: bool
    numbers: NumberFindings


def _read_text(page: UprightPage) -> _PageText:
    # The MRZ from what OCR sees; a scanner's text layer only when OCR found none (mixing
    # both would pair lines of the two).
    reading = mrz_reader.read(list(page.lines))
    if reading.result is None and page.text_layer:
        reading = mrz_reader.read(list(page.text_layer))
    mrz = reading.result
    in_mrz = {id(l) for l in (mrz.source_lines if mrz else ())} | {id(l) for l in reading.unparsed}
    lines = [l for l in page.all_lines if id(l) not in in_mrz]
    dutch = mrz is None or issuing_state(mrz) == "NLD"
    numbers = find_numbers(lines, mrz.personal_numbers if mrz else [], mrz.document_number if mrz else None, dutch=dutch)
    return _PageText(reading, lines, dutch, numbers)


def find(page: UprightPage, engines: Engines) -> PageFindings:
    """Everything sensitive on one upright page, and which document it is."""
    image = page.image
    # CenterFace keeps both cores busy; the QR search (mostly one-threaded OpenCV) and the
    # reading of the text (Python) run beside it.
    with ThreadPoolExecutor(2, thread_name_prefix="find") as pool:
        searching = pool.submit(find_qr_codes, image)
        reading_text = pool.submit(_read_text, page)
        main_faces = engines.faces.detect(image, threshold=MAIN_SCORE)
        qr_codes, text = searching.result(), reading_text.result()
    reading, mrz, viz_lines, numbers = text.reading, text.reading.result, text.lines, text.numbers

    document = classify(
        engines.documents,
        PageEvidence(
            mrz=mrz,
            lines=viz_lines,
            has_qr=bool(qr_codes),
            has_face=bool(main_faces),
            has_bsn=any(h.kind == RegionKind.BSN and "BSN check" in h.reason for h in numbers.hits),
            has_unparsed_mrz=bool(reading.unparsed),
        ),
    )
    faint_faces = _faint_faces(image, page.text_area, engines.faces) if document.ghost != "none" else []
    number_kind = RegionKind.BSN if text.dutch else RegionKind.PERSONAL_NUMBER
    regions = [Region(h.kind, 0, h.box, h.reason) for h in numbers.hits]
    regions += _mrz_regions(mrz, number_kind)
    regions += [
        Region(RegionKind.MRZ_DIGITS, 0, box, "digits of an MRZ line that could not be read")
        for line in reading.unparsed
        for box in mrz_reader.digit_run_boxes(line)
    ]
    regions += [Region(RegionKind.QR_CODE, 0, q.box, "QR code") for q in qr_codes]
    regions += _photo_regions(page, engines.documents, document, mrz, main_faces, faint_faces, viz_lines)
    secrets = [h.value for h in numbers.hits] + (mrz.personal_numbers if mrz else [])
    return PageFindings(
        upright=page,
        mrz=mrz,
        document=document,
        regions=regions,
        doubts=list(numbers.review_reasons),
        secrets=secrets,
        printed_numbers=len(numbers.hits),
        doubt_areas=[Region(number_kind, 0, box, "where the unread number should be") for box in numbers.review_areas],
    )


def _faint_faces(image: np.ndarray, text_area: Box | None, detector: CenterFaceDetector) -> list[Face]:
    """Faces at a low threshold on a contrast-enhanced page: ghost images. Faint ones show up
    at some scales and not others, so two are looked at, of the part of the page that holds
    the document's text (a card on an A4 scan is looked at as a card scan is). Only where a
    ghost may be: the document kind says none is printed on licences and back sides."""
    x0, y0, x1, y1 = (0, 0, image.shape[1], image.shape[0]) if text_area is None else (int(v) for v in text_area)
    enhanced = enhance_contrast(image[y0:y1, x0:x1])
    faces = [f for side in FAINT_SIDES for f in detector.detect(enhanced, threshold=GHOST_SCORE, max_side=side)]
    return [replace(f, box=(f.box[0] + x0, f.box[1] + y0, f.box[2] + x0, f.box[3] + y0)) for f in faces]


def _mrz_regions(mrz: mrz_reader.MrzResult | None, kind: RegionKind) -> list[Region]:
    """The personal-number cells of the MRZ, whenever they are not all filler."""
    if mrz is None:
        return []
    return [
        Region(kind, 0, mrz.cell_box(f.line, f.start, f.end), "personal number field of the MRZ")
        for f in mrz.personal_fields
        if f.text.strip("<")
    ]


def _photo_regions(
    page: UprightPage,
    table: dict,
    document: DocumentKind,
    mrz: mrz_reader.MrzResult | None,
    main_faces: list[Face],
    faint_faces: list[Face],
    lines: list,
) -> list[Region]:
    """Portraits and ghost images: detected, matched as a copy of the portrait, and by layout."""
    h, w = page.image.shape[:2]
    mrz_box = union(mrz.line_boxes[0], mrz.line_boxes[-1]) if mrz else None
    frame = MrzFrame.of(mrz) if mrz else None
    zones = face_zones(main_faces, faint_faces, lines, (w, h), mrz_box, frame.slope if frame else 0.0)
    portraits = [z for z in zones if z.kind == RegionKind.PORTRAIT]
    if document.ghost != "none" and not any(z.kind == RegionKind.GHOST_PORTRAIT for z in zones):
        copy = ghost_copy_zone(page.image, portraits, main_faces, lines, mrz_box)
        zones += [copy] if copy else []
    if frame is not None and document.side == "data_page":
        for name, kind in (("portrait_zone", RegionKind.PORTRAIT), ("ghost_zone", RegionKind.GHOST_PORTRAIT)):
            zone = layout_zone(table, document, name)
            region = zone_region(frame, zone, kind, (w, h), document.title) if zone is not None else None
            if region is not None:
                zones.append(region)
    return zones


def redact_document(
    data: bytes,
    *,
    engines: Engines,
    keys: KeyStore,
    settings: Settings,
    purpose: str | None = None,
) -> Outcome:
    """The automatic path: published only when nothing is in doubt and verification is clean."""
    analysed = _analyse(data, engines, keys, settings)
    if isinstance(analysed, Outcome):
        return analysed
    document, findings = analysed
    decision = decide(findings)
    if decision.reasons:
        return _needs_review(decision.reasons, findings, engines, keys, proposed=decision.regions)
    return _publish(document, findings, decision.regions, engines=engines, keys=keys, settings=settings, purpose=purpose)


def redact_reviewed(
    data: bytes,
    review: Review,
    *,
    engines: Engines,
    keys: KeyStore,
    settings: Settings,
    purpose: str | None = None,
) -> Outcome:
    """A person has looked (`review`): black out what they kept and added, then verify the
    result exactly as the automatic path does. Their boxes answer the doubts that sent the
    document to review; what verification still sees stops publication again."""
    analysed = _analyse(data, engines, keys, settings)
    if isinstance(analysed, Outcome):
        return analysed
    document, findings = analysed
    if review.kept is None:  # a requester: the pipeline's proposals, and the doubts they answer
        decision = decide(findings)
        review = replace(review, kept=tuple(decision.regions), reasons=tuple(decision.reasons))
    kept = list(review.kept or ())
    pages = len(document.pages)
    regions = [r for r in kept + list(review.added) if 0 <= r.page < pages]
    if review.by == "requester":
        missed = _uncovered_doubts(findings, list(review.added))
        if missed:
            reasons = ["No box covers the place where the unread number should be (outlined in red)."]
            return _needs_review(reasons, findings, engines, keys, proposed=regions, leftovers=missed)
    return _publish(
        document, findings, regions, engines=engines, keys=keys, settings=settings, purpose=purpose, review=review
    )


def _uncovered_doubts(findings: list[PageFindings], drawn: list[Region]) -> list[Region]:
    """The places of doubts (in page pixels) that no drawn box touches. A requester's box
    answers a located doubt only where the doubt is: a box in a corner does not answer an
    unread number beside its label. Staff are trusted to judge this themselves."""
    missed = []
    for f in findings:
        for doubt in f.doubt_areas:
            place = replace(doubt, page=f.page_index, box=f.upright.to_page_box(doubt.box))
            if not any(r.page == place.page and intersection(r.box, place.box) > 0 for r in drawn):
                missed.append(place)
    return missed


def render_pages(
    data: bytes, settings: Settings, max_side: int, fmt: str = "png", only: list[int] | None = None
) -> list[bytes]:
    """The pages (`only` these, when given) as every step sees them (the coordinates of
    `Outcome.proposed`), scaled down for a person to look at. Raises RejectedInput for what
    `redact_document` rejects."""
    pages = loader.load(data, settings).pages
    return [preview(p.image, max_side, fmt) for p in pages if only is None or p.index in only]


def _analyse(
    data: bytes, engines: Engines, keys: KeyStore, settings: Settings
) -> tuple[Document, list[PageFindings]] | Outcome:
    """load -> normalise -> find, for both paths; the Outcome when the file is rejected or the
    analysis fails (then nothing is published)."""
    try:
        document = loader.load(data, settings)
    except RejectedInput as exc:
        record = keys.sign(build_record(status="rejected", reasons=[exc.message]))
        return Outcome(status="rejected", reasons=[exc.message], record=record, reject_code=exc.code)
    try:
        return document, [find(upright(page, engines.ocr), engines) for page in document.pages]
    except Exception:  # noqa: BLE001 - a bug must not publish anything, nor crash a batch
        log.exception("analysis failed")
        reasons = ["The document could not be analysed completely; a person must check it."]
        record = keys.sign(build_record(status="needs_review", reasons=reasons, engines=engines))
        return Outcome(status="needs_review", reasons=reasons, record=record)


def _needs_review(
    reasons: list[str],
    findings: list[PageFindings],
    engines: Engines,
    keys: KeyStore,
    *,
    proposed: list[Region],
    leftovers: list[Region] | None = None,
) -> Outcome:
    record = keys.sign(build_record(status="needs_review", reasons=reasons, findings=findings, engines=engines))
    return Outcome(
        status="needs_review",
        reasons=reasons,
        record=record,
        proposed=tuple(proposed),
        leftovers=tuple(leftovers or ()),
        page_sizes=tuple(f.upright.page.size for f in findings),
    )


def _publish(
    document: Document,
    findings: list[PageFindings],
    regions: list[Region],
    *,
    engines: Engines,
    keys: KeyStore,
    settings: Settings,
    purpose: str | None,
    review: Review | None = None,
) -> Outcome:
    """Black out, read the result as an attacker would (widening boxes where digits still
    read), and sign; or needs_review with what is still visible."""
    images, drawn = _black_out_pages(document, regions)
    today = date.today()

    def finish(pages: list[np.ndarray]) -> tuple[bytes, str, str]:
        if purpose:
            pages = [watermark(img, purpose, today) for img in pages]
        return _encode(document, pages, settings.pdf_dpi)

    # Verification mostly leaves the pages as they are: encode them meanwhile, on the core its
    # models leave idle at times (the encoder runs on one). The bytes stay in memory and are
    # used only when verification passes without widening a box.
    with ThreadPoolExecutor(1, thread_name_prefix="encode") as pool:
        early = pool.submit(finish, images)
        checked = verify(
            images, [secrets_of(f) for f in findings], ocr=engines.ocr.careful(), centerface=engines.faces, haar=engines.haar, blacked=drawn
        )
        if checked.reasons:
            early.cancel()
    drawn = drawn + checked.regions
    if checked.reasons:
        return _needs_review(
            checked.reasons, findings, engines, keys, proposed=regions + checked.regions, leftovers=checked.leftovers
        )
    unchanged = all(a is b for a, b in zip(checked.images, images))
    output, ext, media = early.result() if unchanged else finish(checked.images)
    unsigned = build_record(status="redacted", reasons=[], findings=findings, engines=engines, regions=drawn, output=output)
    if review is not None:
        unsigned["review"] = review.block(unsigned["issued_at"])
    record = keys.sign(unsigned)
    return Outcome(status="redacted", reasons=[], record=record, output=output, extension=ext, media_type=media)


def _black_out_pages(document: Document, regions: list[Region]) -> tuple[list[np.ndarray], list[Region]]:
    images, drawn = [], []
    for page in document.pages:
        image, boxes = black_out(page.image, [r for r in regions if r.page == page.index])
        images.append(image)
        drawn.extend(boxes)
    return images, drawn


def _encode(document: Document, images: list[np.ndarray], dpi: int) -> tuple[bytes, str, str]:
    """PNG for a single image; PDF for a PDF, and for a multi-page TIFF (a PNG has one page)."""
    if document.is_pdf or len(images) > 1:
        sizes = [p.pdf_size_pt or (p.size[0] * 72 / dpi, p.size[1] * 72 / dpi) for p in document.pages]
        return encode_pdf(images, sizes), "pdf", "application/pdf"
    return encode_png(images[0]), "png", "image/png"
