"""End to end with the real OCR and face models on the project's own synthetic documents:
the redacted copy must hide every personal number and photo and keep the rest readable."""

from __future__ import annotations

import io
import json

import numpy as np
import pymupdf
import pytest
from PIL import Image

from evaluation.evaluate import evaluate_one
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import Outcome, redact_document
from redactor.record import verify_record

from conftest import SAMPLES

ENTRIES = json.loads((SAMPLES / "annotations.json").read_text())


@pytest.fixture(scope="module")
def reader():
    return RapidOcrEngine()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_sample_is_redacted_without_leaks(entry, engines, keys, settings, reader):
    data = (SAMPLES / entry["file"]).read_bytes()
    result = evaluate_one(entry, data, engines, keys, settings, reader)
    assert result.status == entry["expected_status"], result
    assert result.leaks == []
    if result.status == "redacted":
        assert result.keep_readable >= result.keep_total - 1, result.unreadable


def test_the_judge_sees_a_leak_in_an_unredacted_copy(sample_entries, engines, keys, settings, reader, monkeypatch):
    """Guard for the test above: an 'output' that is the original must count as leaking."""
    entry = sample_entries["nl_passport_2014_scan300.jpg"]
    data = (SAMPLES / entry["file"]).read_bytes()
    png = io.BytesIO()
    Image.open(io.BytesIO(data)).save(png, format="PNG")
    fake = Outcome(status="redacted", reasons=[], record={}, output=png.getvalue(), extension="png", media_type="image/png")
    monkeypatch.setattr("evaluation.evaluate.redact_document", lambda *a, **k: fake)
    result = evaluate_one(entry, data, engines, keys, settings, reader)
    assert len(result.leaks) == len(entry["personal_numbers"]) + len(entry["portraits"])


def _redact(name: str, engines, keys, settings, purpose=None) -> Outcome:
    return redact_document((SAMPLES / name).read_bytes(), engines=engines, keys=keys, settings=settings, purpose=purpose)


def test_png_output_keeps_size_and_carries_no_metadata(engines, keys, settings):
    outcome = _redact("nl_passport_2014_exif_orientation6.jpg", engines, keys, settings)
    assert outcome.status == "redacted" and outcome.extension == "png"
    image = Image.open(io.BytesIO(outcome.output))
    displayed = Image.open(SAMPLES / "nl_passport_2014_scan300.jpg").size
    assert image.size == displayed
    assert not image.getexif() and "icc_profile" not in image.info
    assert not {k for k in image.info if k not in ("dpi",)}  # no text chunks, no XMP
    assert b"Exif" not in outcome.output and b"iTXt" not in outcome.output and b"tEXt" not in outcome.output


def test_pdf_output_is_rasterised_same_pages_no_text_no_metadata(engines, keys, settings):
    outcome = _redact("nl_passport_2014_ocr_layer.pdf", engines, keys, settings)
    assert outcome.status == "redacted" and outcome.extension == "pdf"
    with pymupdf.open(SAMPLES / "nl_passport_2014_ocr_layer.pdf") as original, pymupdf.open(
        stream=outcome.output, filetype="pdf"
    ) as redacted:
        assert redacted.page_count == original.page_count
        for a, b in zip(original, redacted):
            assert (round(a.rect.width), round(a.rect.height)) == (round(b.rect.width), round(b.rect.height))
            assert b.get_text().strip() == ""  # the hidden OCR layer with the BSN is gone
            assert len(b.get_images()) == 1
        assert not any(redacted.metadata.get(k) for k in ("title", "author", "subject", "keywords", "creator"))
        assert redacted.embfile_count() == 0


def test_two_page_pdf_keeps_both_pages(engines, keys, settings):
    outcome = _redact("nl_idcard_2014_two_pages.pdf", engines, keys, settings)
    assert outcome.status == "redacted"
    with pymupdf.open(stream=outcome.output, filetype="pdf") as doc:
        assert doc.page_count == 2
    assert {r["page"] for r in outcome.record["redactions"]} == {0, 1}


def test_record_is_signed_and_says_what_was_checked(engines, keys, settings, sample_entries):
    outcome = _redact("nl_passport_2014_scan300.jpg", engines, keys, settings)
    record = outcome.record
    assert verify_record(record, keys.jwks(), outcome.output).valid
    doc = record["document"]
    assert doc["type"] == "passport" and doc["issuing_state"] == "NLD" and doc["mrz_valid"] is True
    assert isinstance(doc["expired"], bool) and doc["expiry_date"]
    kinds = [r["kind"] for r in record["redactions"]]
    # The 2014 model carries its BSN in the MRZ only (shared/docs/id-documents.md).
    entry = sample_entries["nl_passport_2014_scan300.jpg"]
    assert kinds.count("bsn") == len(entry["personal_numbers"]) == 1
    assert "portrait" in kinds and "ghost_portrait" in kinds
    # It must not repeat what it hides.
    text = json.dumps(record)
    entry = sample_entries["nl_passport_2014_scan300.jpg"]
    for number in entry["personal_numbers"]:
        assert number["text"].replace(".", "").replace(" ", "") not in text
    doc_no = next(k["text"] for k in entry["keep_fields"] if k["name"] == "document_number")
    assert doc_no not in text
    # Tampering is detected.
    assert not verify_record({**record, "status": "needs_review"}, keys.jwks()).valid
    assert not verify_record(record, keys.jwks(), outcome.output + b"x").valid


def test_needs_review_publishes_nothing(engines, keys, settings):
    outcome = _redact("nl_idcard_2021_back_bsn_smeared.jpg", engines, keys, settings)
    assert outcome.status == "needs_review"
    assert outcome.output is None and outcome.record["redacted_sha256"] is None
    assert any("number" in r for r in outcome.reasons)
    assert verify_record(outcome.record, keys.jwks()).valid


def test_rejected_input_gets_a_signed_record_with_the_reason(engines, keys, settings):
    outcome = redact_document(b"not an image", engines=engines, keys=keys, settings=settings)
    assert outcome.status == "rejected" and outcome.reject_code == "unsupported_type"
    assert outcome.output is None and verify_record(outcome.record, keys.jwks()).valid


def test_watermark_is_visible_and_fields_stay_readable(engines, keys, settings, reader):
    plain = _redact("nl_passport_2014_scan300.jpg", engines, keys, settings)
    marked = _redact("nl_passport_2014_scan300.jpg", engines, keys, settings, purpose="AVG-verzoek Achmea")
    a = np.asarray(Image.open(io.BytesIO(plain.output)).convert("RGB"))
    b = np.asarray(Image.open(io.BytesIO(marked.output)).convert("RGB"))
    assert (np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 30).sum() > 500
    text = " ".join(l.text for l in reader.read(b)).upper().replace(" ", "")
    assert "KOPIE" in text and "ACHMEA" in text
    assert "SMIT" in text
