"""Per-step CPU and wall time of the pipeline, measured from outside: the benchmark wraps the
pipeline's step functions and model calls, so the pipeline itself carries no timing code.

Each wrapped call is charged exclusively: time spent in a nested wrapped call goes to that
call, not to its caller. Costs are kept per (phase, part): the phase is the outermost step
running (orientation, verification, ...), the part the innermost (ocr recognition, centerface,
...), so "verification / ocr recognition" is the OCR that verification runs.

CPU seconds are the whole process's (`time.process_time`, all threads): with two ONNX threads
a second of inference can cost two CPU seconds.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable
from unittest import mock


@dataclass
class StepClock:
    cpu: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    wall: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    _stack: list[list[Any]] = field(default_factory=list)  # [label, cpu0, wall0, child_cpu, child_wall]

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [label, time.process_time(), time.perf_counter(), 0.0, 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                cpu, wall = time.process_time() - frame[1], time.perf_counter() - frame[2]
                key = (self._stack[0][0] if self._stack else label, label)
                self.cpu[key] += cpu - frame[3]
                self.wall[key] += wall - frame[4]
                if self._stack:
                    self._stack[-1][3] += cpu
                    self._stack[-1][4] += wall

        return timed

    def reset(self) -> None:
        self.cpu.clear()
        self.wall.clear()


class _TimedProxy:
    """Stands in for an object the library calls (`obj(...)`), timing the calls and passing
    every attribute through."""

    def __init__(self, target: Any, timed: Callable) -> None:
        self._target, self._timed = target, timed

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def instrument(clock: StepClock, engines: Any) -> ExitStack:
    """Patch the pipeline's steps and `engines`' models to report to `clock`; undone on close."""
    from redactor import layout, load, mrz, normalise, pipeline, record, verify
    from redactor import faces as faces_module

    stack = ExitStack()

    def patch(target: Any, name: str, label: str) -> None:
        stack.enter_context(mock.patch.object(target, name, clock.wrap(label, getattr(target, name))))

    patch(load, "load", "load")
    patch(normalise, "_turn", "orientation")
    patch(normalise, "_detect_small", "orientation")
    # A page is read in two halves (find_lines, read_lines) when its lines also decide its turn.
    for method in ("read", "find_lines", "read_lines"):
        patch(type(engines.ocr), method, "page ocr")
    patch(mrz, "read", "mrz")
    patch(pipeline, "find_numbers", "numbers")
    patch(pipeline, "enhance_contrast", "faces")
    patch(faces_module.CenterFaceDetector, "detect", "centerface")
    patch(faces_module.HaarFaceDetector, "detect", "haar")
    patch(pipeline, "find_qr_codes", "qr codes")
    patch(verify, "find_qr_codes", "qr codes")
    patch(pipeline, "classify", "classify")
    patch(pipeline, "_photo_regions", "layout")
    patch(layout, "find_ghost_copy", "ghost copy match")
    patch(pipeline, "decide", "decide")
    patch(pipeline, "_black_out_pages", "redact")
    patch(pipeline, "verify", "verification")
    patch(pipeline, "watermark", "watermark")
    patch(pipeline, "_encode", "encode")
    patch(pipeline, "build_record", "record")
    patch(record.KeyStore, "sign", "sign")
    patch(pipeline, "find", "find")
    # The OCR models: detection inference, and recognition with its pre- and post-processing
    # (timed from the calling thread: it may share the lines out over other threads).
    rapid = engines.ocr._engine
    det, rec = rapid.text_det, rapid.text_rec
    stack.enter_context(mock.patch.object(det, "infer", _TimedProxy(det.infer, clock.wrap("ocr detection", det.infer))))
    stack.enter_context(mock.patch.object(rapid, "text_rec", _TimedProxy(rec, clock.wrap("ocr recognition", rec))))
    return stack


def table(clock: StepClock, documents: int) -> str:
    """Markdown: CPU and wall seconds per document, by phase and part, largest first."""
    total_cpu = sum(clock.cpu.values()) or 1.0
    rows = sorted(clock.cpu, key=lambda k: clock.cpu[k], reverse=True)
    lines = ["| phase | part | CPU s/doc | wall s/doc | share of CPU |", "|---|---|---:|---:|---:|"]
    for phase, part in rows:
        cpu, wall = clock.cpu[(phase, part)] / documents, clock.wall[(phase, part)] / documents
        if cpu < 0.005 and wall < 0.005:
            continue
        lines.append(f"| {phase} | {part if part != phase else '(itself)'} | {cpu:.2f} | {wall:.2f} | {100 * clock.cpu[(phase, part)] / total_cpu:.0f} % |")
    lines.append(f"| **total** | | **{total_cpu / documents:.2f}** | **{sum(clock.wall.values()) / documents:.2f}** | |")
    return "\n".join(lines)
