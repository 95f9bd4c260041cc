"""Verification reads the redacted page as an attacker would. A deliberately misplaced MRZ
box that leaves half the BSN digits visible is widened (or the document goes to review):
readable digits are never published. Faces and QR codes left visible are caught too."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
import segno
import zxingcpp
from PIL import Image

from redactor.core import Region, Review
from redactor.faces import CenterFaceDetector, HaarFaceDetector
from redactor.geometry import rotate_box, unrotate_box
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import redact_reviewed
from redactor.qr import find_qr_codes
from redactor.redact import black_out
from redactor.verify import PageSecrets, verify

from conftest import SAMPLES


@pytest.fixture(scope="module")
def models():
    return {"ocr": RapidOcrEngine(careful=True), "centerface": CenterFaceDetector(), "haar": HaarFaceDetector()}


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB")).copy()


def _mrz_number(entry: dict) -> tuple[str, tuple]:
    hit = next(p for p in entry["personal_numbers"] if p["zone"] == "mrz")
    return re.sub(r"\D", "", hit["text"]), tuple(hit["box"])


def _visible_runs(ocr: RapidOcrEngine, upright: np.ndarray, box: tuple, secret: str) -> list[str]:
    """Runs of 5+ characters of `secret` an attacker reads around `box` (upright pixels)."""
    h = box[3] - box[1]
    x0, y0 = max(0, int(box[0] - 6 * h)), max(0, int(box[1] - 1.5 * h))
    crop = upright[y0 : int(box[3] + 1.5 * h), x0 : int(box[2] + 6 * h)]
    crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    text = "".join(re.sub(r"[^0-9]", "", l.text) + " " for l in ocr.read(np.ascontiguousarray(crop)))
    grams = {secret[i : i + 5] for i in range(len(secret) - 4)}
    return [t[i : i + 5] for t in text.split() for i in range(len(t) - 4) if t[i : i + 5] in grams]


@pytest.mark.parametrize(("name", "k"), [("nl_passport_2014_scan300.jpg", 0), ("nl_passport_2014_rotated90.jpg", 1)])
def test_a_misplaced_mrz_box_is_widened_or_sent_to_review(models, sample_entries, name, k):
    entry = sample_entries[name]
    page = _image(name)
    h_img, w_img = page.shape[:2]
    bsn, shown = _mrz_number(entry)
    truth = rotate_box(shown, k, w_img, h_img)  # the BSN cells in the MRZ, upright
    # The box drifted right by 60% of its width: the first five of nine digits stay visible.
    shift = 0.6 * (truth[2] - truth[0])
    drifted = (truth[0] + shift, truth[1], truth[2] + shift, truth[3])
    photos = [Region("portrait", 0, tuple(p["box"]), "photo") for p in entry["portraits"]]
    redacted, drawn = black_out(page, photos + [Region("bsn", 0, unrotate_box(drifted, k, w_img, h_img), "MRZ personal number")])
    upright = np.ascontiguousarray(np.rot90(redacted, k))
    assert _visible_runs(models["ocr"], upright, truth, bsn), "guard: the drifted box must leave digits readable"

    secrets = PageSecrets(page=0, k=k, size=(w_img, h_img), values=(bsn,), text_boxes=(drifted,), mrz_box=None)
    result = verify([redacted], [secrets], blacked=drawn, **models)

    if result.reasons:  # needs review: nothing is published, which is also safe
        assert any("personal number" in r for r in result.reasons), result.reasons
        return
    assert result.regions, "digits were readable, so verification must have widened the box"
    final = np.ascontiguousarray(np.rot90(result.images[0], k))
    assert _visible_runs(models["ocr"], final, truth, bsn) == []
    # Widened over what was read, not over the whole line: the document number stays readable.
    doc_no = next(f["text"] for f in entry["keep_fields"] if f["name"] == "document_number")
    line_texts = [l.text for l in models["ocr"].read(final)]
    assert any(doc_no in t.replace(" ", "") for t in line_texts), line_texts


def test_a_correct_mrz_box_passes_without_widening(models, sample_entries):
    name = "nl_passport_2014_scan300.jpg"
    page = _image(name)
    bsn, box = _mrz_number(sample_entries[name])
    portraits = [Region("portrait", 0, tuple(p["box"]), "photo") for p in sample_entries[name]["portraits"]]
    viz = [Region("bsn", 0, tuple(p["box"]), "BSN") for p in sample_entries[name]["personal_numbers"]]
    redacted, drawn = black_out(page, portraits + viz)
    secrets = PageSecrets(0, 0, (page.shape[1], page.shape[0]), (bsn,), tuple(tuple(p["box"]) for p in sample_entries[name]["personal_numbers"]), None)
    result = verify([redacted], [secrets], blacked=drawn, **models)
    assert result.reasons == [] and result.regions == []


def test_a_face_left_visible_is_caught_and_blacked_out_photos_are_not(models, sample_entries):
    name = "nl_passport_2014_scan300.jpg"
    entry = sample_entries[name]
    page = _image(name)
    size = (page.shape[1], page.shape[0])
    numbers = [Region("bsn", 0, tuple(p["box"]), "BSN") for p in entry["personal_numbers"]]
    secrets = PageSecrets(0, 0, size, (), tuple(r.box for r in numbers), None)

    only_numbers, drawn = black_out(page, numbers)
    left = verify([only_numbers], [secrets], blacked=drawn, **models)
    assert any("face" in r for r in left.reasons)

    photos = [Region("portrait", 0, tuple(p["box"]), "photo") for p in entry["portraits"]]
    all_blacked, drawn = black_out(page, numbers + photos)
    assert verify([all_blacked], [secrets], blacked=drawn, **models).reasons == []


def test_a_qr_code_left_on_the_page_is_blacked_out(models):
    page = _image("nl_passport_2014_scan300.jpg")
    buf = io.BytesIO()
    segno.make_qr("999999990").save(buf, kind="png", scale=4, border=4)
    code = np.asarray(Image.open(buf).convert("L"))
    page[760 : 760 + code.shape[0], 1100 : 1100 + code.shape[1]] = code[..., None]
    secrets = PageSecrets(0, 0, (page.shape[1], page.shape[0]), (), (), None)
    # The portrait is not this test's business: black it out as the pipeline would.
    redacted, drawn = black_out(page, [Region("portrait", 0, (100, 200, 560, 760), "photo"), Region("portrait", 0, (1360, 380, 1560, 640), "ghost")])
    result = verify([redacted], [secrets], blacked=drawn, **models)
    assert [r.kind for r in result.regions] == ["qr_code"]
    assert find_qr_codes(result.images[0]) == []
    assert not any("QR" in r for r in result.reasons)


def test_a_qr_code_no_reader_decodes_is_caught_on_a_page_where_a_code_was_blacked_out(models):
    # A page with two codes, one found and blacked out; the box drawn for it misses the other:
    # blurred, no QR reader decodes it, and only the locators, run again on such a page, see it.
    page = _image("nl_passport_2014_scan300.jpg")
    buf = io.BytesIO()
    segno.make_qr("999999990", error="m").save(buf, kind="png", scale=4, border=4)
    code = np.asarray(Image.open(buf).convert("L"))
    h, w = code.shape
    page[760 : 760 + h, 1100 : 1100 + w] = np.minimum(page[760 : 760 + h, 1100 : 1100 + w], code[..., None])
    page = cv2.GaussianBlur(page, (0, 0), 2.0)
    secrets = PageSecrets(0, 0, (page.shape[1], page.shape[0]), (), (), None)
    found = [Region("qr_code", 0, (1300, 760, 1420, 880), "QR code"), Region("portrait", 0, (100, 200, 560, 760), "photo"), Region("portrait", 0, (1360, 380, 1560, 640), "ghost")]
    redacted, drawn = black_out(page, found)
    assert zxingcpp.read_barcodes(cv2.cvtColor(redacted, cv2.COLOR_RGB2GRAY)) == []
    result = verify([redacted], [secrets], blacked=drawn, **models)
    assert [r.kind for r in result.regions] == ["qr_code"]
    assert find_qr_codes(result.images[0]) == []


def test_an_mrz_holding_a_number_that_nothing_blacked_out_needs_review(models):
    # The find step read the BSN in the MRZ text but drew no box there (a mis-parse, say).
    page = np.full((400, 600, 3), 245, np.uint8)
    line = "P<NLDDE<BRUIJN<<WILLEKE<LISELOTTE<<<<<<<<<<<SPECI20142NLD6503101F2403096999999990<<<<<84"
    secrets = PageSecrets(0, 0, (600, 400), ("999999990",), (), (10, 300, 590, 380), line)
    result = verify([page], [secrets], blacked=[], **models)
    assert result.reasons == ["The MRZ holds part of a personal number that was not blacked out."]


def test_a_published_copy_carries_the_box_verification_widened(engines, settings, keys, sample_entries):
    """Through the whole publish step: staff kept a box that drifted off the MRZ's BSN cells.
    The copy published (encoded while verification ran) must be the widened one."""
    name = "nl_passport_2014_scan300.jpg"
    entry = sample_entries[name]
    data = (SAMPLES / name).read_bytes()
    bsn, truth = _mrz_number(entry)
    shift = 0.6 * (truth[2] - truth[0])
    drifted = (truth[0] + shift, truth[1], truth[2] + shift, truth[3])
    photos = tuple(Region("portrait", 0, tuple(p["box"]), "photo") for p in entry["portraits"])
    review = Review(by="staff", added=(), kept=photos + (Region("bsn", 0, drifted, "MRZ personal number"),))

    as_kept, _ = black_out(_image(name), list(review.kept))
    assert _visible_runs(engines.ocr.careful(), as_kept, truth, bsn), "guard: the kept boxes alone must leave digits readable"

    outcome = redact_reviewed(data, review, engines=engines, keys=keys, settings=settings)

    if outcome.status == "needs_review":  # nothing published is safe too
        assert any("personal number" in r for r in outcome.reasons), outcome.reasons
        return
    assert outcome.status == "redacted", outcome.reasons
    published = np.asarray(Image.open(io.BytesIO(outcome.output)).convert("RGB"))
    assert _visible_runs(engines.ocr.careful(), published, truth, bsn) == []
