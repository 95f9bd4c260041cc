"""Code that runs inside the pool's worker processes (started with spawn/forkserver, never fork).

Each worker loads the engines once in `init_worker` and keeps them in `_STATE`: a per-process
global is how a process pool lets an initializer hand state to later tasks.

A document that outlives its deadline is interrupted here by SIGALRM, which keeps the worker
and its loaded engines. A signal only interrupts Python code, though, not a C call such as
MuPDF rendering a page: when that does not end soon after the deadline, the supervisor in
api/runner.py kills this process and starts a fresh one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import os
import signal
import time
from dataclasses import dataclass
from types import FrameType, SimpleNamespace
from typing import Any, Callable

_STATE: "_WorkerState | None" = None


@dataclass
class _WorkerState:
    engines: Any
    keys: Any
    settings: Any


class WorkerTimeout(BaseException):
    """The document's deadline passed (before or while the pipeline ran on it).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` in the pipeline
    swallows it and carries on.
    """


def _limit_threads(threads: int) -> None:
    # Set before the heavy libraries are imported: N workers x all-cores threads would thrash 2 cores.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


# Buffers from this size up come straight from the OS and go back when freed (glibc's
# M_MMAP_THRESHOLD). Above the models' working buffers, which then stay in the heap and are
# reused by the next inference: mapped fresh each time (1 MB, then 24 MB), they were faulted
# in on every call, and the kernel took up to 45% of the CPU under bench/load.py at 1 MB and
# 12% per document at 24 MB. Buffers above it (the largest pages of a PDF bomb) still go
# straight back when freed; smaller ones are handed back by the trim below.
MMAP_THRESHOLD = 256 << 20
# After a document, freed heap is handed back to the OS only when the worker has grown past
# this: every trim gave back what the next document faulted in again (0.13 s of kernel time
# per document, measured over sample_docs), while a worker kept at ~900 MB stays well under
# the 1.2 GB a worker may use.
TRIM_ABOVE_BYTES = 900 << 20


def _return_freed_memory() -> None:
    """Large buffers (page images of a PDF bomb) straight from and back to the OS (glibc): by
    default malloc raises its mmap threshold after the first free and then keeps freed pages
    in the heap."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    libc = ctypes.CDLL(libc_name)
    if hasattr(libc, "mallopt"):
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return TRIM_ABOVE_BYTES + 1  # not Linux: trim every time, as before


def _trim_memory() -> None:
    if _resident_bytes() <= TRIM_ABOVE_BYTES:
        return
    libc_name = ctypes.util.find_library("c")
    if libc_name is not None and hasattr(ctypes.CDLL(libc_name), "malloc_trim"):
        ctypes.CDLL(libc_name).malloc_trim(0)


def init_worker(settings: Any, threads: int) -> None:
    global _STATE
    _return_freed_memory()
    from api.logs import configure_logging

    configure_logging(getattr(settings, "log_level", "INFO"))  # JSON lines here too, e.g. a failed start
    _limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # The supervisor stops a timed-out worker with SIGTERM; die at once rather than wait for a
    # Python handler that cannot run while MuPDF holds the interpreter.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import cv2

    cv2.setNumThreads(threads)
    from redactor.pipeline import Engines
    from redactor.record import KeyStore

    _STATE = _WorkerState(Engines.load(threads), KeyStore(settings.key_dir), settings)


def ping() -> dict[str, Any]:
    """Used at start-up: proves the worker started and its engines loaded."""
    state = _require_state()
    return {"pid": os.getpid(), "ocr": state.engines.ocr is not None, "faces": state.engines.faces is not None}


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise WorkerTimeout()


def _until(deadline: float, work: Callable[[], Any]) -> tuple[Any, float]:
    """Run `work` with the document's deadline (time.time() seconds) armed as SIGALRM; returns
    its result and the seconds it took. Gives the freed memory back afterwards."""
    remaining = deadline - time.time()
    if remaining <= 0:
        raise WorkerTimeout()  # its client has already been told 504: do not spend a worker on it
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, remaining)
    started = time.perf_counter()
    try:
        result = work()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _trim_memory()  # the document's pages are freed: give the memory back if the worker grew
    return result, time.perf_counter() - started


def _plain(outcome: Any) -> SimpleNamespace:
    """The Outcome's fields as plain values. Unpickling redactor.pipeline.Outcome would import
    the whole pipeline (OCR, OpenCV, ONNX) into the service process: seconds of work on its
    first answer, and hundreds of MB kept."""
    return SimpleNamespace(**{f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)})


def redact(data: bytes, purpose: str | None, deadline: float) -> tuple[Any, float]:
    """Run the pipeline on one document whose answer is due at `deadline`.
    Returns (the Outcome's fields, seconds the pipeline took)."""
    from redactor import pipeline

    state = _require_state()
    outcome, seconds = _until(
        deadline,
        lambda: pipeline.redact_document(data, engines=state.engines, keys=state.keys, settings=state.settings, purpose=purpose),
    )
    return _plain(outcome), seconds


def finish(data: bytes, review: Any, purpose: str | None, deadline: float) -> tuple[Any, float]:
    """A person's review of one document (redactor.core.Review): black out, verify, sign."""
    from redactor import pipeline

    state = _require_state()
    outcome, seconds = _until(
        deadline,
        lambda: pipeline.redact_reviewed(
            data, review, engines=state.engines, keys=state.keys, settings=state.settings, purpose=purpose
        ),
    )
    return _plain(outcome), seconds


def render_pages(
    data: bytes, max_side: int, fmt: str, only: list[int] | None, deadline: float
) -> tuple[list[bytes], float]:
    """The document's pages (`only` these indexes, when given) as the pipeline sees them (EXIF
    applied, PDF pages rendered), at most `max_side` pixels on their longer side, as PNG or
    JPEG: what a reviewer draws on."""
    from redactor import pipeline

    state = _require_state()
    return _until(deadline, lambda: pipeline.render_pages(data, state.settings, max_side, fmt, only))


def _require_state() -> _WorkerState:
    if _STATE is None:
        raise RuntimeError("worker not initialised")
    return _STATE
