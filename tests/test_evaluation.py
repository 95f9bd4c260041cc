"""`redactor eval`'s judge must be hard to fool: it looks at the published copy itself.

These feed it copies made here (the original, a perfect black-out, a copy that leaves a strip of
the ghost photo, a stray QR code, a hidden text layer) with a real sample's ground truth, and
check that it sees what a reader of the copy would see. Real OCR, real QR decoders."""

from __future__ import annotations

import io

import numpy as np
import pymupdf
import pytest
from PIL import Image

from evaluation.evaluate import DocResult, Judge, PUBLISH_TARGET, _summary, judge_outcome, save_pictures
from redactor.ocr import RapidOcrEngine
from redactor.pipeline import Outcome

from conftest import SAMPLES


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(RapidOcrEngine(careful=True))


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB")).copy()


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _published(image: np.ndarray, redactions: list[dict] | None = None) -> Outcome:
    return Outcome(status="redacted", reasons=[], record={"redactions": redactions or []}, output=_png(image),
                   extension="png", media_type="image/png")


def _black(image: np.ndarray, box: list[int], pad: int = 3) -> None:
    x0, y0, x1, y1 = box
    image[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad] = 0


def _blacked_out(entry: dict, image: np.ndarray) -> np.ndarray:
    out = image.copy()
    for item in entry["personal_numbers"] + entry["portraits"] + entry["qr_codes"]:
        _black(out, item["box"])
    return out


def test_the_original_leaks_its_bsn_and_its_qr_code(sample_entries, settings, judge):
    entry = sample_entries["nl_idcard_2021_back.jpg"]
    result, _ = judge_outcome(entry, _published(_image(entry["file"])), settings, judge)
    assert any(l.startswith("number viz") for l in result.leaks)
    assert any("QR code page 0 not blacked out" in l for l in result.leaks)
    assert any("QR code decodes" in l for l in result.leaks)


def test_a_complete_black_out_passes_and_keeps_the_fields(sample_entries, settings, judge):
    entry = sample_entries["nl_passport_2014_scan300.jpg"]
    result, _ = judge_outcome(entry, _published(_blacked_out(entry, _image(entry["file"]))), settings, judge)
    assert result.leaks == []
    assert result.keep_readable == result.keep_total, result.unreadable
    assert result.published


def test_a_strip_of_the_ghost_left_visible_is_a_leak(sample_entries, settings, judge):
    """The issue saw ghost boxes that stop short of the photo's bottom: 90 % covered is not covered."""
    entry = sample_entries["nl_passport_2014_scan300.jpg"]
    image = _blacked_out(entry, _image(entry["file"]))
    original = _image(entry["file"])
    x0, y0, x1, y1 = next(p["box"] for p in entry["portraits"] if p["type"] == "ghost")
    strip = y1 - (y1 - y0) // 10
    image[strip:y1, x0:x1] = original[strip:y1, x0:x1]
    result, _ = judge_outcome(entry, _published(image), settings, judge)
    assert result.leaks == ["ghost page 0"]


def test_a_qr_code_that_still_decodes_anywhere_is_a_leak(sample_entries, settings, judge):
    entry = sample_entries["nl_idcard_2021_back.jpg"]
    original = _image(entry["file"])
    image = _blacked_out(entry, original)
    x0, y0, x1, y1 = entry["qr_codes"][0]["box"]
    m = (x1 - x0) // 5  # with its quiet zone
    patch = original[y0 - m:y1 + m, x0 - m:x1 + m]
    image[20:20 + patch.shape[0], 20:20 + patch.shape[1]] = patch  # moved, not blacked out
    result, _ = judge_outcome(entry, _published(image), settings, judge)
    assert [l for l in result.leaks if "decodes" in l], result.leaks
    assert result.qr_hidden == 1  # the annotated place itself is black


def test_a_hidden_text_layer_in_the_published_pdf_is_read_back(sample_entries, settings, judge):
    entry = sample_entries["nl_passport_2014_ocr_layer.pdf"]
    zoom = settings.pdf_dpi / 72.0
    with pymupdf.open(SAMPLES / entry["file"]) as source:
        pix = source[0].get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        page_size = (source[0].rect.width, source[0].rect.height)
    image = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).copy()
    for item in entry["personal_numbers"] + entry["portraits"]:
        _black(image, [round(v * zoom) for v in item["box"]])
    doc = pymupdf.open()
    page = doc.new_page(width=page_size[0], height=page_size[1])
    page.insert_image(page.rect, stream=_png(image))
    bsn = entry["personal_numbers"][0]["text"]
    page.insert_text((72, 72), f"Persoonsnummer {bsn}", render_mode=3)  # invisible, as scanner apps do
    outcome = Outcome(status="redacted", reasons=[], record={"redactions": []}, output=doc.tobytes(),
                      extension="pdf", media_type="application/pdf")
    result, _ = judge_outcome(entry, outcome, settings, judge)
    assert any("read back" in l for l in result.leaks), result.leaks


def test_eval_fails_on_a_leak_a_wrong_publication_or_below_95_percent_published(capsys):
    def results(published: int, total: int) -> list[DocResult]:
        return [DocResult(f"d{i}", "redacted" if i < published else "needs_review", "redacted", 1.0,
                          reasons=[] if i < published else ["why"]) for i in range(total)]

    judge = Judge(ocr=None, tesseract=True)  # type: ignore[arg-type] - _summary reads no pages
    assert PUBLISH_TARGET == 0.95
    assert _summary(results(19, 20), judge) == 0
    assert "published 19/20 = 95.0%" in capsys.readouterr().out
    assert _summary(results(18, 20), judge) == 1
    leaking = results(20, 20)
    leaking[3].leaks.append("ghost page 0")
    assert _summary(leaking, judge) == 1
    assert "LEAKS: 1" in capsys.readouterr().out
    wrong = results(20, 20) + [DocResult("letter", "redacted", "needs_review", 1.0)]
    assert _summary(wrong, judge) == 1


def test_save_pictures_draws_ground_truth_and_found_boxes(sample_entries, settings, judge, tmp_path):
    entry = sample_entries["nl_idcard_2021_back.jpg"]
    data = (SAMPLES / entry["file"]).read_bytes()
    image = _blacked_out(entry, _image(entry["file"]))
    found = [{"kind": "bsn", "page": 0, "box": [x - 3 for x in entry["personal_numbers"][0]["box"][:2]]
              + [x + 3 for x in entry["personal_numbers"][0]["box"][2:]]}]
    outcome = _published(image, found)
    _, pages = judge_outcome(entry, outcome, settings, judge)
    written = save_pictures(tmp_path, entry, data, outcome, pages, settings)
    assert sorted(p.name for p in written) == ["nl_idcard_2021_back_jpg.after.png", "nl_idcard_2021_back_jpg.before.png"]
    after = np.asarray(Image.open(tmp_path / "nl_idcard_2021_back_jpg.after.png").convert("RGB")).astype(int)
    before = np.asarray(Image.open(tmp_path / "nl_idcard_2021_back_jpg.before.png").convert("RGB")).astype(int)
    blue = (after[..., 2] > 200) & (after[..., 0] < 40) & (after[..., 1] < 140)
    red = (before[..., 0] > 200) & (before[..., 1] < 40) & (before[..., 2] < 40)
    assert blue.sum() > 50 and red.sum() > 50  # the pipeline's box on the after picture, the truth on both


@pytest.mark.parametrize("name", ["rot90", "rot270", "rot180", "half", "q30"])
def test_a_capture_variant_keeps_each_box_on_what_it_marks(name: str) -> None:
    """evaluation/variants.py: after the turn or the shrink, a ground-truth box still holds the
    thing it marked, or the judge would look for numbers and photos in the wrong place."""
    from evaluation.variants import variant

    image = Image.new("RGB", (120, 60), "white")
    image.paste((200, 0, 0), (80, 10, 110, 25))  # the 'number'
    entry = {"file": "card.jpg", "rotation": 0, "personal_numbers": [{"text": "1", "box": [80, 10, 110, 25]}]}
    new, data = variant(entry, image, name)
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    red = (pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 80)
    ys, xs = np.nonzero(red)
    x0, y0, x1, y1 = new["personal_numbers"][0]["box"]
    assert xs.min() >= x0 - 1 and xs.max() <= x1 and ys.min() >= y0 - 1 and ys.max() <= y1
    assert (xs.max() - xs.min()) >= 0.8 * (x1 - x0) - 2 and (ys.max() - ys.min()) >= 0.8 * (y1 - y0) - 2
    assert new["rotation"] == {"rot90": 90, "rot270": 270, "rot180": 180}.get(name, 0)


@pytest.mark.parametrize("name", ["tilt3", "tilt-4", "phone"])
def test_a_tilted_or_phone_capture_keeps_each_box_around_what_it_marks(name: str) -> None:
    """A tilted or keystoned box is judged as hand-drawn (its middle must be black): the
    thing it marked must fill that middle, wherever the warp moved it."""
    from evaluation.variants import variant

    image = Image.new("RGB", (400, 250), "white")
    image.paste((200, 0, 0), (250, 40, 370, 70))  # the 'number', far from the centre
    entry = {"file": "card.jpg", "rotation": 0, "personal_numbers": [{"text": "1", "box": [250, 40, 370, 70]}]}
    new, data = variant(entry, image, name)
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    red = (pixels[:, :, 0] > 150) & (pixels[:, :, 1] < 80)
    x0, y0, x1, y1 = new["personal_numbers"][0]["box"]
    dx, dy = 0.2 * (x1 - x0), 0.2 * (y1 - y0)
    middle = red[int(y0 + dy) : int(y1 - dy), int(x0 + dx) : int(x1 - dx)]
    assert middle.size and middle.mean() > 0.95
    assert red[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1].sum() >= 0.8 * red.sum()
    assert new["box_precision"] == "hand" and new.get("rotation", 0) == 0
