"""Runs the CPU-bound pipeline in a bounded process pool, never on the event loop.

Admission is a counter: at most `workers + queue_size` documents are running or waiting.
A slot is released when the worker is really done with the document (not when the HTTP
request gives up), so timed-out work still counts and the pool cannot be flooded.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api import worker
from api.settings import ApiSettings

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
    from redactor.pipeline import Outcome

log = logging.getLogger("api.runner")
# Admit a document only if it is expected to be done within this fraction of the timeout.
ADMIT_FRACTION = 0.5


class QueueFull(Exception):
    """Every worker is busy and the queue is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the redaction queue is full")
        self.retry_after = retry_after


class RunTimeout(asyncio.TimeoutError):
    """The document was not done within the per-request timeout."""


class RunnerUnavailable(Exception):
    """The worker processes are not usable (starting, restarting, or their engines failed to load)."""

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("the redaction engine is not available")
        self.retry_after = retry_after


@dataclass
class RunnerState:
    ready: bool = False
    error: str | None = None  # why the workers are not usable, in plain words
    workers_seen: set[int] = field(default_factory=set)


class PoolRunner:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.capacity = settings.admission_capacity()
        self.in_flight = 0
        self.state = RunnerState()
        # Running estimate of one document's pipeline time; pessimistic until measured, so a cold
        # service does not admit a queue it cannot finish in time.
        self._avg_seconds = 15.0
        self._executor: ProcessPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warmup: asyncio.Task[None] | None = None

    # --- life cycle -----------------------------------------------------------------------

    def _threads_per_worker(self) -> int:
        if self.settings.worker_threads:
            return self.settings.worker_threads
        return max(1, (os.cpu_count() or 1) // self.settings.workers)

    def _new_executor(self) -> ProcessPoolExecutor:
        s = self.settings
        # No max_tasks_per_child: on Python 3.11 it deadlocks the pool once a worker retires.
        return ProcessPoolExecutor(
            max_workers=s.workers,
            mp_context=multiprocessing.get_context(s.start_method),
            initializer=worker.init_worker,
            initargs=(s, self._threads_per_worker(), s.request_timeout_s),
        )

    async def start(self) -> None:
        """Create the pool and load the engines in every worker (in the background)."""
        self._loop = asyncio.get_running_loop()
        self._executor = self._new_executor()
        self._warmup = asyncio.create_task(self._warm_up(self._executor))

    async def wait_ready(self) -> None:
        if self._warmup is not None:
            await self._warmup

    async def _warm_up(self, executor: ProcessPoolExecutor) -> None:
        self.state.ready = False
        started = time.monotonic()
        try:
            # One ping per worker makes the pool start them all; each loads its engines first.
            futures = [executor.submit(worker.ping) for _ in range(self.settings.workers)]
            results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except BrokenProcessPool:
            self.state.error = "the worker processes failed to start (engines did not load)"
            log.error("worker pool failed to start", extra={"fields": {"event": "pool_broken"}})
            return
        except Exception as exc:  # noqa: BLE001 - reported through /readyz
            self.state.error = f"worker start-up failed ({exc.__class__.__name__})"
            log.error("worker start-up failed", extra={"fields": {"error": exc.__class__.__name__}})
            return
        if not all(r["ocr"] for r in results):
            self.state.error = "the OCR engine did not load"
            return
        self.state.workers_seen.update(r["pid"] for r in results)
        self.state.error = None
        self.state.ready = True
        log.info(
            "workers ready",
            extra={"fields": {"workers": self.settings.workers, "seconds": round(time.monotonic() - started, 2)}},
        )

    async def stop(self) -> None:
        """Withdraw queued jobs and stop the workers (running jobs finish first)."""
        if self._warmup is not None:
            self._warmup.cancel()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """A worker died (killed, out of memory): replace the pool once, for everyone."""
        if self._executor is not broken:
            return  # already replaced by another request
        log.error("worker pool broken, restarting", extra={"fields": {"event": "pool_restart"}})
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()
        self._warmup = asyncio.create_task(self._warm_up(self._executor))

    # --- work ------------------------------------------------------------------------------

    def _expected_wait(self, position: int) -> float:
        """Seconds until a document at `position` in the pool (1 = next free worker) is done."""
        return math.ceil(position / self.settings.workers) * self._avg_seconds

    def retry_after(self) -> int:
        waiting = max(1, self.in_flight - self.settings.workers + 1)
        return max(1, min(120, math.ceil(waiting * self._avg_seconds / self.settings.workers)))

    def _admit(self) -> None:
        """Refuse (QueueFull) when the queue is full, or when a document that would have to
        wait would likely miss its deadline anyway: an honest 503 now beats a 504 later.
        A free worker always takes the document (so the estimate keeps learning)."""
        position = self.in_flight + 1
        if position > self.capacity:
            raise QueueFull(self.retry_after())
        too_slow = self._expected_wait(position) > ADMIT_FRACTION * self.settings.request_timeout_s
        if position > self.settings.workers and too_slow:
            raise QueueFull(self.retry_after())

    def _release(self, seconds: float | None) -> None:
        self.in_flight -= 1
        if seconds is not None:
            self._avg_seconds = 0.7 * self._avg_seconds + 0.3 * seconds

    async def run(self, data: bytes, purpose: str | None) -> "Outcome":
        """Redact one document in a worker process.

        Raises QueueFull (-> 503), RunTimeout (-> 504), RunnerUnavailable (-> 503).
        """
        executor = self._executor
        loop = self._loop
        if executor is None or loop is None:
            raise RunnerUnavailable()
        if self.state.error and not self.state.ready:
            raise RunnerUnavailable()
        self._admit()
        self.in_flight += 1
        timeout = self.settings.request_timeout_s
        try:
            future: Future[tuple["Outcome", float]] = executor.submit(
                worker.redact, data, purpose, time.time() + timeout
            )
        except (BrokenProcessPool, RuntimeError):
            self._release(None)
            self._restart(executor)
            raise RunnerUnavailable() from None

        def done(f: Future[tuple["Outcome", float]]) -> None:
            seconds = None if f.cancelled() or f.exception() else f.result()[1]
            try:
                loop.call_soon_threadsafe(self._release, seconds)
            except RuntimeError:  # the loop is closed: the service is shutting down
                pass

        future.add_done_callback(done)
        try:
            # wrap_future: cancelling on timeout also withdraws the job if it is still queued.
            outcome, _seconds = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
            return outcome
        except asyncio.TimeoutError:
            raise RunTimeout() from None
        except worker.WorkerTimeout:
            raise RunTimeout() from None
        except BrokenProcessPool:
            self._restart(executor)
            raise RunnerUnavailable() from None
