"""What runs in a worker (a local process or a Ray actor): one original in, its outputs durably
on disk, a small Result back to the driver. The driver alone writes the manifest.

For the original at SOURCE/<path>, exactly one of these ends up under DEST:
    <path>.redacted.png|pdf + <path>.record.json     (redacted: the record written last)
    _review/<path>.reason.txt                          (needs_review: the original stays)
    _failed/<path>.reason.txt                          (not a document: the original stays)
Before writing, whatever an earlier, interrupted or differently decided attempt left for this
path (outputs of another state, atomic_write temp files) is removed, so a redo after a crash
never leaves two states. Output names carry the original's extension (`scan.jpg.redacted.png`),
so `scan.jpg` and `scan.pdf` in one folder do not share outputs, and names need no reservation.

Module-level imports stay light: a spawned local worker imports this module before it has
limited its threads, and the driver imports it for the dataclasses.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal

from redactor.config import Settings
from redactor.fsutil import atomic_write, fsync_dir
from sweep.source import DirSource, NotRegularFile, Original, S3Source, mirrored

if TYPE_CHECKING:
    from redactor.pipeline import Engines, Outcome

log = logging.getLogger("redactor.sweep.worker")

Status = Literal["done", "needs_review", "failed"]
REVIEW_DIR, FAILED_DIR = "_review", "_failed"
# Redacted copies may be shared with colleagues; notes name the original, which may hold a BSN.
PUBLISHED_MODE, NOTE_MODE = 0o640, 0o600


class WorkerSetupError(Exception):
    """A worker cannot start (e.g. this machine has no signing key); the message says why."""


class DocumentTimeout(BaseException):
    """The document's time ran out. A BaseException so no `except Exception` in the pipeline
    swallows it and carries on."""


@dataclass(frozen=True)
class Job:
    """What every document of one sweep shares, sent once to each worker."""

    source: DirSource | S3Source
    dest: Path
    settings: Settings
    purpose: str | None = None
    time_limit: float = 600.0  # seconds for one document


@dataclass(frozen=True)
class Task:
    row_id: int
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Result:
    """The outcome for one task. `status` None: the work could not be finished (`error` names
    the exception class); nothing of it counts and the driver tries again."""

    row_id: int
    status: Status | None
    reasons: tuple[str, ...] = ()
    record_id: str | None = None
    sha256: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    extension: str | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    kid: str  # the signing key this worker signs with (the driver checks it is its own)


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]
    record: dict[str, Any] | None = None
    output: bytes | None = None
    extension: str | None = None
    note: str = ""


# --- where one original's outputs go -----------------------------------------------------------


@dataclass(frozen=True)
class Outputs:
    dest: Path
    path: str

    def redacted(self, extension: str) -> Path:
        return mirrored(self.dest, self.path, f".redacted.{extension}")

    @property
    def record(self) -> Path:
        return mirrored(self.dest, self.path, ".record.json")

    def note(self, status: Status) -> Path:
        return mirrored(self.dest, self.path, ".reason.txt", REVIEW_DIR if status == "needs_review" else FAILED_DIR)

    def every(self) -> list[Path]:
        return [self.redacted("png"), self.redacted("pdf"), self.record, self.note("needs_review"), self.note("failed")]

    def published(self, extension: str | None) -> bool:
        return extension is not None and self.redacted(extension).is_file() and self.record.is_file()

    def clear(self, keep: tuple[Path, ...]) -> None:
        """Remove what an earlier attempt left: temp files of every output, outputs not in `keep`."""
        touched: set[Path] = set()
        for path in self.every():
            for temp in glob.glob(glob.escape(str(path.parent / f".{path.name}.")) + "*.part"):
                os.unlink(temp)
                touched.add(path.parent)
            if path not in keep and os.path.lexists(path):
                path.unlink()
                touched.add(path.parent)
        for directory in touched:
            fsync_dir(directory)


# --- deciding --------------------------------------------------------------------------------


def _bullets(reasons: tuple[str, ...]) -> str:
    return "".join(f"- {r}\n" for r in reasons) or "- (no reason given)\n"


def _plain_words(reasons: tuple[str, ...]) -> str:
    """What is wrong, in Dutch and English (redactor/reasons.py). Not the review station's
    next steps: an archive's originals stay where they are, outside its queue."""
    from redactor.reasons import explain_all

    return "".join(f"- {e.text['nl']}\n  {e.text['en']}\n" for e in explain_all(list(reasons)))


def _note(status: Status, path: str, record_id: str | None, reasons: tuple[str, ...], code: str | None) -> str:
    if status == "needs_review":
        head = "This document needs a manual check; nothing was published."
        explained = f"In plain words / in gewone woorden:\n{_plain_words(reasons)}"
    else:
        head = f"This file could not be processed as an identity document ({code or 'error'}); nothing was published."
        explained = ""
    return (
        f"{head}\nThe original stays where it is: {path}\n"
        f"Record id: {record_id or '-'}\nReasons:\n{_bullets(reasons)}{explained}"
    )


def verdict_from_outcome(outcome: "Outcome", path: str) -> Verdict:
    """The pipeline's outcome as a sweep state, with the fail-closed rule of every door: publish
    only what the signed record describes."""
    from redactor.record import Record, RecordError, sha256_hex

    try:
        record = Record.parse(outcome.record)
    except RecordError:
        record = None
    record_id = record.record_id if record else None
    if outcome.status == "redacted":
        output = outcome.output
        if output and outcome.extension in ("png", "pdf") and record and record.redacted_sha256 == sha256_hex(output):
            return Verdict("done", (), outcome.record, output, outcome.extension)
        reasons: tuple[str, ...] = ("the redacted copy did not match its verification record, so it was not published",)
        return Verdict("needs_review", reasons, outcome.record, note=_note("needs_review", path, record_id, reasons, None))
    if outcome.status == "rejected":
        reasons = tuple(outcome.reasons)
        note = _note("failed", path, record_id, reasons, outcome.reject_code or "rejected")
        return Verdict("failed", reasons, outcome.record, note=note)
    reasons = tuple(outcome.reasons) if outcome.status == "needs_review" else (f"unexpected pipeline status {outcome.status!r}",)
    return Verdict("needs_review", reasons, outcome.record, note=_note("needs_review", path, record_id, reasons, None))


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise DocumentTimeout after `seconds` (SIGALRM: Python code only; a C call that never
    returns is cut off by the local pool's own deadline)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise DocumentTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Worker:
    """Loads the models once (per process or actor) and handles one task at a time."""

    def __init__(self, job: Job, threads: int) -> None:
        self.job = job
        _quiet_logging()
        from redactor.pipeline import Engines
        from redactor.record import KeyStore

        key_dir = Path(job.settings.key_dir)
        if not (key_dir / "current.jwk").is_file():
            # Never make a key of our own here: records of one sweep must all verify with one JWKS.
            raise WorkerSetupError(f"no signing key in {key_dir} on this machine (REDACTOR_KEY_DIR); share it with every node")
        self.keys = KeyStore(key_dir)
        self.engines: Engines = Engines.load(threads)

    def ready(self) -> WorkerInfo:
        kid = self.keys.signing_key().kid
        return WorkerInfo(os.getpid(), str(kid))

    def process(self, task: Task) -> Result:
        started = time.monotonic()
        outputs = Outputs(self.job.dest, task.path)
        try:
            verdict, original = self._decide(task)
            _commit(verdict, outputs)
        except Exception as exc:  # I/O trouble (disk full, share gone): nothing counts, retried
            return Result(task.row_id, None, seconds=time.monotonic() - started, error=exc.__class__.__name__)
        return Result(
            row_id=task.row_id,
            status=verdict.status,
            reasons=verdict.reasons,
            record_id=(verdict.record or {}).get("record_id"),
            sha256=original.sha256 if original else None,
            size=original.size if original else None,
            mtime_ns=original.mtime_ns if original else None,
            extension=verdict.extension,
            seconds=round(time.monotonic() - started, 3),
        )

    def _decide(self, task: Task) -> tuple[Verdict, Original | None]:
        settings = self.job.settings
        try:
            # One byte over the limit is enough for the pipeline to say "too_large".
            original = self.job.source.read(task.path, settings.max_bytes + 1)
        except NotRegularFile:
            return self._failed(task, "This is not a regular file (a link, FIFO or device), so it was not read."), None
        except FileNotFoundError:
            return self._failed(task, "The file was gone when it was to be read."), None
        from redactor.pipeline import redact_document

        try:
            with time_limit(self.job.time_limit):
                outcome = redact_document(
                    original.data, engines=self.engines, keys=self.keys, settings=settings, purpose=self.job.purpose
                )
        except DocumentTimeout:
            reason = f"The analysis took longer than {self.job.time_limit:g} seconds; a person must check this document."
            return self._signed_verdict(task, "needs_review", reason), original
        except Exception as exc:  # the pipeline promises not to raise; if it does, never publish
            reason = f"The redaction pipeline failed on this file ({exc.__class__.__name__})."
            return self._signed_verdict(task, "failed", reason), original
        return verdict_from_outcome(outcome, task.path), original

    def _signed_verdict(self, task: Task, status: Status, reason: str) -> Verdict:
        from redactor.record import build_record

        record = self.keys.sign(build_record(status="rejected" if status == "failed" else status, reasons=[reason]))
        note = _note(status, task.path, record["record_id"], (reason,), "error")
        return Verdict(status, (reason,), record, note=note)

    def _failed(self, task: Task, reason: str) -> Verdict:
        return Verdict("failed", (reason,), note=_note("failed", task.path, None, (reason,), "unreadable"))


def _commit(verdict: Verdict, outputs: Outputs) -> None:
    """Clear, then write atomically (temp file, fsync, rename, directory fsync); for a redacted
    document the copy first and the record last, so a record always has its file."""
    if verdict.status == "done":
        assert verdict.output is not None and verdict.extension is not None
        copy, record = outputs.redacted(verdict.extension), outputs.record
        outputs.clear(keep=(copy, record))
        copy.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(copy, verdict.output, PUBLISHED_MODE)
        atomic_write(record, json.dumps(verdict.record, indent=2, ensure_ascii=False).encode() + b"\n", PUBLISHED_MODE)
        return
    note = outputs.note(verdict.status)
    outputs.clear(keep=(note,))
    note.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(note, verdict.note.encode("utf-8", "surrogateescape"), NOTE_MODE)


def _quiet_logging() -> None:
    """Worker log lines as JSON on stderr, warnings and up, exception types only (no traceback:
    its text could quote a document)."""
    from redactor.logjson import JsonLineFormatter

    root = logging.getLogger()
    if not any(getattr(h, "_sweep", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLineFormatter())
        handler._sweep = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.WARNING)


# --- local process pool: the per-process worker ------------------------------------------------

# A process pool hands state from its initializer to later tasks only through the process's
# globals; this one is set once per worker process and never in the driver.
_PROCESS_WORKER: "Worker | WorkerSetupError | None" = None


def init_process(job: Job, threads: int) -> None:
    """Initializer of a local worker process (spawned): die with the driver, limit threads,
    load the models. A failure is kept and reported by every call, not raised here (a raising
    initializer would make the pool restart the process forever)."""
    global _PROCESS_WORKER
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    try:
        _PROCESS_WORKER = Worker(job, threads)
    except WorkerSetupError as exc:
        _PROCESS_WORKER = exc
    except Exception as exc:  # noqa: BLE001 - e.g. a model file missing: reported, no traceback
        _PROCESS_WORKER = WorkerSetupError(f"the models could not be loaded ({exc.__class__.__name__}: {exc})")


def _process_worker() -> Worker:
    if isinstance(_PROCESS_WORKER, Worker):
        return _PROCESS_WORKER
    raise _PROCESS_WORKER or WorkerSetupError("worker not initialised")


def process_ready() -> WorkerInfo:
    return _process_worker().ready()


def process_task(task: Task) -> Result:
    return _process_worker().process(task)


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the driver dies, however it dies, so no orphan
    keeps writing while a restarted sweep redoes the same file."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the driver died before prctl took effect
        os._exit(1)
