"""Code that runs inside the pool's worker processes (started with spawn/forkserver, never fork).

Each worker loads the engines once in `init_worker` and keeps them in `_STATE`: a per-process
global is how ProcessPoolExecutor lets an initializer hand state to later tasks.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

_STATE: "_WorkerState | None" = None


@dataclass
class _WorkerState:
    engines: Any
    keys: Any
    settings: Any
    hard_timeout_s: float


class WorkerTimeout(BaseException):
    """The pipeline ran longer than the hard limit inside the worker and was interrupted.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` in the pipeline
    swallows it and carries on.
    """


def _limit_threads(threads: int) -> None:
    # Set before the heavy libraries are imported: N workers x all-cores threads would thrash 2 cores.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


def init_worker(settings: Any, threads: int, hard_timeout_s: float) -> None:
    global _STATE
    from api.logs import configure_logging

    configure_logging(getattr(settings, "log_level", "INFO"))  # JSON lines here too, e.g. a failed start
    _limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import cv2

    cv2.setNumThreads(threads)
    from redactor.pipeline import Engines
    from redactor.record import KeyStore

    _STATE = _WorkerState(Engines.load(threads), KeyStore(settings.key_dir), settings, hard_timeout_s)


def ping() -> dict[str, Any]:
    """Used at start-up: proves the worker started and its engines loaded."""
    state = _require_state()
    return {"pid": os.getpid(), "ocr": state.engines.ocr is not None, "faces": state.engines.faces is not None}


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise WorkerTimeout()


def redact(data: bytes, purpose: str | None, deadline: float) -> tuple[Any, float]:
    """Run the pipeline on one document before `deadline` (time.time() seconds).

    Returns (redactor.pipeline.Outcome, seconds the pipeline took).
    """
    from redactor import pipeline

    state = _require_state()
    remaining = min(state.hard_timeout_s, deadline - time.time())
    if remaining <= 0:
        raise WorkerTimeout()  # its client has already been told 504: do not spend a worker on it
    # A timer in the worker itself: the parent cannot cancel a running task of a process pool,
    # so without it a pathological document would hold a worker slot forever.
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, remaining)
    started = time.perf_counter()
    try:
        outcome = pipeline.redact_document(
            data, engines=state.engines, keys=state.keys, settings=state.settings, purpose=purpose
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return outcome, time.perf_counter() - started


def _require_state() -> _WorkerState:
    if _STATE is None:
        raise RuntimeError("worker not initialised")
    return _STATE
