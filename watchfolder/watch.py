"""`redactor watch`: privacy staff drop scans into inbox/ and get, for each one, exactly one of
    done/NAME.redacted.(png|pdf) + done/NAME.record.json   (the original deleted),
    review/NAME.ext + review/NAME.reason.txt               (needs_review: the original, moved),
    failed/NAME.ext + failed/NAME.error.txt                (not a readable document).

Crash-safety protocol
=====================
The process may die at any instant (kill -9, power cut). Every step below is ordered so that a
restart can finish the job without losing an input or turning one input into two outputs.

1. Ownership. A watcher locks processing/<wid>.lock (flock, held for its whole life; locked
   under a hidden name and renamed into place, so a visible lock is never unlocked while its
   owner lives) and keeps its claims in processing/<wid>/. The kernel drops a flock when the
   process dies, so "I can lock it" means "its owner is dead". That is what makes several
   watchers on one root (or one root shared with other services) safe.
2. Stability. An inbox file becomes a candidate once its size, mtime and inode have not changed
   for --stable-seconds. watchdog events wake the loop; a full rescan every --poll-interval
   catches what events miss (network shares). Hidden names and *.part/*.tmp/... are ignored.
3. Claim. mkdir processing/<wid>/<claim>/in/ and rename(inbox/NAME, .../in/NAME). rename() is
   atomic: of two watchers exactly one gets the file, the other gets ENOENT and moves on.
4. Name. Reserve the output stem with an O_EXCL create of processing/names/<stem> holding the
   claim id, and take it only if none of its output names exists yet, ignoring case as an SMB
   share does ("scan", else "scan-2", ...). Then write manifest.json (name, stem, attempts) atomically into the claim. The manifest fixes
   the output names, so a re-run after a crash writes over its own partial work instead of
   making a second copy. A stem's reservation is dropped only after its outputs exist.
5. Run. attempts += 1 in the manifest (a file that keeps killing the watcher goes to failed/
   after --max-attempts), then run the pipeline on the bytes.
6. Commit. First delete outputs of this stem that an earlier, interrupted attempt left in
   another place (the stem is ours, so they are ours). Then:
     done:   atomic_write done/STEM.redacted.EXT, then done/STEM.record.json (written last: a
             record means a complete pair), then unlink the original;
     review: atomic_write review/STEM.reason.txt, then move the original to review/STEM.EXT;
     failed: atomic_write failed/STEM.error.txt, then move the original to failed/STEM.EXT.
   atomic_write = temp file + fsync + rename + directory fsync. Moves are link()+unlink() (never
   overwrite; a crash in between leaves two names of one inode, which a re-run recognises), or a
   checked rename() where hard links are unsupported. So the original leaves the claim only
   after everything else is durable.
7. Tidy. Remove the reservation, then the manifest and the claim directory.

Recovery, at start and on every rescan: lock every other watcher's lock that can be locked (its
owner is dead), rename its claims into our own directory, delete it. Then for each of our claims:
  no original in in/          -> step 6 happened: only remove temp files and do step 7;
  original, no manifest       -> continue at step 4 (dropping any reservation made before the crash);
  original and manifest       -> delete atomic_write temp files of the stem, continue at step 5.
Invariant: at any instant an input is in exactly one of inbox/, a claim's in/, review/ or
failed/ (or it is deleted after done/ holds its redacted copy and record).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from redactor.config import Settings
from redactor.fsutil import atomic_write, fsync_dir
from redactor.logjson import JsonLineFormatter
from redactor.record import KeyStore, Record, RecordError, sha256_hex, utc_now
from watchfolder.review import delete_on, purge_folder, reason_text
from watchfolder.defaults import MAX_ATTEMPTS, POLL_INTERVAL, STABLE_SECONDS
from watchfolder.store import (
    DONE_FILE_MODE,
    PRIVATE_FILE_MODE,
    Claim,
    ConfigError,
    Manifest,
    NameTaken,
    NotRegularFile,
    Outputs,
    Owner,
    WatchDirs,
    adopt_abandoned,
    claim_file,
    is_candidate_name,
    is_link_of,
    list_claims,
    move_no_clobber,
    read_original,
    release_reservations,
    remove_claim_dir,
    reserve_stem,
)

if TYPE_CHECKING:  # the pipeline imports the OCR/face stacks (~1.5 s); `redactor --help` must not wait
    from redactor.pipeline import Engines, Outcome

log = logging.getLogger("redactor.watch")

Destination = Literal["done", "review", "failed"]


class WatchSettings(BaseSettings):
    """REDACTOR_WATCH_* variables; command-line options win over them."""

    model_config = SettingsConfigDict(env_prefix="REDACTOR_WATCH_", extra="ignore")

    root: Path | None = None
    inbox: Path | None = None
    processing: Path | None = None
    done: Path | None = None
    review: Path | None = None
    failed: Path | None = None
    poll_interval: float = Field(POLL_INTERVAL, gt=0)
    stable_seconds: float = Field(STABLE_SECONDS, ge=0)
    max_attempts: int = Field(MAX_ATTEMPTS, ge=1)
    purpose: str | None = None


@dataclass(frozen=True)
class Verdict:
    """Where one document goes and what is written there."""

    destination: Destination
    status: str  # the pipeline status, or "error" when the pipeline could not run
    note: str = ""  # review/…reason.txt or failed/…error.txt
    output: bytes | None = None
    extension: str | None = None
    record: dict[str, Any] | None = None
    reject_code: str | None = None


@dataclass(frozen=True)
class DocResult:
    """What happened to one claimed file; `paths` are its final files (never logged: they carry names)."""

    claim_id: str
    stem: str  # the output name without extension (done/STEM.*, review/STEM.*, failed/STEM.*)
    destination: Destination
    status: str
    seconds: float
    attempts: int
    redactions: dict[str, int]
    record_id: str | None
    reject_code: str | None
    paths: tuple[Path, ...]


class EnginesUnavailable(Exception):
    """The OCR/face models could not be loaded: stop instead of failing every document."""


@dataclass
class ClaimContext:
    """Everything `process_claim` needs; `on_step` is called after each durable step (tests use it
    to stop the work exactly there, as a crash would)."""

    dirs: WatchDirs
    engines: Callable[[], "Engines"]
    keys: KeyStore
    settings: Settings
    max_attempts: int = MAX_ATTEMPTS
    purpose: str | None = None
    on_step: Callable[[str], None] | None = None

    def step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)


# --- one document ----------------------------------------------------------------------------


def _bullets(reasons: list[str]) -> str:
    return "".join(f"- {r}\n" for r in reasons) or "- (no reason given)\n"


def _typed(record: dict[str, Any] | None) -> Record | None:
    """The record as a Record; None when it is missing or malformed (then nothing is published)."""
    try:
        return Record.parse(record) if record else None
    except RecordError:
        return None


def verdict_from_outcome(outcome: "Outcome", name: str, retention_days: float = 7.0) -> Verdict:
    record = outcome.record or {}
    typed = _typed(outcome.record)
    record_id = typed.record_id if typed else None
    if outcome.status == "redacted":
        output = outcome.output
        # Publish only what the signed record describes; anything else goes to a human.
        if output and outcome.extension in ("png", "pdf") and typed and typed.redacted_sha256 == sha256_hex(output):
            return Verdict("done", "redacted", output=output, extension=outcome.extension, record=record)
        reasons = ["the redacted copy did not match its verification record, so it was not published"]
        status = "needs_review"
    elif outcome.status == "needs_review":
        reasons, status = outcome.reasons, "needs_review"
    elif outcome.status == "rejected":
        note = (
            f"This file could not be processed as an identity document ({outcome.reject_code or 'rejected'}).\n"
            f"Nothing was published. Original file name: {name}\nRecord id: {record_id or '-'}\n"
            f"Reasons:\n{_bullets(outcome.reasons)}"
        )
        return Verdict("failed", "rejected", note=note, record=record, reject_code=outcome.reject_code)
    else:
        reasons, status = [f"unexpected pipeline status {outcome.status!r}"], "needs_review"
    note = reason_text(name, reasons, record_id, delete_on(utc_now(), retention_days))
    return Verdict("review", status, note=note, record=record)


def _failed(name: str, why: str) -> Verdict:
    return Verdict("failed", "error", note=f"{why}\nNothing was published. Original file name: {name}\n")


def _decide(original: Path, manifest: Manifest, engines: "Engines", ctx: ClaimContext) -> Verdict:
    if manifest.attempts > ctx.max_attempts:
        return _failed(
            manifest.name,
            f"The watcher stopped {manifest.attempts - 1} times while processing this file, so it was set "
            "aside to let the other files through. Move it back into inbox/ to try again.",
        )
    try:
        # One byte over the limit is enough for the pipeline to say "too_large".
        data = read_original(original, ctx.settings.max_bytes + 1)
    except NotRegularFile:
        return _failed(manifest.name, "This is not a regular file (a link, folder or device), so it was not read.")
    except OSError as exc:
        return _failed(manifest.name, f"The file could not be read: {exc.strerror or exc.__class__.__name__}.")
    from redactor.pipeline import redact_document

    try:
        outcome = redact_document(
            data, engines=engines, keys=ctx.keys, settings=ctx.settings, purpose=ctx.purpose
        )
    except Exception as exc:  # the pipeline promises not to raise; if it does, never lose the file
        return _failed(manifest.name, f"The redaction pipeline failed on this file ({exc.__class__.__name__}).")
    return verdict_from_outcome(outcome, manifest.name, ctx.settings.review_retention_days)


def _destination(verdict: Verdict, outs: Outputs, dirs: WatchDirs) -> tuple[Path, Path]:
    """The two files a verdict leaves: (written file, record or moved original)."""
    if verdict.destination == "done":
        if not verdict.output or verdict.extension is None:
            raise ValueError("a done verdict needs output bytes")  # verdict_from_outcome never builds one
        return outs.redacted(verdict.extension), outs.record
    if verdict.destination == "review":
        return outs.reason, outs.original_in(dirs.review)
    return outs.error, outs.original_in(dirs.failed)


def _clear_leftovers(original: Path, outs: Outputs, keep: tuple[Path, Path], dirs: WatchDirs) -> None:
    """Delete what an earlier attempt of this claim left in another place (the stem is reserved for us)."""
    removed = False
    for path in outs.written():
        if path not in keep and os.path.lexists(path):
            path.unlink()
            removed = True
    for path in outs.moved_originals():
        if path not in keep and is_link_of(path, original):
            path.unlink()
            removed = True
    if removed:
        for directory in (dirs.done, dirs.review, dirs.failed):
            fsync_dir(directory)


def _publish(claim: Claim, original: Path, keep: tuple[Path, Path], verdict: Verdict, ctx: ClaimContext) -> None:
    """done/: the redacted copy, then the record (a record means a complete pair), then drop the original."""
    atomic_write(keep[0], verdict.output or b"", DONE_FILE_MODE)
    ctx.step("wrote_output")
    record = json.dumps(verdict.record, indent=2, ensure_ascii=False).encode() + b"\n"
    atomic_write(keep[1], record, DONE_FILE_MODE)
    ctx.step("wrote_record")
    original.unlink()
    fsync_dir(claim.in_dir)
    ctx.step("removed_original")


def _set_aside(original: Path, keep: tuple[Path, Path], verdict: Verdict, ctx: ClaimContext) -> None:
    """review/ or failed/: the note, then the original moved next to it (never overwriting)."""
    atomic_write(keep[0], verdict.note.encode("utf-8", "surrogateescape"), PRIVATE_FILE_MODE)
    ctx.step("wrote_note")
    if not original.is_symlink():
        os.chmod(original, PRIVATE_FILE_MODE)  # an unredacted original: owner only
    move_no_clobber(original, keep[1])
    ctx.step("moved_original")


def _commit(claim: Claim, original: Path, outs: Outputs, verdict: Verdict, ctx: ClaimContext) -> tuple[Path, ...]:
    keep = _destination(verdict, outs, ctx.dirs)
    _clear_leftovers(original, outs, keep, ctx.dirs)
    ctx.step("cleared")
    if verdict.destination == "done":
        _publish(claim, original, keep, verdict, ctx)
    else:
        _set_aside(original, keep, verdict, ctx)
    return keep


def _commit_under_free_name(
    claim: Claim, original: Path, manifest: Manifest, verdict: Verdict, ctx: ClaimContext
) -> tuple[Path, ...]:
    """Commit; if someone put a file under our reserved name by hand, undo our part and take the next name."""
    for _ in range(3):
        outs = Outputs(manifest.stem, manifest.ext, ctx.dirs)
        try:
            return _commit(claim, original, outs, verdict, ctx)
        except NameTaken:
            for path in outs.written():
                path.unlink(missing_ok=True)
            stem, ext = reserve_stem(ctx.dirs, claim, manifest.name)
            release_reservations(ctx.dirs, claim, keep=stem)
            manifest.stem, manifest.ext = stem, ext
            manifest.save(claim)
    raise NameTaken("no free output name after three tries")


def _tidy_committed(claim: Claim, manifest: Manifest | None, dirs: WatchDirs) -> None:
    """Step 7 for a claim whose original already left (the crash came after the commit)."""
    if manifest is not None:
        Outputs(manifest.stem, manifest.ext, dirs).remove_temp_files()
    release_reservations(dirs, claim)
    remove_claim_dir(claim)


def _start_attempt(claim: Claim, original: Path, manifest: Manifest | None, ctx: ClaimContext) -> Manifest:
    """Steps 4-5: fix the output name (new claim) or resume it (crashed claim), then count the attempt."""
    if manifest is None:
        release_reservations(ctx.dirs, claim)  # a reservation made before a crash, with no manifest
        stem, ext = reserve_stem(ctx.dirs, claim, original.name)
        ctx.step("reserved")
        manifest = Manifest(name=original.name, stem=stem, ext=ext)
    else:
        release_reservations(ctx.dirs, claim, keep=manifest.stem)
        Outputs(manifest.stem, manifest.ext, ctx.dirs).remove_temp_files()
    manifest.attempts += 1
    manifest.save(claim)
    ctx.step("manifest")
    return manifest


def _result(claim: Claim, verdict: Verdict, manifest: Manifest, seconds: float, paths: tuple[Path, ...]) -> DocResult:
    record = _typed(verdict.record)
    kinds = record.kind_counts() if record else {}
    return DocResult(
        claim_id=claim.id,
        stem=manifest.stem,
        destination=verdict.destination,
        status=verdict.status,
        seconds=round(seconds, 3),
        attempts=manifest.attempts,
        redactions=dict(sorted(kinds.items())),
        record_id=record.record_id if record else None,
        reject_code=verdict.reject_code,
        paths=paths,
    )


def process_claim(claim: Claim, ctx: ClaimContext) -> DocResult | None:
    """Finish one claimed file, whatever state an earlier (crashed) attempt left it in.

    Returns None when there was nothing left to process (the crash came after the commit).
    Raises on I/O trouble (disk full, permissions): the claim then stays for the next sweep.
    """
    started = time.monotonic()
    original = claim.original()
    manifest = Manifest.load(claim)
    if original is None:
        _tidy_committed(claim, manifest, ctx.dirs)
        return None
    engines = ctx.engines()  # before counting an attempt: a missing model is not the file's fault
    manifest = _start_attempt(claim, original, manifest, ctx)
    verdict = _decide(original, manifest, engines, ctx)
    paths = _commit_under_free_name(claim, original, manifest, verdict, ctx)
    release_reservations(ctx.dirs, claim)
    ctx.step("released")
    remove_claim_dir(claim)
    return _result(claim, verdict, manifest, time.monotonic() - started, paths)


def loggable_stem(stem: str) -> str:
    """The output stem as logged: staff can find the files, but a run of 8 or more digits (a BSN
    or document number someone typed into the file name) is masked, so the log never holds one."""
    return _NUMBER_RUN.sub(lambda m: "#" * len(m.group()), stem)


_NUMBER_RUN = re.compile(r"\d(?:[ ._-]?\d){7,}")


# --- the loop --------------------------------------------------------------------------------


@dataclass
class _Seen:
    signature: tuple[int, int, int]
    since: float
    skip: bool = False  # claiming failed for this version of the file; retry once it changes


@dataclass
class StabilityTracker:
    """Decides when an inbox file is complete: unchanged size, mtime and inode for `window` seconds."""

    window: float
    seen: dict[str, _Seen] = field(default_factory=dict)

    def scan(self, inbox: Path, now: float) -> tuple[list[str], float | None]:
        """Names ready to claim (oldest first), and when the next still-changing file may be ready."""
        ready: list[tuple[float, str]] = []
        next_due: float | None = None
        present: set[str] = set()
        for entry in os.scandir(inbox):
            if not is_candidate_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.is_dir(follow_symlinks=False):
                continue  # folders are not documents; staff see them stay
            present.add(entry.name)
            signature = (st.st_size, st.st_mtime_ns, st.st_ino)
            seen = self.seen.get(entry.name)
            if seen is None or seen.signature != signature:
                seen = self.seen[entry.name] = _Seen(signature, now)
            if seen.skip:
                continue
            due = seen.since + self.window
            if now >= due:
                ready.append((seen.since, entry.name))
            else:
                next_due = due if next_due is None else min(next_due, due)
        for name in set(self.seen) - present:
            del self.seen[name]
        return [name for _, name in sorted(ready)], next_due

    def skip(self, name: str) -> None:
        if name in self.seen:
            self.seen[name].skip = True

    def forget(self, name: str) -> None:
        self.seen.pop(name, None)


def _start_observer(inbox: Path, wake: threading.Event) -> Any:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            wake.set()

    observer = Observer()
    observer.daemon = True
    try:
        observer.schedule(Handler(), str(inbox), recursive=False)
        observer.start()
    except OSError as exc:  # e.g. inotify watch limit: the periodic rescan still works
        log.warning("watch_events_unavailable", extra={"fields": {"error": exc.__class__.__name__}})
        return None
    return observer


@dataclass
class WatchConfig:
    poll_interval: float = POLL_INTERVAL
    stable_seconds: float = STABLE_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    purpose: str | None = None


class _LazyEngines:
    """Loads the models on first use (a cron run with an empty inbox never pays for them)."""

    def __init__(self, load: Callable[[], "Engines"]) -> None:
        self._load = load
        self._engines: "Engines | None" = None

    def __call__(self) -> "Engines":
        if self._engines is None:
            started = time.monotonic()
            try:
                self._engines = self._load()
            except Exception as exc:
                raise EnginesUnavailable(exc.__class__.__name__) from exc
            log.info("engines_loaded", extra={"fields": {"seconds": round(time.monotonic() - started, 3)}})
        return self._engines


def _load_engines() -> "Engines":
    from redactor.pipeline import Engines

    return Engines.load()


class Watcher:
    def __init__(
        self,
        dirs: WatchDirs,
        config: WatchConfig,
        settings: Settings,
        stop: threading.Event,
        load_engines: Callable[[], "Engines"] | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.dirs = dirs
        self.config = config
        self.settings = settings
        self.stop = stop
        self.wake = threading.Event()
        self.engines = _LazyEngines(load_engines or _load_engines)
        self.on_step = on_step  # see ClaimContext.on_step (the crash test kills the process there)
        self.errors = 0
        self.processed = 0

    def _context(self) -> ClaimContext:
        return ClaimContext(
            dirs=self.dirs,
            engines=self.engines,
            keys=KeyStore(self.settings.key_dir),
            settings=self.settings,
            max_attempts=self.config.max_attempts,
            purpose=self.config.purpose,
            on_step=self.on_step,
        )

    def _handle(self, claim: Claim, ctx: ClaimContext, recovered: bool) -> None:
        try:
            result = process_claim(claim, ctx)
        except EnginesUnavailable:
            raise
        except Exception as exc:
            self.errors += 1
            # The claim stays in processing/ and is retried on the next sweep.
            log.error("document_error", extra={"fields": {"claim": claim.id, "error": exc.__class__.__name__}})
            return
        if result is None:
            return
        self.processed += 1
        log.info(
            "document",
            extra={
                "fields": {
                    "claim": result.claim_id,
                    "output": loggable_stem(result.stem),
                    "outcome": result.status,
                    "destination": result.destination,
                    "seconds": result.seconds,
                    "redactions": result.redactions,
                    "record_id": result.record_id,
                    "reject_code": result.reject_code,
                    "attempt": result.attempts,
                    "recovered": recovered,
                }
            },
        )

    def _sweep(self, owner: Owner, ctx: ClaimContext) -> None:
        adopted = adopt_abandoned(owner)
        if adopted:
            log.warning("adopted_claims", extra={"fields": {"count": adopted}})
        # Originals nobody finished are deleted after the retention period, reason file and all.
        cutoff = utc_now() - timedelta(days=self.settings.review_retention_days)
        purged = purge_folder(self.dirs.review, cutoff)
        if purged:
            log.info("review_purged", extra={"fields": {"count": purged, "retention_days": self.settings.review_retention_days}})
        for claim in list_claims(owner):
            if self.stop.is_set():
                return
            self._handle(claim, ctx, recovered=True)

    def _sweep_if_due(self, owner: Owner, ctx: ClaimContext, next_sweep: float) -> float:
        """Recover dead watchers' and our own unfinished claims every poll interval; returns the next due time."""
        if time.monotonic() < next_sweep:
            return next_sweep
        self._sweep(owner, ctx)
        return time.monotonic() + self.config.poll_interval

    def _claim_and_process(self, names: list[str], owner: Owner, ctx: ClaimContext, tracker: StabilityTracker) -> None:
        for name in names:
            if self.stop.is_set():
                return
            try:
                claim = claim_file(self.dirs.inbox / name, owner)
            except OSError as exc:
                tracker.skip(name)
                log.warning("claim_failed", extra={"fields": {"error": exc.__class__.__name__}})
                continue
            tracker.forget(name)
            if claim is not None:  # None: another watcher was faster
                self._handle(claim, ctx, recovered=False)

    def _idle(self, deadline: float) -> None:
        # Short slices: a signal handler only sets `stop`, and a busy writer must not spin us.
        self.wake.wait(max(0.05, min(0.5, deadline - time.monotonic())))
        self.wake.clear()

    def _loop(self, owner: Owner, once: bool) -> None:
        ctx = self._context()
        tracker = StabilityTracker(self.config.stable_seconds)
        next_sweep = 0.0
        while not self.stop.is_set():
            try:
                next_sweep = self._sweep_if_due(owner, ctx, next_sweep)
                ready, next_due = tracker.scan(self.dirs.inbox, time.monotonic())
            except OSError as exc:  # e.g. the share went away: keep trying, the files are safe
                self.errors += 1
                log.error("scan_error", extra={"fields": {"error": exc.__class__.__name__}})
                if once:
                    return
                self.stop.wait(self.config.poll_interval)
                continue
            if ready:
                self._claim_and_process(ready, owner, ctx, tracker)
                continue  # rescan at once: more may have become stable meanwhile
            if once and next_due is None:
                return
            self._idle(min(next_sweep, next_due if next_due is not None else next_sweep))

    def run(self, once: bool = False) -> int:
        """Process until stopped (or, with `once`, until the inbox holds no more candidates)."""
        self.dirs.prepare()
        owner = Owner.acquire(self.dirs.processing)
        observer = None if once else _start_observer(self.dirs.inbox, self.wake)
        log.info(
            "watch_started",
            extra={
                "fields": {"watcher": owner.wid, "root": self.dirs.root(), "inbox": str(self.dirs.inbox), "once": once}
            },
        )
        try:
            self._loop(owner, once)
        except EnginesUnavailable as exc:
            log.error("engines_unavailable", extra={"fields": {"error": str(exc)}})
            return 1
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=2)
            owner.release()
        log.info("watch_stopped", extra={"fields": {"processed": self.processed, "errors": self.errors}})
        return 1 if once and self.errors else 0


# --- command line ----------------------------------------------------------------------------


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:  # the caller (CLI, tests) may have set logging up already
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def _error(message: str) -> int:
    print(f"redactor watch: {message}", file=sys.stderr)
    return 2


def _configure(args: argparse.Namespace) -> tuple[WatchDirs, WatchConfig, Settings]:
    """Options win over REDACTOR_WATCH_* variables, which win over watchfolder.defaults."""
    try:
        env = WatchSettings()
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid REDACTOR_* setting: {problems}") from None

    def pick(name: str) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else getattr(env, name)

    dirs = WatchDirs.under(pick("root"), **{n: pick(n) for n in ("inbox", "processing", "done", "review", "failed")})
    config = WatchConfig(
        poll_interval=pick("poll_interval"),
        stable_seconds=pick("stable_seconds"),
        max_attempts=pick("max_attempts"),
        purpose=pick("purpose"),
    )
    return dirs, config, settings


def run_command(args: argparse.Namespace, on_step: Callable[[str], None] | None = None) -> int:
    """`redactor watch` after parsing (watchfolder.cli). `on_step`: see ClaimContext."""
    try:
        dirs, config, settings = _configure(args)
    except ConfigError as exc:
        return _error(str(exc))
    _setup_logging(getattr(args, "log_level", "INFO"))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()  # finish the current document, then exit

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        # run() prepares the directories; a ConfigError from there is reported here.
        return Watcher(dirs, config, settings, stop, on_step=on_step).run(once=bool(getattr(args, "once", False)))
    except ConfigError as exc:
        return _error(str(exc))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
