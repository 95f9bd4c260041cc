"""The two ways to run the workers: a local process pool (pebble) and Ray actors (ActorPool).

Both load the models once per worker and hand tasks out themselves; the driver only keeps a
bounded number of tasks submitted ahead (backpressure) and commits what comes back. Neither
engine schedules by hand: pebble and ray.util.ActorPool give each idle worker the next task.

Failures: a local worker that dies or overruns its deadline is replaced by pebble; a Ray actor
is restarted by Ray (max_restarts) and its task retried (max_task_retries). Only when that is
exhausted does the driver hear of it (Finished.result is None) and count an attempt.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Protocol

from sweep import work
from sweep.work import Job, Result, Task, WorkerInfo, WorkerSetupError

log = logging.getLogger("redactor.sweep")

# A Ray task whose actor died is retried this many times on the restarted actor before the
# driver hears of it (and counts an attempt against the file).
RAY_TASK_RETRIES = 2
READY_TIMEOUT = 900.0  # seconds for the workers to start and load their models


class EngineError(Exception):
    """The workers cannot run (models, keys, cluster); the message is meant for the operator."""


@dataclass(frozen=True)
class Finished:
    """One task that came back. `result` None: its worker was lost (`error` says how); `task`
    None: an engine could not tell which task that was (the driver then finds it unanswered)."""

    task: Task | None
    result: Result | None
    error: str | None = None


class Engine(Protocol):
    name: str
    workers: int

    def start(self) -> list[WorkerInfo]: ...

    def submit(self, task: Task) -> None: ...

    def next_finished(self) -> Finished: ...

    def close(self) -> None: ...


def _setup_error(exc: BaseException) -> EngineError:
    return EngineError(f"the workers could not start: {exc}")


# --- local process pool ------------------------------------------------------------------------


class LocalEngine:
    """`workers` processes on this machine, `threads` threads per model in each."""

    name = "local"

    def __init__(self, job: Job, workers: int, threads: int) -> None:
        self.job = job
        self.workers = workers
        self.threads = threads
        self.pool: Any = None
        self.futures: dict[Future, Task] = {}

    def start(self) -> list[WorkerInfo]:
        from pebble import ProcessPool

        # spawn: a fork of a driver that has imported ONNX runtime or boto3 threads can hang.
        self.pool = ProcessPool(
            max_workers=self.workers,
            initializer=work.init_process,
            initargs=(self.job, self.threads),
            context=multiprocessing.get_context("spawn"),
        )
        futures = [self.pool.schedule(work.process_ready) for _ in range(self.workers)]
        try:
            return [f.result(timeout=READY_TIMEOUT) for f in futures]
        except WorkerSetupError as exc:
            raise _setup_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - a worker that died while loading, a timeout
            raise EngineError(f"the workers could not start ({exc.__class__.__name__})") from None

    def submit(self, task: Task) -> None:
        # The deadline is a backstop for a C call that ignores the worker's own time limit:
        # pebble kills the process and starts a fresh one.
        future = self.pool.schedule(work.process_task, args=(task,), timeout=self.job.time_limit + 120)
        self.futures[future] = task

    def next_finished(self) -> Finished:
        done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
        future = next(iter(done))
        task = self.futures.pop(future)
        try:
            return Finished(task, future.result())
        except WorkerSetupError as exc:
            raise _setup_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - ProcessExpired (killed), TimeoutError (deadline)
            return Finished(task, None, exc.__class__.__name__)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()  # a running document is cut off; its row stays queued
            self.pool.join(timeout=30)


# --- Ray ---------------------------------------------------------------------------------------


class SweepActor:
    """A Ray actor around one Worker: the models stay loaded for the actor's whole life (and
    are loaded again by a restart). Setup errors are kept and raised by each call, so a
    restart loop never hides them."""

    def __init__(self, job: Job, threads: int) -> None:
        try:
            self.worker: work.Worker | None = work.Worker(job, threads)
            self.error: str | None = None
        except WorkerSetupError as exc:
            self.worker, self.error = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - reported by ready(), no traceback
            self.worker, self.error = None, f"the models could not be loaded ({exc.__class__.__name__}: {exc})"

    def _ready_worker(self) -> work.Worker:
        if self.worker is None:
            raise WorkerSetupError(self.error or "worker not initialised")
        return self.worker

    def ready(self) -> tuple[WorkerInfo, str]:
        import ray

        return self._ready_worker().ready(), ray.get_runtime_context().get_actor_id()

    def process(self, task: Task) -> Result:
        return self._ready_worker().process(task)


class RayEngine:
    """Ray actors in a ray.util.ActorPool, on a cluster (`address`) or on a Ray started here."""

    name = "ray"

    def __init__(self, job: Job, workers: int | None, threads: int, address: str | None) -> None:
        self.job = job
        self.workers = workers or 0
        self.threads = threads
        self.address = address
        self.started_ray = False
        self.pool: Any = None
        self.actor_class: Any = None
        self.actors: dict[str, Any] = {}  # actor id -> handle
        # actor id -> its tasks, oldest first: ActorPool hands a freed actor its next task
        # before get_next_unordered returns, so the finished one is still listed then.
        self.running: dict[str, list[Task]] = {}
        self.handle_ids: dict[int, str] = {}  # id(handle) -> actor id

    def _init_ray(self) -> None:
        import ray

        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address:
            try:
                ray.init(address=self.address, **options)
            except Exception as exc:  # noqa: BLE001 - ConnectionError, auth, version mismatch
                raise EngineError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from None
            return
        # A Ray of our own on this machine ("local": never join a cluster found in /tmp/ray),
        # one CPU per core (more when asked for more workers), ended with the sweep.
        cpus = max(os.cpu_count() or 1, self.workers * self.threads)
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, **options)
        self.started_ray = True

    def start(self) -> list[WorkerInfo]:
        import ray
        from ray.util import ActorPool

        self._init_ray()
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if not self.workers:
            self.workers = max(1, cpus // self.threads)
        if self.workers * self.threads > cpus:
            raise EngineError(f"the Ray cluster has {cpus} CPUs; {self.workers} workers need {self.workers * self.threads}")
        self.actor_class = ray.remote(
            num_cpus=self.threads, max_restarts=-1, max_task_retries=RAY_TASK_RETRIES
        )(SweepActor)
        handles = [self.actor_class.remote(self.job, self.threads) for _ in range(self.workers)]
        infos = [self._register(h, ref) for h, ref in self._ready_all(handles)]
        self.pool = ActorPool(list(self.actors.values()))
        return infos

    def _ready_all(self, handles: list[Any]) -> list[tuple[Any, Any]]:
        import ray

        refs = [h.ready.remote() for h in handles]
        try:
            ray.get(refs, timeout=READY_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            raise EngineError(f"the Ray workers did not start within {READY_TIMEOUT:g} s (not enough free CPUs?)") from None
        except ray.exceptions.RayTaskError as exc:
            raise _setup_error(exc.cause) from None
        except ray.exceptions.RayActorError as exc:
            raise EngineError(f"a Ray worker died while starting: {exc.error_msg.splitlines()[0]}") from None
        return list(zip(handles, refs, strict=True))

    def _register(self, handle: Any, ready_ref: Any) -> WorkerInfo:
        import ray

        info, actor_id = ray.get(ready_ref)
        self.actors[actor_id] = handle
        self.handle_ids[id(handle)] = actor_id
        return info

    def _call(self, actor: Any, task: Task) -> Any:
        self.running.setdefault(self.handle_ids[id(actor)], []).append(task)
        return actor.process.remote(task)

    def submit(self, task: Task) -> None:
        self.pool.submit(self._call, task)

    def next_finished(self) -> Finished:
        import ray

        try:
            result: Result = self.pool.get_next_unordered()
        except ray.exceptions.RayActorError as exc:
            # Ray's own restarts and retries are used up for this task: the actor's oldest.
            held = self.running.get(exc.actor_id or "", [])
            task = held.pop(0) if held else None
            if isinstance(exc, ray.exceptions.ActorDiedError) and exc.actor_id in self.actors:
                self._replace(exc.actor_id)
            return Finished(task, None, exc.__class__.__name__)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, WorkerSetupError):
                raise _setup_error(exc.cause) from None
            return Finished(None, None, exc.__class__.__name__)
        for held in self.running.values():
            for task in held:
                if task.row_id == result.row_id:
                    held.remove(task)
                    return Finished(task, result)
        return Finished(None, result)

    def _replace(self, actor_id: str) -> None:
        """ActorPool drops an actor whose task died for good; a fresh one takes its place, so
        the pool does not shrink (the old one may still be restarting: end it for good)."""
        import ray

        old = self.actors.pop(actor_id)
        self.handle_ids.pop(id(old), None)
        self.running.pop(actor_id, None)
        ray.kill(old, no_restart=True)
        log.warning("worker_replaced", extra={"fields": {"engine": "ray"}})
        (handle, ref), = self._ready_all([self.actor_class.remote(self.job, self.threads)])
        self._register(handle, ref)
        self.pool.push(handle)

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        if not self.started_ray:  # a shared cluster: end our actors, leave the cluster running
            for handle in self.actors.values():
                ray.kill(handle, no_restart=True)
        ray.shutdown()
