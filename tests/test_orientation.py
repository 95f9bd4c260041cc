"""Orientation: every sample document and specimen, turned each of the four quarter turns,
is put upright again (real RapidOCR)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import SAMPLES, SPECIMENS
from redactor.config import Settings
from redactor.load import load
from redactor.normalise import orientation
from redactor.ocr import RapidOcrEngine


# Samples whose displayed pixels repeat another sample's (the same scan as HEIC/WebP/TIFF, as a
# PDF, behind an EXIF tag, with one field smudged) or that show no document: turning them adds
# minutes to the suite and no evidence.
REPEATS = re.compile(r"_as_|exif_orientation|\.pdf$|pen_line|smeared|^letter_")


def _upright_samples() -> list[str]:
    """Sample files that display upright: not those the generator stored turned (an EXIF
    orientation tag turns a file upright on loading), each distinct picture once."""
    out = []
    for e in json.loads((SAMPLES / "annotations.json").read_text()):
        name, notes = e["file"], e.get("notes", "").lower()
        turned = "rotated" in name or ("turned" in notes and "exif" not in name)
        if not turned and not REPEATS.search(name) and (SAMPLES / name).exists():
            out.append(name)
    return out


# Specimens as stored: 0_pass-lva.jpg was photographed turned a quarter clockwise, so one
# quarter turn counter-clockwise (k=1) puts it upright; the others are upright.
SPECIMEN_TURN = {"0_pass-lva.jpg": 1}


def _specimens() -> list[str]:
    if not (SPECIMENS / "annotations.json").exists():
        return []
    return [e["file"] for e in json.loads((SPECIMENS / "annotations.json").read_text())]


@pytest.fixture(scope="module")
def ocr() -> RapidOcrEngine:
    return RapidOcrEngine()


def _first_page(path) -> np.ndarray:
    return load(path.read_bytes(), Settings()).pages[0].image


def _assert_all_turns_upright(image: np.ndarray, upright_k: int, ocr: RapidOcrEngine) -> None:
    found = {}
    for turn in range(4):
        turned = np.ascontiguousarray(np.rot90(image, turn))
        # np.rot90(turned, k) is upright when turn + k == upright_k (mod 4).
        found[turn] = (turn + orientation(turned, ocr)) % 4
    assert found == {t: upright_k % 4 for t in range(4)}, found


@pytest.mark.parametrize("name", _upright_samples())
def test_sample_document_in_every_quarter_turn_ends_upright(name, ocr):
    _assert_all_turns_upright(_first_page(SAMPLES / name), 0, ocr)


@pytest.mark.skipif(not _specimens(), reason="the shared specimens are not present")
@pytest.mark.parametrize("name", _specimens() or ["none"])
def test_specimen_in_every_quarter_turn_ends_upright(name, ocr):
    _assert_all_turns_upright(_first_page(SPECIMENS / name), SPECIMEN_TURN.get(name, 0), ocr)


def test_a_card_on_a_big_page_is_read_where_its_text_is_and_a_full_page_whole():
    from redactor.normalise import reading_window

    a4 = (1654, 2339)  # 200 dpi: OCR would shrink it to 1400 px high
    card_lines = [(230, 220, 570, 240), (430, 290, 550, 300), (430, 310, 520, 330), (430, 560, 600, 610)]
    window = reading_window(card_lines, *a4)
    assert window is not None
    # every line inside, with room around them for labels the first look missed
    assert all(window[0] < b[0] and window[1] < b[1] and b[2] < window[2] and b[3] < window[3] for b in card_lines)
    assert window[2] - window[0] < a4[0] / 2 and window[3] - window[1] < a4[1] / 3
    # text all over the page: nothing to gain, the page is read whole
    assert reading_window(card_lines + [(100, 2100, 1500, 2200)], *a4) is None
    # a page OCR does not shrink is always read whole
    assert reading_window(card_lines, 1200, 900) is None


@pytest.mark.parametrize("tilt", [4.0, -3.0])
def test_a_slanted_page_read_level_has_its_lines_where_they_are_printed(tilt, ocr):
    """The slant of a tilted scan is measured from its lines, and reading it turned level gives
    the same text at the same places as reading it slanted: the boxes are mapped back onto the
    page the rest of the pipeline blacks out."""
    import cv2

    from redactor.geometry import area, intersection, union
    from redactor.normalise import _read_level, skew

    image = _first_page(SAMPLES / "nl_idcard_2014_back_scan300.jpg")
    h, w = image.shape[:2]
    # cv2's positive angle turns the picture counter-clockwise: its lines then rise to the right.
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)
    slanted = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))

    slant = skew(list(ocr.find_lines(slanted).page_quads))
    assert slant == pytest.approx(-tilt, abs=0.5)

    as_printed = {l.text: l.box for l in ocr.read(slanted, fix_upside_down=False) if l.text.count("<") >= 3}
    level = {l.text: l.box for l in _read_level(slanted, slant, None, ocr) if l.text.count("<") >= 3}
    same = set(as_printed) & set(level)
    assert len(same) >= 2, (as_printed, level)  # MRZ lines read alike both ways
    for text in same:
        a, b = as_printed[text], level[text]
        assert intersection(a, b) / area(union(a, b)) > 0.8, (text, a, b)
