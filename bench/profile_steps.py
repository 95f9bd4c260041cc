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
import threading
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
    # Each thread's open calls: [label, cpu0, wall0, child_cpu, child_wall, other_threads_cpu0].
    _local: threading.local = field(default_factory=threading.local)
    # Threads other than the main one that ran timed calls (the pipeline encodes beside
    # verification): ident -> their CPU clock, so that the main thread's calls, timed with
    # the whole process's CPU clock, are not charged for what those threads did meanwhile.
    _others: dict[int, int] = field(default_factory=dict)

    def _stack(self) -> list[list[Any]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def _others_cpu(self) -> float:
        total = 0.0
        for clock_id in list(self._others.values()):
            try:
                total += time.clock_gettime(clock_id)
            except OSError:  # the thread has ended; its calls were charged when they ended
                pass
        return total

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            main = threading.current_thread() is threading.main_thread()
            if not main:
                self._others.setdefault(threading.get_ident(), time.pthread_getcpuclockid(threading.get_ident()))
            cpu_clock = time.process_time if main else time.thread_time
            stack = self._stack()
            frame = [label, cpu_clock(), time.perf_counter(), 0.0, 0.0, self._others_cpu() if main else 0.0]
            stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                stack.pop()
                cpu, wall = cpu_clock() - frame[1], time.perf_counter() - frame[2]
                if main:
                    cpu -= self._others_cpu() - frame[5]
                key = (stack[0][0] if stack else label, label)
                self.cpu[key] += cpu - frame[3]
                self.wall[key] += wall - frame[4]
                if stack:
                    stack[-1][3] += cpu
                    stack[-1][4] += wall

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
    patch(normalise, "_text_window", "reading window")
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
    patch(verify, "read_qr_codes", "qr codes")
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
    boxes = rapid.cal_rec_boxes  # worked out beside PP-OCRv4's second reading, on another thread
    stack.enter_context(mock.patch.object(rapid, "cal_rec_boxes", _TimedProxy(boxes, clock.wrap("ocr character boxes", boxes))))
    fast = engines.ocr._fast  # PP-OCRv6 tiny, which reads every line first
    if fast is not None:
        stack.enter_context(mock.patch.object(engines.ocr, "_fast", _TimedProxy(fast, clock.wrap("ocr recognition, fast model", fast))))
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
