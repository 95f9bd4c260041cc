"""The whole pipeline, top to bottom. Every entry point (CLI, REST, watched folder) calls
`redact_document`; nothing here touches the disk except the key store.

    load -> normalise -> find (text, MRZ, faces, layout) -> decide -> redact -> record
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from redactor import load as loader
from redactor import mrz as mrz_reader
from redactor.config import Settings
from redactor.core import Decision, Document, Region, Status
from redactor.decide import PageFindings, decide
from redactor.errors import RejectedInput
from redactor.faces import CenterFaceDetector, enhance_contrast
from redactor.layout import ghost_expected, load_layouts, portrait_zones
from redactor.normalise import UprightPage, upright
from redactor.numbers import find_numbers
from redactor.ocr import RapidOcrEngine
from redactor.output import encode_pdf, encode_png
from redactor.record import KeyStore, build_record
from redactor.redact import black_out, watermark

log = logging.getLogger(__name__)

# A face this sure, still visible after redaction, stops publication.
LEFTOVER_FACE_SCORE = 0.5


@dataclass
class Engines:
    """The loaded models. Loading takes a second; build one per process and reuse it."""

    ocr: RapidOcrEngine
    faces: CenterFaceDetector
    layouts: dict

    @classmethod
    def load(cls, threads: int = 2) -> "Engines":
        """`threads` per model; a pool of N worker processes on 2 cores wants 2 // N."""
        return cls(ocr=RapidOcrEngine(threads), faces=CenterFaceDetector(threads), layouts=load_layouts())


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


def find(page_upright: UprightPage, engines: Engines) -> PageFindings:
    """Everything sensitive on one upright page: MRZ, personal numbers, photos."""
    lines = page_upright.all_lines
    # The MRZ from what OCR sees; a scanner's text layer only when OCR found none (mixing
    # both would pair lines of the two).
    mrz = mrz_reader.parse(list(page_upright.lines)) or mrz_reader.parse(list(page_upright.text_layer))
    viz_lines = [l for l in lines if not (mrz and l in mrz.source_lines)]
    numbers = find_numbers(viz_lines, mrz.personal_numbers if mrz else [], mrz.document_number if mrz else None)
    image = page_upright.image
    h, w = image.shape[:2]
    main_faces = engines.faces.detect(image, threshold=0.5)
    # Faint ghost images show up at some scales and not others: look at two.
    enhanced = enhance_contrast(image)
    faint_faces = [f for side in (640, 960) for f in engines.faces.detect(enhanced, threshold=0.3, max_side=side)]
    zones = portrait_zones(main_faces, faint_faces, lines, (w, h), mrz.line_boxes[0][1] if mrz else None)
    return PageFindings(
        upright=page_upright, mrz=mrz, numbers=numbers, zones=zones, ghost_expected=ghost_expected(mrz, engines.layouts)
    )


def leftover_faces(images: list[np.ndarray], findings: list[PageFindings], engines: Engines) -> list[str]:
    """After blacking out: is any face still visible? Then we are not sure, whatever we think we found."""
    reasons = []
    for image, f in zip(images, findings):
        upright_image = np.ascontiguousarray(np.rot90(image, f.upright.k))
        if engines.faces.detect(upright_image, threshold=LEFTOVER_FACE_SCORE):
            reasons.append(f"A face-like region remains visible after redaction (page {f.page_index + 1}).")
    return reasons


def redact_document(
    data: bytes,
    *,
    engines: Engines,
    keys: KeyStore,
    settings: Settings,
    purpose: str | None = None,
) -> Outcome:
    try:
        document = loader.load(data, settings)
    except RejectedInput as exc:
        record = keys.sign(build_record(status="rejected", reasons=[exc.message]))
        return Outcome(status="rejected", reasons=[exc.message], record=record, reject_code=exc.code)

    try:
        findings = [find(upright(page, engines.ocr), engines) for page in document.pages]
    except Exception:  # noqa: BLE001 - a bug must not publish anything, nor crash a batch
        log.exception("analysis failed")
        reasons = ["The document could not be analysed completely; a person must check it."]
        record = keys.sign(build_record(status="needs_review", reasons=reasons, engines=engines))
        return Outcome(status="needs_review", reasons=reasons, record=record)
    decision = decide(findings)
    reasons = list(decision.reasons)
    if not reasons:
        images, drawn = _black_out_pages(document, decision)
        reasons = leftover_faces(images, findings, engines)
    if reasons:
        record = keys.sign(build_record(status="needs_review", reasons=reasons, findings=findings, engines=engines))
        return Outcome(status="needs_review", reasons=reasons, record=record)

    if purpose:
        keep = [[f.upright.to_page_box(l.box) for l in f.upright.all_lines] for f in findings]
        images = [watermark(img, purpose, date.today(), k) for img, k in zip(images, keep)]
    output, ext, media = _encode(document, images, settings.pdf_dpi)
    record = keys.sign(
        build_record(status="redacted", reasons=[], findings=findings, engines=engines, regions=drawn, output=output)
    )
    return Outcome(status="redacted", reasons=[], record=record, output=output, extension=ext, media_type=media)


def _black_out_pages(document: Document, decision: Decision) -> tuple[list[np.ndarray], list[Region]]:
    images, drawn = [], []
    for page in document.pages:
        image, boxes = black_out(page.image, [r for r in decision.regions if r.page == page.index])
        images.append(image)
        drawn.extend(boxes)
    return images, drawn


def _encode(document: Document, images: list[np.ndarray], dpi: int) -> tuple[bytes, str, str]:
    """PNG for a single image; PDF for a PDF, and for a multi-page TIFF (a PNG has one page)."""
    if document.is_pdf or len(images) > 1:
        sizes = [p.pdf_size_pt or (p.size[0] * 72 / dpi, p.size[1] * 72 / dpi) for p in document.pages]
        return encode_pdf(images, sizes), "pdf", "application/pdf"
    return encode_png(images[0]), "png", "image/png"
