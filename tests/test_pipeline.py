"""End to end with the real OCR and face models on the project's own synthetic documents:
the redacted copy must hide every personal number and photo and keep the rest readable."""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pymupdf
import pytest
from PIL import Image

from evaluation.evaluate import Judge, evaluate_one, judge_outcome, readable, squash
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import Outcome, redact_document
from redactor.redact import watermark
from redactor.record import verify_record

from conftest import SAMPLES

ENTRIES = json.loads((SAMPLES / "annotations.json").read_text())


@pytest.fixture(scope="module")
def reader():
    return RapidOcrEngine(careful=True)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_sample_is_redacted_without_leaks(entry, redacted, settings, reader):
    result, _ = judge_outcome(entry, redacted(entry["file"]), settings, Judge(reader))
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


def test_png_output_keeps_size_and_carries_no_metadata(redacted):
    outcome = redacted("nl_passport_2014_exif_orientation6.jpg")
    assert outcome.status == "redacted" and outcome.extension == "png"
    image = Image.open(io.BytesIO(outcome.output))
    displayed = Image.open(SAMPLES / "nl_passport_2014_scan300.jpg").size
    assert image.size == displayed
    assert not image.getexif() and "icc_profile" not in image.info
    assert not {k for k in image.info if k not in ("dpi",)}  # no text chunks, no XMP
    assert b"Exif" not in outcome.output and b"iTXt" not in outcome.output and b"tEXt" not in outcome.output


def test_pdf_output_is_rasterised_same_pages_no_text_no_metadata(redacted):
    outcome = redacted("nl_passport_2014_ocr_layer.pdf")
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


def test_two_page_pdf_keeps_both_pages(redacted):
    outcome = redacted("nl_idcard_2014_two_pages.pdf")
    assert outcome.status == "redacted"
    with pymupdf.open(stream=outcome.output, filetype="pdf") as doc:
        assert doc.page_count == 2
    assert {r["page"] for r in outcome.record["redactions"]} == {0, 1}


def test_record_is_signed_and_says_what_was_checked(redacted, sample_entries):
    keys = redacted.keys
    outcome = redacted("nl_passport_2014_scan300.jpg")
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


def test_needs_review_publishes_nothing(redacted):
    keys = redacted.keys
    outcome = redacted("nl_idcard_2021_back_bsn_smeared.jpg")
    assert outcome.status == "needs_review"
    assert outcome.output is None and outcome.record["redacted_sha256"] is None
    assert any("number" in r for r in outcome.reasons)
    assert verify_record(outcome.record, keys.jwks()).valid


def test_a_photo_cut_off_the_capture_is_not_counted_as_blacked_out(engines, keys, settings):
    """Only the MRZ strip of a 2014 passport was captured: the layout puts its portrait and
    ghost above the page's top edge. Such a zone holds nothing to black out, so it must not
    count as the photo found (the page was published with boxes of negative height)."""
    page = Image.open(SAMPLES / "nl_passport_2014_scan300.jpg")
    strip = io.BytesIO()
    page.crop((0, 900, page.width, page.height)).save(strip, format="PNG")
    outcome = redact_document(strip.getvalue(), engines=engines, keys=keys, settings=settings)
    assert outcome.status == "needs_review"
    assert any("photo could not be located" in r for r in outcome.reasons), outcome.reasons
    assert all(r.box[0] < r.box[2] and r.box[1] < r.box[3] for r in outcome.proposed), outcome.proposed


def test_rejected_input_gets_a_signed_record_with_the_reason(engines, keys, settings):
    outcome = redact_document(b"not an image", engines=engines, keys=keys, settings=settings)
    assert outcome.status == "rejected" and outcome.reject_code == "unsupported_type"
    assert outcome.output is None and verify_record(outcome.record, keys.jwks()).valid


def test_watermark_runs_diagonally_says_the_text_once_and_keeps_the_fields_readable(redacted, reader, sample_entries):
    name = "nl_passport_2014_scan300.jpg"
    plain = redacted(name)
    marked = redacted(name, purpose="Kopie voor Achmea - AVG-verzoek - 26-11-2026")
    a = np.asarray(Image.open(io.BytesIO(plain.output)).convert("RGB"))
    b = np.asarray(Image.open(io.BytesIO(marked.output)).convert("RGB"))
    ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 30)
    h, w = a.shape[:2]
    # Across the document, not a line in a margin: it spans most of the width and the height,
    # rising from left to right.
    assert np.ptp(xs) > 0.6 * w and np.ptp(ys) > 0.5 * h
    assert np.corrcoef(xs, ys)[0, 1] < -0.8
    # Every field the copy must keep stays readable through the mark, as `redactor eval`
    # judges it (a few OCR slips allowed).
    read = squash(" ".join(l.text for l in reader.read(b)))
    unreadable = [f["name"] for f in sample_entries[name]["keep_fields"] if not readable(f["text"], read)]
    assert unreadable == []


def test_watermark_says_the_requesters_text_once_with_one_date(reader):
    page = np.full((700, 1000, 3), 255, np.uint8)
    for purpose, expected in [
        ("Kopie voor Achmea - AVG-verzoek - 26-11-2026", "KOPIEVOORACHMEA-AVG-VERZOEK-26-11-2026"),
        ("AVG-verzoek Achmea", "KOPIE-AVG-VERZOEKACHMEA-01-12-2026"),
    ]:
        marked = watermark(page, purpose, date(2026, 12, 1))
        # Turned level again, the mark reads as one line.
        level = np.asarray(Image.fromarray(marked).rotate(-np.degrees(np.arctan2(700, 1000)), expand=True, fillcolor=(255, 255, 255)))
        assert [l.text.upper().replace(" ", "") for l in reader.read(level)] == [expected]


def _judged_capture(name: str, capture_name: str, capture, sample_entries, engines, keys, settings, reader):  # noqa: ANN001, ANN202 - fixtures
    """The sample `name` as `capture` (evaluation.variants, boxes mapped) makes it, redacted
    and judged as `redactor eval` judges it."""
    from evaluation.variants import variant

    entry = sample_entries[name]
    with Image.open(SAMPLES / entry["file"]) as opened:
        image = opened.convert("RGB")
    captured, data = variant(entry, image, capture_name, capture)
    return evaluate_one(captured, data, engines, keys, settings, Judge(reader))


def test_both_sides_of_a_card_on_a_turned_tilted_a4_scan_are_read(sample_entries, engines, keys, settings, reader):
    """An A4 scan at 150 dpi with a card's front and back, turned a quarter and 5 degrees
    askew. Only where the page's text is gets read; at the first, coarse look only the front's
    lines were found, so the back with its MRZ was never read and the MRZ's BSN was published."""
    from evaluation.variants import Capture

    result = _judged_capture("nl_idcard_2014_both_sides_a4_150dpi.jpg", "turned_tilted", Capture(turn=90, tilt=5.0),
                             sample_entries, engines, keys, settings, reader)
    assert result.leaks == [], result
    assert result.status == "redacted", result


@pytest.mark.parametrize("name", ["nl_idcard_2014_back_scan300.jpg", "nl_passport_2021_holder_back_scan300.jpg"])
def test_a_number_under_its_label_is_found_on_a_page_12_degrees_askew(name, sample_entries, engines, keys, settings, reader):
    """12 degrees askew, a line's box is taller by its slant: the BSN printed under
    'Persoonsnummer' fell outside where the label's box said its value could be, and the page
    went to review as 'a label with no readable number'. Labels and values are now paired
    along the page's slant."""
    from evaluation.variants import Capture

    result = _judged_capture(name, "tilt-12", Capture(tilt=-12.0), sample_entries, engines, keys, settings, reader)
    assert result.leaks == [], result
    assert result.status == "redacted", result
