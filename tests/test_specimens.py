"""The real public specimens in ../shared/specimens (when present), measured by `redactor eval`'s
judge: nothing may leak, published copies keep their surname readable, and enough of them are
published at all. Skips cleanly without them.

Thresholds (issue 9 wants >= 95 % published over sample_docs and the specimens together, 0 leaks):
sample_docs must reach 95 % on its own (`redactor eval sample_docs` exits non-zero below that,
and tests/test_pipeline.py expects every sample's status); the 18 specimens may leave at most one
unpublished (17/18 = 94.4 %), which keeps the combined share at or above 95 % (60/63)."""

from __future__ import annotations

import json
import math

import pytest

from evaluation.evaluate import DocResult, Judge, evaluate_one
from redactor.ocr import RapidOcrEngine

from conftest import SPECIMENS

ENTRIES = json.loads((SPECIMENS / "annotations.json").read_text()) if (SPECIMENS / "annotations.json").is_file() else []
MAX_UNPUBLISHED = 1  # of the specimens meant to be published

pytestmark = [
    pytest.mark.specimens,
    pytest.mark.skipif(not ENTRIES, reason=f"no specimens at {SPECIMENS}"),
]


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(RapidOcrEngine(careful=True))


@pytest.fixture(scope="module")
def results(engines, settings, judge, tmp_path_factory) -> dict[str, DocResult]:
    """Every specimen through the real pipeline once, judged from the output."""
    from redactor.record import KeyStore

    keys = KeyStore(tmp_path_factory.mktemp("keys"))
    return {e["file"]: evaluate_one(e, (SPECIMENS / e["file"]).read_bytes(), engines, keys, settings, judge)
            for e in ENTRIES}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_specimen_leaks_nothing(entry, results):
    result = results[entry["file"]]
    assert result.status in ("redacted", "needs_review"), result
    assert result.leaks == [], result


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_published_specimen_keeps_its_surname_readable(entry, results):
    result = results[entry["file"]]
    if result.status != "redacted" or not entry.get("surname"):
        pytest.skip("not published, or no surname annotated")
    assert "surname" not in result.unreadable, result


def test_specimens_are_published_not_sent_to_review(results):
    meant = [r for r in results.values() if r.expected == "redacted"]
    unpublished = [f"{r.file}: {r.status} - {' '.join(r.reasons)}" for r in meant if not r.published]
    assert len(unpublished) <= MAX_UNPUBLISHED, "\n".join(unpublished)
    assert len(meant) - len(unpublished) >= math.ceil(0.94 * len(meant))


def _judged_variant(name: str, capture: str, engines, settings, judge, tmp_path):  # noqa: ANN001 - fixtures
    """A specimen made into one capture of `evaluation.variants` (boxes mapped), redacted and
    judged as `redactor eval` judges it; skips when the specimen is not there."""
    from PIL import Image, ImageOps

    from evaluation.variants import variant
    from redactor.record import KeyStore

    entry = next((e for e in ENTRIES if e["file"] == name), None)
    if entry is None:
        pytest.skip(f"{name} is not among the specimens")
    with Image.open(SPECIMENS / name) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    captured, data = variant(entry, image, capture)
    return evaluate_one(captured, data, engines, KeyStore(tmp_path / "keys"), settings, judge)


@pytest.mark.parametrize("name", ["100_pass-fin.png", "0_pass-lva.jpg"])
def test_a_half_size_capture_of_a_foreign_passport_leaks_nothing(name, engines, settings, judge, tmp_path):
    """Half the pixels of a real specimen (a small phone capture): OCR then misreads the printed
    personal number ('426AI' for '-426U'), or the MRZ only yields its tail. The printed number is
    hidden whole, or the page goes to review; it is never published readable."""
    result = _judged_variant(name, "half", engines, settings, judge, tmp_path)
    assert result.leaks == [], result
    assert result.status in ("redacted", "needs_review"), result


@pytest.mark.parametrize("name", ["100_id-si.jpg"])
def test_a_small_tilted_capture_is_read_level_and_published(name, engines, settings, judge, tmp_path):
    """A small real card (563 px wide) laid 3 degrees askew: read as it is, the detector merged
    its MRZ lines and the page was 'no identity document'. Read again turned level, its MRZ
    reads; it is published, and nothing leaks."""
    result = _judged_variant(name, "tilt3", engines, settings, judge, tmp_path)
    assert result.leaks == [], result
    assert result.status == "redacted", result


@pytest.mark.parametrize("capture", ["phone", "half", "tilt3"])
def test_the_latvian_ghost_image_is_covered_by_its_layout_zone_in_every_capture(capture, engines, settings, judge, tmp_path):
    """The Latvian ghost image is too faint for either face detector, so only its layout zone
    covers it, placed in MRZ widths from the MRZ. The specimen's name line is read with a
    squeezed cell fit (its pitch falls by a third along it), so measured on that line the MRZ
    came out 7 % narrower than on a phone photo of the same page, and the zone missed the ghost
    by 35 px there. The width now comes from the line whose fit is steadiest."""
    result = _judged_variant("0_pass-lva.jpg", capture, engines, settings, judge, tmp_path)
    assert result.leaks == [], result
    assert result.status == "redacted", result


@pytest.mark.parametrize(("name", "capture"), [("100_pass-bdr.jpg", "half"), ("100_pass-bdr.jpg", "phone"), ("100_pass-fin.png", "phone")])
def test_a_capture_the_fast_recogniser_misreads_is_read_by_the_careful_one(name, capture, engines, settings, judge, tmp_path):
    """The fast recogniser reads every line first. On these captures it misread the MRZ (the
    German passport's then did not parse: 'looks like a passport whose MRZ could not be read')
    or the tail of the printed Finnish personal number ('426AU'). An MRZ that does not parse
    with every check digit right has the page read again by PP-OCRv4 alone, and a line with
    digits in it is read by PP-OCRv4 anyway: published, as before the fast model."""
    result = _judged_variant(name, capture, engines, settings, judge, tmp_path)
    assert result.leaks == [], result
    assert result.status == "redacted", result


@pytest.mark.parametrize("name", ["0_pass-lva.jpg", "100_pass-bdr.jpg"])
def test_a_capture_tilted_8_degrees_has_its_photos_covered(name, engines, settings, judge, tmp_path):
    """8 degrees askew. The Latvian portrait stands above the low end of the slanted MRZ: cut
    off at the MRZ box's top (the MRZ's high end), the photo's bottom corner stayed visible.
    On the German passport OCR read eight of the name line's fillers as '≤': the line no
    longer looked like an MRZ, the authority 'BUNDESDRUCKEREI' above it was taken for the
    name line, the page was no passport, and its ghost image had no layout zone."""
    result = _judged_variant(name, "tilt8", engines, settings, judge, tmp_path)
    assert result.leaks == [], result
    assert result.status == "redacted", result
