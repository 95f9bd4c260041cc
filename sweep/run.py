"""The sweep's driver: list SOURCE into the manifest, feed the queued files to an engine a
bounded number at a time, commit each answer, delete published originals when asked, and
report.

    list -> manifest (queued / unchanged) -> engine (workers write outputs durably)
         -> manifest row final -> original deleted (--delete-originals, status done only)

Crash safety rests on three orderings: a worker returns only after its outputs are fsynced
(the record last); the driver moves a row out of `queued` only after that answer; it deletes an
original only after the row is `done` and both outputs are on disk. Killing anything at any
moment therefore leaves rows `queued` whose redo overwrites its own outputs, or `done` rows
whose originals a later run with --delete-originals still removes. Nothing is processed twice
into two outputs: every original has exactly one set of output names.
"""

from __future__ import annotations

import csv
import fcntl
import io
import logging
import os
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from redactor.config import Settings
from redactor.fsutil import fsync_dir
from sweep.engines import Engine, EngineError, Finished, LocalEngine, RayEngine
from sweep.manifest import DONE, FAILED, FINAL, NEEDS_REVIEW, QUEUED, Entry, Manifest
from sweep.source import DirSource, S3Source, SourceChanged
from sweep.work import FAILED_DIR, REVIEW_DIR, Job, Outputs, Task

log = logging.getLogger("redactor.sweep")

LIST_PAGE = 500  # listed files reconciled per manifest transaction
QUEUE_PAGE = 200  # queued rows read from the manifest at a time
LINE_INTERVAL = 15.0  # seconds between progress lines when stderr is no terminal
REPORT_NAME, LOCK_NAME = "_sweep-report.csv", "_sweep.lock"


class SweepError(Exception):
    """The sweep cannot start as configured; the message is meant for the operator."""


class Interrupted(Exception):
    """SIGTERM: stop like Ctrl-C (the rows in flight stay queued for the next run)."""


@dataclass(frozen=True)
class SweepConfig:
    source: DirSource | S3Source
    dest: Path
    manifest_url: str
    engine: str = "local"  # local | ray
    address: str | None = None
    workers: int | None = None
    delete_originals: bool = False
    retry_failed: bool = False
    max_attempts: int = 3
    purpose: str | None = None
    time_limit: float = 600.0


@dataclass
class Summary:
    """What one run did, and the state of the whole sweep after it."""

    listed: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    processed: Counter = field(default_factory=Counter)  # status -> files finished in this run
    worker_losses: int = 0
    deleted: int = 0
    not_deleted: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    processing_seconds: float = 0.0
    engine: str = ""
    workers: int = 0
    interrupted: bool = False
    report: Path | None = None
    problems: int = 0

    @property
    def processed_total(self) -> int:
        return sum(self.processed.values())

    def exit_code(self) -> int:
        """0 everything redacted; 3 some files need review or failed (see the report); 1 some
        files are not finished (run again to resume)."""
        if self.interrupted or self.totals.get(QUEUED, 0):
            return 1
        return 3 if self.totals.get(NEEDS_REVIEW, 0) or self.totals.get(FAILED, 0) else 0


def default_local_workers() -> int:
    """One one-thread worker per core: measured 1.8x the documents per second of one worker with
    a thread per core (bench/sweep.py); the pipeline has long single-threaded stretches."""
    return max(1, os.cpu_count() or 1)


def _threads(engine: str, workers: int) -> int:
    """Threads per model in each worker: a local pool shares this machine's cores; a Ray actor
    reserves one CPU and gets one thread (the cluster has as many actors as CPUs)."""
    return 1 if engine == "ray" else max(1, (os.cpu_count() or 1) // workers)


# --- progress ----------------------------------------------------------------------------------


class Progress:
    """A tqdm bar on a terminal (documents per second, time left); otherwise a plain line every
    LINE_INTERVAL seconds, so logs get no carriage returns."""

    def __init__(self, total: int, stream: TextIO) -> None:
        from tqdm import tqdm

        self.total, self.stream = total, stream
        self.bar = tqdm(
            total=total,
            unit="doc",
            file=stream,
            disable=None,  # a bar only when `stream` is a terminal
            smoothing=0.05,
            dynamic_ncols=True,
            # documents per second even below one (tqdm would switch to seconds per document)
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]",
        )
        self.lines = bool(self.bar.disable)
        self.started = self.last_line = time.monotonic()
        self.done = 0

    def update(self) -> None:
        self.done += 1
        self.bar.update(1)
        now = time.monotonic()
        if self.lines and (now - self.last_line >= LINE_INTERVAL or self.done == self.total):
            self.last_line = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            print(
                f"redactor sweep: {self.done}/{self.total} documents, {rate:.2f} documents/s, "
                f"about {_duration(left)} left",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# --- the run -------------------------------------------------------------------------------------


def _lock(dest: Path) -> int:
    """One driver per DEST: the manifest has one writer. The kernel drops the lock when the
    driver dies, however it dies."""
    fd = os.open(dest / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SweepError(f"another sweep is running into {dest}") from None
    return fd


def _prepare_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name in (REVIEW_DIR, FAILED_DIR):  # notes name originals: owner only
            (dest / name).mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"cannot create {exc.filename or dest}: {exc.strerror}") from None


def _make_engine(config: SweepConfig, job: Job) -> Engine:
    if config.engine == "ray":
        return RayEngine(job, config.workers, _threads("ray", config.workers or 1), config.address)
    workers = config.workers or default_local_workers()
    return LocalEngine(job, workers, _threads("local", workers))


class Sweep:
    def __init__(
        self,
        config: SweepConfig,
        manifest: Manifest,
        stream: TextIO,
    ) -> None:
        self.config = config
        self.manifest = manifest
        self.stream = stream
        self.summary = Summary(engine=config.engine)
        self.retries: deque[Task] = deque()
        self.page: deque[Entry] = deque()
        self.last_id = 0
        self.inflight: dict[int, Task] = {}
        self.progress: Progress | None = None

    # listing

    def scan(self) -> None:
        batch: list = []
        for item in self.config.source.list():
            batch.append(item)
            if len(batch) >= LIST_PAGE:
                self._reconcile(batch)
                batch = []
        if batch:
            self._reconcile(batch)
        log.info("listed", extra={"fields": {k: getattr(self.summary, k) for k in ("listed", "new", "changed", "unchanged")}})

    def _reconcile(self, batch: list) -> None:
        outcome = self.manifest.reconcile(batch, retry_failed=self.config.retry_failed)
        s = self.summary
        s.listed += len(batch)
        s.new, s.changed, s.unchanged = s.new + outcome.new, s.changed + outcome.changed + outcome.retried, s.unchanged + outcome.unchanged
        if self.config.delete_originals:
            # Done in an earlier run (without --delete-originals, or the driver died before).
            for entry in outcome.deletable:
                self._delete_original(entry.id, entry.path, entry.size, entry.mtime_ns, entry.extension)

    # deleting

    def _delete_original(self, row_id: int, path: str, size: int, mtime_ns: int, extension: str | None) -> None:
        if not Outputs(self.config.dest, path).published(extension):
            self.summary.not_deleted += 1
            log.warning("original_kept", extra={"fields": {"row": row_id, "why": "redacted copy or record missing"}})
            return
        try:
            self.config.source.delete(path, size, mtime_ns)
        except SourceChanged:
            self.summary.not_deleted += 1
            log.warning("original_kept", extra={"fields": {"row": row_id, "why": "changed since it was redacted"}})
            return
        except Exception as exc:  # noqa: BLE001 - permissions, S3 errors: keep going, report it
            self.summary.not_deleted += 1
            log.warning("original_kept", extra={"fields": {"row": row_id, "why": exc.__class__.__name__}})
            return
        self.manifest.mark_deleted(row_id)
        self.summary.deleted += 1

    # feeding

    def _next_task(self) -> Task | None:
        """Retries first, then queued rows in id order; None when nothing is left right now."""
        while True:
            if self.retries:
                return self.retries.popleft()
            if not self.page:
                self.page.extend(self.manifest.queued(self.last_id, QUEUE_PAGE))
                if not self.page:
                    return None
            entry = self.page.popleft()
            self.last_id = entry.id
            if entry.id in self.inflight:
                continue
            if entry.attempts >= self.config.max_attempts:
                # Attempts are counted when work starts: the sweep died this often on this file.
                self._give_up(entry.id, entry.attempts, "the sweep stopped while it was being processed")
                continue
            return Task(entry.id, entry.path, entry.size, entry.mtime_ns)

    def _give_up(self, row_id: int, attempts: int, what: str) -> None:
        reason = (
            f"Set aside after {attempts} attempts ({what}), so the other files could go on. "
            "Run the sweep again with --retry-failed to try it once more."
        )
        self.manifest.fail(row_id, [reason])
        self._counted(FAILED)

    def _counted(self, status: str) -> None:
        self.summary.processed[status] += 1
        if self.progress is not None:
            self.progress.update()

    def process(self, engine: Engine) -> None:
        window = 2 * max(engine.workers, 1)  # tasks submitted ahead: backpressure on the listing
        outstanding = 0
        self.progress = Progress(self.manifest.count(QUEUED), self.stream)
        started = time.monotonic()
        try:
            while True:
                while outstanding < window:
                    task = self._next_task()
                    if task is None:
                        break
                    self.manifest.begin_attempt(task.row_id)
                    engine.submit(task)
                    self.inflight[task.row_id] = task
                    outstanding += 1
                if outstanding == 0:
                    if not self._requeue_unanswered():
                        break
                    continue
                finished = engine.next_finished()
                outstanding -= 1
                self._commit(finished)
        finally:
            self.summary.processing_seconds = time.monotonic() - started
            self.progress.close()

    def _requeue_unanswered(self) -> bool:
        """Tasks an engine lost without saying which (the workers no longer hold them)."""
        lost = list(self.inflight.values())
        self.inflight.clear()
        for task in lost:
            self._lost(task, "no answer from its worker")
        return bool(self.retries)

    def _commit(self, finished: Finished) -> None:
        task = finished.task
        if task is None and finished.result is not None:
            task = self.inflight.get(finished.result.row_id)  # a result always names its row
        if task is None:
            self.summary.worker_losses += 1
            log.warning("worker_lost", extra={"fields": {"error": finished.error}})
            return
        self.inflight.pop(task.row_id, None)
        result = finished.result
        if result is None or result.status is None:
            error = finished.error or (result.error if result else None) or "unknown"
            self.summary.worker_losses += 1
            log.warning("worker_lost", extra={"fields": {"row": task.row_id, "error": error}})
            self._lost(task, f"{error}")
            return
        self.manifest.finish(result)
        self._counted(result.status)
        log.info(
            "document",
            extra={"fields": {"row": task.row_id, "status": result.status, "seconds": result.seconds, "record_id": result.record_id}},
        )
        if self.config.delete_originals and result.status == DONE and result.size is not None and result.mtime_ns is not None:
            self._delete_original(task.row_id, task.path, result.size, result.mtime_ns, result.extension)

    def _lost(self, task: Task, error: str) -> None:
        attempts = self.manifest.get(task.row_id).attempts
        if attempts >= self.config.max_attempts:
            self._give_up(task.row_id, attempts, f"its worker failed: {error}")
        else:
            self.manifest.note_error(task.row_id, f"attempt {attempts} did not finish: {error}")
            self.retries.append(task)

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM: the files in flight were not at fault; their rows stay queued."""
        for row_id in list(self.inflight):
            self.manifest.undo_attempt(row_id)
        self.inflight.clear()
        self.summary.interrupted = True


# --- report --------------------------------------------------------------------------------------


def _note_path(entry: Entry) -> str:
    under = REVIEW_DIR if entry.status == NEEDS_REVIEW else FAILED_DIR
    return f"{under}/{entry.path}.reason.txt"


def write_report(manifest: Manifest, dest: Path) -> tuple[Path, int]:
    """DEST/_sweep-report.csv: every file that needs review or failed, with reasons; written
    atomically (a reader sees the old report or the new one)."""
    target = dest / REPORT_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{REPORT_NAME}.", suffix=".part", dir=dest)
    count = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "status", "reasons", "record_id", "attempts", "note"])
            for entry in manifest.problems():
                note = _note_path(entry) if Outputs(dest, entry.path).note(entry.status).exists() else ""  # type: ignore[arg-type]
                writer.writerow([entry.path, entry.status, " | ".join(entry.reasons), entry.record_id or "", entry.attempts, note])
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # it names originals
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(dest)
    return target, count


# --- entry point ---------------------------------------------------------------------------------


def _driver_kid(settings: Settings) -> str:
    from redactor.record import KeyStore

    return str(KeyStore(settings.key_dir).signing_key().kid)  # created on first use, as every door does


def _start_engine(engine: Engine, kid: str) -> None:
    started = time.monotonic()
    infos = engine.start()
    foreign = {i.kid for i in infos} - {kid}
    if foreign:
        raise EngineError("a worker signs with another key than this machine: give every node the same REDACTOR_KEY_DIR")
    log.info("engine_ready", extra={"fields": {"engine": engine.name, "workers": engine.workers, "seconds": round(time.monotonic() - started, 2)}})


def run_sweep(
    config: SweepConfig,
    settings: Settings,
    stream: TextIO | None = None,
) -> Summary:
    """One run of the sweep. Raises SweepError / ManifestError / SourceError / EngineError with
    a message for the operator; Ctrl-C and SIGTERM end it early with the summary marked
    interrupted (rows in flight stay queued)."""
    started = time.monotonic()
    _prepare_dest(config.dest)
    lock = _lock(config.dest)
    manifest = Manifest.open(config.manifest_url)
    sweep = Sweep(config, manifest, stream or sys.stderr)
    engine: Engine | None = None
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        manifest.bind_source(config.source.identity())
        log.info("sweep_started", extra={"fields": {"source": config.source.describe(), "engine": config.engine}})
        try:
            sweep.scan()
            if manifest.count(QUEUED):
                kid = _driver_kid(settings)
                job = Job(config.source, config.dest.absolute(), settings, config.purpose, config.time_limit)
                engine = _make_engine(config, job)
                _start_engine(engine, kid)
                sweep.summary.workers = engine.workers
                sweep.process(engine)
        except (KeyboardInterrupt, Interrupted):
            sweep.interrupted()
        except EngineError:
            sweep.interrupted()  # the workers failed, not the files in flight
            raise
        finally:
            if engine is not None:
                engine.close()
        summary = sweep.summary
        summary.totals = manifest.totals()
        summary.report, summary.problems = write_report(manifest, config.dest)
        summary.seconds = time.monotonic() - started
        log.info("sweep_finished", extra={"fields": {"processed": dict(summary.processed), "totals": summary.totals}})
        return summary
    finally:
        signal.signal(signal.SIGTERM, previous)
        manifest.close()
        os.close(lock)


def _raise_interrupted(_signum: int, _frame: Any) -> None:
    raise Interrupted()


def format_summary(summary: Summary, config: SweepConfig) -> str:
    out = io.StringIO()
    state = "interrupted" if summary.interrupted else "finished"
    engine = f"engine {summary.engine}, {summary.workers} worker{'s' if summary.workers != 1 else ''}" if summary.workers else f"engine {summary.engine} not started"
    print(f"Sweep of {config.source.identity()} into {config.dest} {state} in {_duration(summary.seconds)} ({engine}).", file=out)
    rate = ""
    if summary.processed_total and summary.processing_seconds > 0:
        rate = f" ({summary.processed_total / summary.processing_seconds:.2f} documents/s)"
    print(
        f"Files listed: {summary.listed} (new {summary.new}, changed {summary.changed}, already handled {summary.unchanged}); "
        f"processed in this run: {summary.processed_total}{rate}.",
        file=out,
    )
    print(f"{'status':<14}{'this run':>9}{'all files':>11}", file=out)
    for status in (*FINAL, QUEUED):
        print(f"{status:<14}{summary.processed.get(status, 0):>9}{summary.totals.get(status, 0):>11}", file=out)
    if config.delete_originals:
        kept = f"; {summary.not_deleted} kept (see the log)" if summary.not_deleted else ""
        print(f"Originals deleted: {summary.deleted}{kept}.", file=out)
    if summary.worker_losses:
        print(f"Workers lost during the run: {summary.worker_losses} (their files were tried again).", file=out)
    if summary.report is not None:
        print(f"Needing review or failed: {summary.problems} files, listed in {summary.report}", file=out)
    if summary.totals.get(QUEUED, 0):
        print("Some files are not finished: run the same command again to resume.", file=out)
    return out.getvalue()
