"""QR codes on identity documents are found whether or not they decode: a crisp one, one
blurred past what OpenCV and zxing can read, one turned and in perspective; and nothing is
found on documents that carry none."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import segno
import zxingcpp
from PIL import Image

from redactor.geometry import area, covered_fraction
from redactor.load import load
from redactor.qr import find_qr_codes

from conftest import SAMPLES, SPECIMENS

BSN = "999999990"
MODULE = 4  # px per module of the pasted code


def _page() -> np.ndarray:
    # A passport page: guilloche, text, a portrait; it carries no QR code.
    return np.asarray(Image.open(SAMPLES / "nl_passport_2014_scan300.jpg").convert("RGB")).copy()


def _qr(text: str = BSN) -> np.ndarray:
    buf = io.BytesIO()
    segno.make_qr(text, error="m").save(buf, kind="png", scale=MODULE, border=4)
    return np.asarray(Image.open(buf).convert("L"))


def _paste(page: np.ndarray, code: np.ndarray, x: int, y: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The code darkens the page where it is dark; returns the page and the box of its dark modules."""
    h, w = code.shape
    out = page.copy()
    out[y : y + h, x : x + w] = np.minimum(out[y : y + h, x : x + w], code[..., None])
    ys, xs = np.nonzero(code < 128)
    return out, (x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1)


def _turned(code: np.ndarray, degrees: float) -> np.ndarray:
    """The code turned and seen at an angle, on a white canvas twice its size."""
    h, w = code.shape
    canvas = np.full((2 * h, 2 * w), 255, np.uint8)
    canvas[h // 2 : h // 2 + h, w // 2 : w // 2 + w] = code
    canvas = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((w, h), degrees, 1), (2 * w, 2 * h), borderValue=255)
    src = np.float32([[0, 0], [2 * w, 0], [2 * w, 2 * h], [0, 2 * h]])
    dst = np.float32([[0.15 * w, 0], [1.85 * w, 0.2 * h], [2 * w, 1.9 * h], [0, 2 * h]])
    return cv2.warpPerspective(canvas, cv2.getPerspectiveTransform(src, dst), (2 * w, 2 * h), borderValue=255)


def _assert_found_once(page: np.ndarray, truth: tuple[int, int, int, int]) -> None:
    codes = find_qr_codes(page)
    covering = [c for c in codes if covered_fraction(truth, c.box) == 1.0]
    assert covering, (codes, truth)
    # The box includes the quiet zone but does not swallow the page around the code.
    assert area(covering[0].box) < 4 * area(truth)


def test_a_crisp_qr_code_is_found_with_its_quiet_zone_and_its_content_is_not_kept():
    page, truth = _paste(_page(), _qr(), 1100, 760)
    _assert_found_once(page, truth)
    code = find_qr_codes(page)[0]
    assert code.decoded
    assert BSN not in repr(code)


def test_a_blurred_qr_code_that_no_reader_decodes_is_still_found():
    sharp, truth = _paste(_page(), _qr(), 1100, 760)
    page = cv2.GaussianBlur(sharp, (0, 0), 0.5 * MODULE)
    grey = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    # Guard: the readers of today cannot decode this one.
    assert cv2.QRCodeDetector().detectAndDecode(grey)[0] == ""
    assert not any(r.valid for r in zxingcpp.read_barcodes(grey))
    _assert_found_once(page, truth)


def test_a_turned_qr_code_seen_at_an_angle_is_found():
    page, truth = _paste(_page(), _turned(_qr(), 30), 1050, 700)
    _assert_found_once(page, truth)


def test_a_low_resolution_qr_code_is_found():
    page, truth = _paste(_page(), _qr(), 1100, 760)
    small = cv2.resize(page, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)  # under 2 px per module
    _assert_found_once(small, tuple(int(v * 0.45) for v in truth))


NO_QR_SAMPLES = [e["file"] for e in json.loads((SAMPLES / "annotations.json").read_text()) if not e.get("qr_codes")]


@pytest.mark.parametrize("name", NO_QR_SAMPLES)
def test_no_qr_code_is_found_on_a_sample_without_one(name, settings):
    document = load((SAMPLES / name).read_bytes(), settings)
    assert [find_qr_codes(page.image) for page in document.pages] == [[] for _ in document.pages]


@pytest.mark.specimens
def test_no_qr_code_is_found_on_the_real_specimens():
    if not SPECIMENS.is_dir():
        pytest.skip("specimens absent")
    found = {}
    for path in sorted(SPECIMENS.glob("*.jp*g")) + sorted(SPECIMENS.glob("*.png")):
        codes = find_qr_codes(np.asarray(Image.open(path).convert("RGB")))
        if codes:
            found[path.name] = codes
    assert found == {}


QR_SAMPLES = [e for e in json.loads((SAMPLES / "annotations.json").read_text()) if e.get("qr_codes")]


@pytest.mark.parametrize("entry", QR_SAMPLES, ids=[e["file"] for e in QR_SAMPLES])
def test_every_qr_code_on_a_sample_is_covered(entry, settings):
    document = load((SAMPLES / entry["file"]).read_bytes(), settings)
    for truth in entry["qr_codes"]:
        page = document.pages[truth.get("page", 0)]
        # PDF annotations are in points; the page image in pixels.
        sx, sy = (page.size[0] / page.pdf_size_pt[0], page.size[1] / page.pdf_size_pt[1]) if entry.get("box_units") == "pt" else (1, 1)
        box = (truth["box"][0] * sx, truth["box"][1] * sy, truth["box"][2] * sx, truth["box"][3] * sy)
        assert max((covered_fraction(box, c.box) for c in find_qr_codes(page.image)), default=0) >= 0.99
