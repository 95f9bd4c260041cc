"""Text recognition engines behind one small interface: `read(image) -> list[TextLine]`.

RapidOCR runs the PP-OCRv4 detection and recognition models that ship inside the
`rapidocr_onnxruntime` wheel (Apache-2.0), with their scalar affine blocks folded into the
convolutions (`redactor.onnx_graph`). Another engine only needs `read`.
"""

from __future__ import annotations

import contextlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from redactor.core import Box, TextLine


class OcrEngine(Protocol):
    name: str

    def read(self, image: np.ndarray, *, fix_upside_down: bool = True) -> list[TextLine]:
        """All text lines of an RGB image, in its pixel coordinates."""
        ...

    def detect(self, image: np.ndarray, *, max_side: int) -> list[np.ndarray]:
        """Where text lines are (no reading), on the image scaled to at most `max_side` pixels:
        each line's quadrilateral (4x2 corners; it follows a slanted line) in the image's own
        pixels. The corner order is the detector's: on a nearly upright slanted line it does not
        say which end is the top."""
        ...

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Read crops that each hold one upright text line: (text, confidence) per crop."""
        ...


MAX_SIDE = 1400
MAX_DETECT_UPSCALE = 3.0


def read_area(
    ocr: OcrEngine, image: np.ndarray, area: Box, *, scale: float = 1.0, fix_upside_down: bool = True
) -> list[TextLine]:
    """OCR one area of `image`, enlarged `scale` times first; the lines in `image`'s pixels."""
    x0, y0, x1, y1 = int(area[0]), int(area[1]), int(np.ceil(area[2])), int(np.ceil(area[3]))
    part = image[y0:y1, x0:x1]
    if part.size == 0:
        return []
    if scale != 1:
        part = cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)

    def back(b: Box) -> Box:
        return (b[0] / scale + x0, b[1] / scale + y0, b[2] / scale + x0, b[3] / scale + y0)

    lines = ocr.read(np.ascontiguousarray(part), fix_upside_down=fix_upside_down)
    return [replace(l, box=back(l.box), chars=tuple(back(c) for c in l.chars)) for l in lines]


def quad_box(quad: list[list[float]] | np.ndarray, scale: float = 1.0) -> Box:
    """The axis-aligned box around a quadrilateral's corners, divided by `scale`."""
    xs = [float(p[0]) / scale for p in quad]
    ys = [float(p[1]) / scale for p in quad]
    return (min(xs), min(ys), max(xs), max(ys))


def _fold(wrapper, model_file: str, threads: int | None = None) -> None:  # noqa: ANN001 - rapidocr's OrtInferSession
    """Replace the session inside one of rapidocr's model wrappers by one of the same model
    file, folded, with the same options (and `threads` threads, when given)."""
    import onnx
    import onnxruntime
    import rapidocr_onnxruntime

    from redactor.onnx_graph import fold_scalar_affines

    path = Path(rapidocr_onnxruntime.__file__).parent / "models" / model_file
    old = wrapper.session
    options = old.get_session_options()
    if threads is not None:
        options.intra_op_num_threads = threads
    model = fold_scalar_affines(onnx.load(path))
    wrapper.session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=old.get_providers())


class _SharedOutRecogniser:
    """rapidocr's recogniser with the lines of one call shared out over a pool's threads, each
    running the model on one core. One line is too small a task for two cores: the model's
    own threads bought 1.3x the speed for 1.45x the CPU (bench/bench.py), whole lines side
    by side nearly 2x for none."""

    def __init__(self, inner, pool: ThreadPoolExecutor) -> None:  # noqa: ANN001 - rapidocr's TextRecognizer
        self._inner, self._pool = inner, pool

    def __call__(self, crops: list[np.ndarray], return_word_box: bool = False) -> tuple[list, float]:
        if len(crops) < 2:
            return self._inner(crops, return_word_box)
        # Widest first, each to the next free thread: the last task to finish is a short one.
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / max(1, crops[i].shape[0]), reverse=True)
        futures = {i: self._pool.submit(self._inner, [crops[i]], return_word_box) for i in order}
        results = {i: f.result() for i, f in futures.items()}
        return [results[i][0][0] for i in range(len(crops))], max(r[1] for r in results.values())

    def __getattr__(self, name: str):  # noqa: ANN204 - the rest of rapidocr's recogniser
        return getattr(self._inner, name)


class RapidOcrEngine:
    name = "rapidocr-ppocrv4"

    def __init__(self, threads: int = 2) -> None:
        from rapidocr_onnxruntime import RapidOCR

        n = max(1, threads)
        # The library logs its model paths on start; keep stdout clean for the CLI.
        with contextlib.redirect_stdout(io.StringIO()):
            self._engine = RapidOCR(intra_op_num_threads=n, inter_op_num_threads=1)
        # One line per recognition call: a batch is padded to its widest line, and on CPU
        # a batch of six 320 px lines took 1.8x as long as six single calls (bench/bench.py).
        self._engine.text_rec.rec_batch_num = 1
        # The same models with their arithmetic folded (redactor/onnx_graph.py): recognition
        # 15% and detection 20% less CPU, outputs equal up to float rounding.
        _fold(self._engine.text_det.infer, "ch_PP-OCRv4_det_infer.onnx")
        _fold(self._engine.text_rec.session, "ch_PP-OCRv4_rec_infer.onnx", threads=1 if n > 1 else None)
        if n > 1:
            self._pool = ThreadPoolExecutor(n, thread_name_prefix="ocr-recognition")
            self._engine.text_rec = _SharedOutRecogniser(self._engine.text_rec, self._pool)

    def read(self, image: np.ndarray, *, fix_upside_down: bool = True) -> list[TextLine]:
        # Text detection runs at full resolution by default; past ~1400 px it only costs time
        # (a 300 dpi passport page still has 25 px letters at this size).
        scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        bgr = np.ascontiguousarray(small[:, :, ::-1])
        result, _ = self._engine(bgr, use_cls=fix_upside_down, return_word_box=True)
        lines: list[TextLine] = []
        for item in result or []:
            quad, text, score = item[0], str(item[1]), float(item[2])
            char_quads = item[3] if len(item) > 3 else []
            chars = tuple(quad_box(q, scale) for q in char_quads) if len(char_quads) == len(text) else ()
            lines.append(TextLine(text=text, box=quad_box(quad, scale), confidence=score, source=self.name, chars=chars))
        return lines

    def detect(self, image: np.ndarray, *, max_side: int) -> list[np.ndarray]:
        # The library's own detector upscales to a 736 px short side; for finding out which
        # way a page is turned a small image is enough, so resize here and skip that step.
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        # Small scans are enlarged too: turned a quarter, their short lines are not found otherwise.
        scale = min(MAX_DETECT_UPSCALE, max_side / max(image.shape[:2]))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation) if scale != 1 else image
        det = self._engine.text_det
        prep = DetPreProcess(max_side, "max", det.mean, det.std)(np.ascontiguousarray(small[:, :, ::-1]))
        if prep is None:
            return []
        boxes, _ = det.postprocess_op(det.infer(prep)[0], small.shape[:2])
        return [np.asarray(q, dtype=np.float32) / scale for q in det.filter_tag_det_res(boxes, small.shape[:2])]

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        result, _ = self._engine.text_rec([np.ascontiguousarray(c[:, :, ::-1]) for c in crops])
        return [(str(r[0]), float(r[1])) for r in result]
