"""Runs the CPU-bound pipeline in supervised worker processes, never on the event loop.

The workers are a pebble ProcessPool: each loads the engines once (`worker.init_worker`).
At its deadline the client gets 504 and the worker interrupts the document itself (SIGALRM),
keeping its engines. MuPDF renders in one C call that no signal can interrupt, though: a
worker still busy KILL_GRACE_S later is killed, and the pool starts a fresh one. So a
timed-out document never keeps a worker for longer than its deadline plus that grace.

Admission is a counter: at most `workers + queue_size` documents are running or waiting, of
which key-less callers (the self-check page) may hold at most `public_capacity`. Waiting
documents get a worker in order, keyed intake before key-less ones, so a public client can
neither fill the queue nor stand in front of an organisation's intake.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import time
from collections import deque
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from api import worker
from api.settings import ApiSettings

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
    from redactor.pipeline import Outcome

log = logging.getLogger("api.runner")
# Admit a document only if it is expected to be done within this fraction of the timeout.
ADMIT_FRACTION = 0.5
# Seconds past its deadline a worker gets to stop by itself before it is killed.
KILL_GRACE_S = 5.0
# Seconds a killed worker's slot waits for its replacement to load its engines.
REPLACEMENT_WAIT_S = 120.0


class QueueFull(Exception):
    """Every worker is busy and the queue is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the redaction queue is full")
        self.retry_after = retry_after


class RunTimeout(asyncio.TimeoutError):
    """The document was not done within the per-request timeout (its worker was killed)."""


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
    workers_killed: int = 0  # timed-out documents whose worker was killed and replaced


class PoolRunner:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.capacity = settings.admission_capacity()
        self.public_capacity = settings.public_capacity()
        self.in_flight = 0  # admitted documents: running or waiting for a worker
        self.public_in_flight = 0
        self.state = RunnerState()
        # Running estimate of one document's pipeline time; pessimistic until measured, so a cold
        # service does not admit a queue it cannot finish in time.
        self._avg_seconds = 15.0
        self._pool: ProcessPool | None = None
        self._warmup: asyncio.Task[None] | None = None
        self._busy_workers = 0  # documents handed to the pool (at most `workers`)
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    # --- life cycle -----------------------------------------------------------------------

    def _threads_per_worker(self) -> int:
        if self.settings.worker_threads:
            return self.settings.worker_threads
        return max(1, (os.cpu_count() or 1) // self.settings.workers)

    def _new_pool(self) -> ProcessPool:
        s = self.settings
        return ProcessPool(
            max_workers=s.workers,
            initializer=worker.init_worker,
            initargs=(s, self._threads_per_worker()),
            context=multiprocessing.get_context(s.start_method),
        )

    async def start(self) -> None:
        """Create the pool and load the engines in every worker (in the background)."""
        self._pool = self._new_pool()
        self._warmup = asyncio.create_task(self._warm_up(self._pool))

    async def wait_ready(self) -> None:
        if self._warmup is not None:
            await self._warmup

    async def _warm_up(self, pool: ProcessPool) -> None:
        self.state.ready = False
        started = time.monotonic()
        try:
            # One ping per worker makes the pool start them all; each loads its engines first.
            futures = [pool.schedule(worker.ping) for _ in range(self.settings.workers)]
            results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except (BrokenProcessPool, ProcessExpired, RuntimeError):
            self.state.error = "the worker processes failed to start (engines did not load)"
            log.error("worker pool failed to start", extra={"fields": {"event": "pool_broken"}})
            return
        except Exception as exc:  # noqa: BLE001 - reported through /readyz
            self.state.error = "worker start-up failed"
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
        """Withdraw waiting documents and stop the workers (running ones get their timeout to finish)."""
        if self._warmup is not None:
            self._warmup.cancel()
        for queue in self._waiting.values():
            while queue:
                queue.popleft().cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(self._close, pool, self.settings.request_timeout_s)

    @staticmethod
    def _close(pool: ProcessPool, timeout: float) -> None:
        pool.close()
        try:
            pool.join(timeout)
        except TimeoutError:
            pool.stop()
            pool.join()

    def _restart(self, broken: ProcessPool | None) -> None:
        """The pool itself failed (its workers cannot start): replace it once, for everyone."""
        if broken is None or self._pool is not broken:
            return  # already replaced by another request
        log.error("worker pool broken, restarting", extra={"fields": {"event": "pool_restart"}})
        broken.stop()
        self._pool = self._new_pool()
        self._warmup = asyncio.create_task(self._warm_up(self._pool))

    # --- admission -------------------------------------------------------------------------

    def _expected_wait(self, position: int) -> float:
        """Seconds until a document at `position` in the pool (1 = next free worker) is done."""
        return math.ceil(position / self.settings.workers) * self._avg_seconds

    def retry_after(self) -> int:
        waiting = max(1, self.in_flight - self.settings.workers + 1)
        return max(1, min(120, math.ceil(waiting * self._avg_seconds / self.settings.workers)))

    def _position(self, keyed: bool) -> int:
        """Where a new document would stand: keyed documents go ahead of waiting key-less ones."""
        if keyed:
            return self._busy_workers + len(self._waiting[True]) + 1
        return self.in_flight + 1

    def _admit(self, keyed: bool) -> None:
        """Refuse (QueueFull) when the queue is full, when key-less callers already hold their
        share, or when a document that would have to wait would likely miss its deadline anyway:
        an honest 503 now beats a 504 later. A free worker always takes the document."""
        if self.in_flight + 1 > self.capacity:
            raise QueueFull(self.retry_after())
        if not keyed and self.public_in_flight + 1 > self.public_capacity:
            raise QueueFull(self.retry_after())
        position = self._position(keyed)
        too_slow = self._expected_wait(position) > ADMIT_FRACTION * self.settings.request_timeout_s
        if position > self.settings.workers and too_slow:
            raise QueueFull(self.retry_after())

    def _count(self, keyed: bool, step: int) -> None:
        self.in_flight += step
        if not keyed:
            self.public_in_flight += step

    async def _take_worker(self, keyed: bool) -> None:
        """Wait for a free worker; keyed documents are served first."""
        if self._busy_workers < self.settings.workers and not any(self._waiting.values()):
            self._busy_workers += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting[keyed]
        queue.append(waiter)
        try:
            await waiter  # `_give_back_worker` counts the worker as ours before waking us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give_back_worker()  # handed a worker just as our deadline passed
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def _give_back_worker(self) -> None:
        self._busy_workers -= 1
        for keyed in (True, False):
            queue = self._waiting[keyed]
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    self._busy_workers += 1
                    waiter.set_result(None)
                    return

    # --- work ------------------------------------------------------------------------------

    async def run(self, data: bytes, purpose: str | None, *, keyed: bool = False) -> "Outcome":
        """Redact one document in a worker process. `keyed`: the caller presented an API key.

        Raises QueueFull (-> 503), RunTimeout (-> 504), RunnerUnavailable (-> 503).
        """
        return await self.call(worker.redact, (data, purpose), keyed=keyed)

    async def call(self, task: Callable[..., Any], args: tuple[Any, ...], *, keyed: bool = False, learn: bool = True) -> Any:
        """Run `task(*args, deadline)` (a function of api.worker returning (result, seconds)) in
        a worker, under the same admission, queue and deadline as every document. `learn`: its
        time counts in the estimate behind admission and Retry-After (a pipeline run does, a
        page rendering does not)."""
        if self._pool is None or (self.state.error and not self.state.ready):
            raise RunnerUnavailable()
        self._admit(keyed)
        self._count(keyed, +1)
        deadline = time.time() + self.settings.request_timeout_s
        job: asyncio.Future[Any] | None = None
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):
                await self._take_worker(keyed)
                # From here the job owns the worker and the admission slot, and keeps them until
                # the worker is really free again, even after this request has answered 504.
                job = asyncio.ensure_future(self._job(task, args, keyed, deadline, learn))
                job.add_done_callback(_retrieve)
                return await asyncio.shield(job)
        except TimeoutError:
            raise RunTimeout() from None
        finally:
            if job is None:
                self._count(keyed, -1)

    async def _job(
        self, task: Callable[..., Any], args: tuple[Any, ...], keyed: bool, deadline: float, learn: bool
    ) -> Any:
        try:
            future = self._schedule(task, (*args, deadline))
            answer = asyncio.wrap_future(future)
            # The worker stops itself at the deadline (SIGALRM) unless it is stuck in C code:
            # then, a grace period later, it is killed and the pool starts a fresh one.
            kill_in = max(0.0, deadline + KILL_GRACE_S - time.time())
            done, _ = await asyncio.wait([answer], timeout=kill_in)
            if not done:
                was_running = future.running()
                future.cancel()  # pebble terminates the worker running a cancelled task
                if was_running:
                    self._note_killed()
                    await self._replacement_ready()
                raise RunTimeout()
            try:
                result, seconds = answer.result()
            except (TimeoutError, worker.WorkerTimeout):
                raise RunTimeout() from None
            except (ProcessExpired, CancelledError):
                # The worker died under the document (killed, out of memory); the pool replaces it.
                log.error("worker died", extra={"fields": {"event": "worker_died"}})
                raise RunnerUnavailable() from None
            except BrokenProcessPool:
                self._restart(self._pool)
                raise RunnerUnavailable() from None
            if learn:
                self._avg_seconds = 0.7 * self._avg_seconds + 0.3 * seconds
            return result
        finally:
            self._give_back_worker()
            self._count(keyed, -1)

    def _schedule(self, task: Callable[..., Any], args: tuple[Any, ...]) -> "ProcessFuture[Any]":
        pool = self._pool
        if pool is None:
            raise RunnerUnavailable()
        try:
            return pool.schedule(task, args)
        except RuntimeError:  # the pool is in an error state
            self._restart(pool)
            raise RunnerUnavailable() from None

    async def _replacement_ready(self) -> None:
        """Hold the killed worker's slot until a worker takes documents again, so that admission
        does not count on a worker that is still loading its engines."""
        pool = self._pool
        if pool is None:
            return
        try:
            async with asyncio.timeout(REPLACEMENT_WAIT_S):
                await asyncio.wrap_future(pool.schedule(worker.ping))
        except Exception:  # noqa: BLE001 - a pool that cannot start workers is found by the next document
            log.error("no worker after a kill", extra={"fields": {"event": "worker_replacement_slow"}})

    def _note_killed(self) -> None:
        self.state.workers_killed += 1
        log.warning("document timed out; worker killed and replaced", extra={"fields": {"event": "worker_killed"}})


def _retrieve(job: "asyncio.Future[Any]") -> None:
    """Mark a job's error as seen: after a 504 nobody awaits the job any more."""
    if not job.cancelled():
        job.exception()
