"""The sweep's manifest: one row per source file (path, size, mtime, SHA-256, status, record id,
reasons, attempts). SQLite at DEST/_sweep.sqlite by default, or any SQLAlchemy database URL.

A row is `queued` until its outputs are durably on disk; only then does the driver move it to
`done`, `needs_review` or `failed`. A crash in between leaves it `queued`, and the next run
redoes it (outputs are written by atomic renames, so the redo overwrites nothing half-written).
A file counts as already handled when its path, size and mtime equal its row's.
The driver is the only writer (DEST/_sweep.lock keeps a second driver out).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from sweep.source import SourceFile, is_safe_relative
from sweep.work import Result

QUEUED, DONE, NEEDS_REVIEW, FAILED = "queued", "done", "needs_review", "failed"
FINAL = (DONE, NEEDS_REVIEW, FAILED)
UNSAFE_NAME = (
    "The name cannot be mirrored under DEST (it is empty, holds '.', '..' or '//' parts, or is not "
    "valid UTF-8); nothing was read. Rename it and run the sweep again."
)

metadata = MetaData()
files = Table(
    "sweep_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", Text, nullable=False, unique=True),  # relative to SOURCE, '/'-separated
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("sha256", String(64)),
    Column("status", String(16), nullable=False),
    Column("record_id", String(64)),
    Column("reasons", Text, nullable=False),  # JSON list of sentences
    Column("attempts", Integer, nullable=False),
    Column("extension", String(8)),  # png or pdf when done
    Column("original_deleted", Boolean, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_sweep_files_status_id", "status", "id"),
)
meta = Table(
    "sweep_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


class ManifestError(Exception):
    """The manifest cannot be used; the message is meant for the operator."""


@dataclass(frozen=True)
class Entry:
    id: int
    path: str
    size: int
    mtime_ns: int
    status: str
    attempts: int
    record_id: str | None = None
    reasons: tuple[str, ...] = ()
    extension: str | None = None
    original_deleted: bool = False
    sha256: str | None = None

    @classmethod
    def of(cls, row: Any) -> "Entry":
        return cls(
            id=row.id,
            path=row.path,
            size=row.size,
            mtime_ns=row.mtime_ns,
            status=row.status,
            attempts=row.attempts,
            record_id=row.record_id,
            reasons=tuple(json.loads(row.reasons or "[]")),
            extension=row.extension,
            original_deleted=bool(row.original_deleted),
            sha256=row.sha256,
        )


@dataclass
class Reconciled:
    """What a page of the listing meant for the manifest."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    retried: int = 0
    deletable: list[Entry] = field(default_factory=list)  # done, original still there, unchanged


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_url(dest: Path) -> str:
    return f"sqlite:///{(dest / '_sweep.sqlite').absolute()}"


def _durable_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
        cursor.close()


def _private_sqlite_file(url: str) -> None:
    """The manifest names originals (names may hold a BSN): owner-only, created before SQLite does."""
    path = url.removeprefix("sqlite:///")
    if path and path != url and not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


class Manifest:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> "Manifest":
        try:
            if url.startswith("sqlite:///"):
                _private_sqlite_file(url)
            engine = create_engine(url, future=True)
            if engine.dialect.name == "sqlite":
                _durable_sqlite(engine)
            metadata.create_all(engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise ManifestError(f"cannot open the manifest: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def bind_source(self, identity: str) -> None:
        """One manifest (and one DEST) per source: a second source would mix two trees."""
        with self.engine.begin() as conn:
            known = conn.execute(select(meta.c.value).where(meta.c.key == "source")).scalar_one_or_none()
            if known is None:
                conn.execute(meta.insert().values(key="source", value=identity))
            elif known != identity:
                raise ManifestError(f"this DEST holds the sweep of {known}; use another --out for {identity}")

    def reconcile(self, listed: list[SourceFile], retry_failed: bool = False) -> Reconciled:
        """Add new files as queued, queue files whose size or mtime changed, leave the rest."""
        outcome = Reconciled()
        with self.engine.begin() as conn:
            rows = conn.execute(select(files).where(files.c.path.in_([f.path for f in listed])))
            known = {row.path: Entry.of(row) for row in rows}
            inserts: list[dict[str, Any]] = []
            for item in listed:
                entry = known.get(item.path)
                safe = item.mirrorable and is_safe_relative(item.path)
                status, reasons = (QUEUED, []) if safe else (FAILED, [UNSAFE_NAME])
                fresh = {"size": item.size, "mtime_ns": item.mtime_ns, "status": status, "reasons": json.dumps(reasons),
                         "attempts": 0, "sha256": None, "record_id": None, "extension": None,
                         "original_deleted": False, "updated_at": _now()}
                if entry is None:
                    inserts.append({"path": item.path, **fresh})
                    outcome.new += 1
                elif (entry.size, entry.mtime_ns) != (item.size, item.mtime_ns):
                    conn.execute(update(files).where(files.c.id == entry.id).values(**fresh))
                    outcome.changed += 1
                elif retry_failed and entry.status == FAILED and status == QUEUED:
                    conn.execute(update(files).where(files.c.id == entry.id).values(**fresh))
                    outcome.retried += 1
                else:
                    outcome.unchanged += 1
                    if entry.status == DONE and not entry.original_deleted:
                        outcome.deletable.append(entry)
            if inserts:
                conn.execute(files.insert(), inserts)
        return outcome

    def queued(self, after_id: int, limit: int) -> list[Entry]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(files).where(files.c.status == QUEUED, files.c.id > after_id).order_by(files.c.id).limit(limit)
            )
            return [Entry.of(r) for r in rows]

    def count(self, status: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(files).where(files.c.status == status)).scalar_one())

    def totals(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(files.c.status, func.count()).group_by(files.c.status))
            return {status: int(n) for status, n in rows}

    def get(self, row_id: int) -> Entry:
        with self.engine.connect() as conn:
            return Entry.of(conn.execute(select(files).where(files.c.id == row_id)).one())

    def begin_attempt(self, row_id: int) -> None:
        """Counted before the work starts, so a file that keeps killing workers is noticed."""
        self._set(row_id, attempts=files.c.attempts + 1)

    def undo_attempt(self, row_id: int) -> None:
        """An interrupted run (Ctrl-C, SIGTERM) is not the file's fault."""
        self._set(row_id, attempts=case((files.c.attempts > 0, files.c.attempts - 1), else_=0))

    def finish(self, result: Result) -> None:
        """Outputs are durable: the row leaves `queued`. Size and mtime are those of what was read."""
        values: dict[str, Any] = {
            "status": result.status,
            "record_id": result.record_id,
            "reasons": json.dumps(list(result.reasons), ensure_ascii=False),
            "extension": result.extension,
            "sha256": result.sha256,
        }
        if result.size is not None and result.mtime_ns is not None:
            values.update(size=result.size, mtime_ns=result.mtime_ns)
        self._set(result.row_id, **values)

    def fail(self, row_id: int, reasons: list[str]) -> None:
        self._set(row_id, status=FAILED, reasons=json.dumps(reasons, ensure_ascii=False))

    def note_error(self, row_id: int, reason: str) -> None:
        """Why the last attempt did not finish (the row stays queued)."""
        self._set(row_id, reasons=json.dumps([reason], ensure_ascii=False))

    def mark_deleted(self, row_id: int) -> None:
        self._set(row_id, original_deleted=True)

    def _set(self, row_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(files).where(files.c.id == row_id).values(updated_at=_now(), **values))

    def problems(self) -> Iterator[Entry]:
        """Rows needing review or failed, by path (for the report)."""
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(
                select(files).where(files.c.status.in_([NEEDS_REVIEW, FAILED])).order_by(files.c.path)
            )
            for row in rows:
                yield Entry.of(row)
