"""Records and API keys in SQL (SQLite by default, PostgreSQL for several instances), via SQLAlchemy.

The original upload never reaches this module: a row holds the signed record, the caller's
reference, the id of the key that submitted it and where the redacted copy is stored. Two more
tables serve accountability: `audit_log` (append-only: who read, downloaded, deleted, sent or
purged which record, and when) and `sent_records` (ids of self-check records already stored, kept
while such a record could still be sent, so a deleted copy cannot be sent again).

SQLite files are created 0600 in a 0700 directory, deleted rows are overwritten
(secure_delete) and the WAL is checkpointed and truncated after every delete, so a deleted
reference or name does not linger in the database files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from api.scopes import SCOPES
from redactor.record import utc_now

KEY_PREFIX = "rdk"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(timezone.utc).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class RedactionRow(Base):
    __tablename__ = "redactions"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blob_key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    extension: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    # False between "row written" and "copy stored": a crash there leaves a row the purge still finds.
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    # Text, not JSON/JSONB: the signature covers the exact values, so they must round-trip unchanged.
    record_json: Mapped[str] = mapped_column(Text)
    # The API key that stored the copy (None: sent from the self-check page, which has no key).
    submitted_by: Mapped[str | None] = mapped_column(String(32), index=True, default=None)

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.record_json)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When set, the key reads (and deletes) only copies submitted by this key id.
    sees_only: Mapped[str | None] = mapped_column(String(32), default=None)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


class SentRecordRow(Base):
    """A self-check record id that was stored once; kept until the record could no longer be sent."""

    __tablename__ = "sent_records"

    record_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ReviewRow(Base):
    """A document waiting for a person. The original itself is sealed in the review store
    (api.sealed); this row says where, why, and what the pipeline proposes to black out."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # "intake" or "watch"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reasons_json: Mapped[str] = mapped_column(Text)
    # [[width, height], ...] of the pages as the pipeline sees them (EXIF applied)
    pages_json: Mapped[str] = mapped_column(Text)
    # [{"page", "box", "kind"}, ...]: the regions the pipeline would black out
    proposed_json: Mapped[str] = mapped_column(Text)
    blob_key: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200), default=None)
    submitted_by: Mapped[str | None] = mapped_column(String(32), default=None)
    purpose: Mapped[str | None] = mapped_column(String(400), default=None)
    # Watched folder items: the original's name in review/ (its stem names the outputs).
    watch_name: Mapped[str | None] = mapped_column(String(300), index=True, default=None)
    # A publish in progress holds the item until then (two staff members, one item).
    busy_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def reasons(self) -> list[str]:
        return json.loads(self.reasons_json)

    @property
    def pages(self) -> list[list[int]]:
        return json.loads(self.pages_json)

    @property
    def proposed(self) -> list[dict[str, Any]]:
        return json.loads(self.proposed_json)


AUDIT_ACTIONS = (
    "submit", "list", "read", "download", "delete", "send", "purge",
    "queue", "review_list", "review_read", "review_page", "publish", "reject", "review_purge",
)


class AuditRow(Base):
    """One access to stored data: never the document, its reference or anything from the record."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)  # None: self-check page or purge
    record_id: Mapped[str | None] = mapped_column(String(100), index=True)  # None: a listing


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: str
    key_id: str | None
    record_id: str | None


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as shown to people: never the secret, which exists only once at creation."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    sees_only: str | None = None  # reads only what this key id submitted


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, tuple(sorted(row.scope_set)), row.created_at, row.revoked_at, row.sees_only)


def _hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a plain hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL lets the purge command and staff reads run while the service writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    # Deleted rows are overwritten with zeros, not left in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def prepare_sqlite_file(path: Path) -> None:
    """The database file 0600 in a 0700 directory (when we make it: an existing directory, which
    may be shared, keeps its mode), before SQLite would create it with the umask's mode. Its
    -wal and -shm files take the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if existing.exists():
            os.chmod(existing, 0o600)  # files made by an older version


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            prepare_sqlite_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Database:
    """All SQL the service does. Methods are blocking: call them from a thread, not the event loop."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two instances starting together would otherwise race on CREATE TABLE.
                conn.execute(text("SELECT pg_advisory_xact_lock(7270811)"))
            Base.metadata.create_all(conn)
            _add_missing_columns(conn)
            _make_audit_append_only(conn)

    def _checkpoint(self) -> None:
        """Move the WAL into the database file and truncate it, so deleted data leaves the WAL."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    # --- redactions -------------------------------------------------------------------------

    def insert_redaction(self, row: RedactionRow, sent_until: datetime | None = None) -> None:
        """Insert the (incomplete) row; with `sent_until`, also the record's tombstone, in one
        transaction: IntegrityError when the record was stored (or sent) before."""
        with self._session.begin() as s:
            if sent_until is not None:
                s.add(SentRecordRow(record_id=row.id, expires_at=sent_until))
            s.add(row)

    def mark_complete(self, redaction_id: str) -> None:
        with self._session.begin() as s:
            s.execute(update(RedactionRow).where(RedactionRow.id == redaction_id).values(complete=True))

    def get_redaction(self, redaction_id: str, *, submitted_by: str | None = None) -> RedactionRow | None:
        """The complete row; with `submitted_by`, only when that key submitted it."""
        with self._session() as s:
            row = s.get(RedactionRow, redaction_id)
        if row is None or not row.complete:
            return None
        if submitted_by is not None and row.submitted_by != submitted_by:
            return None
        return row

    def was_sent(self, record_id: str) -> bool:
        with self._session() as s:
            return s.get(SentRecordRow, record_id) is not None

    def list_redactions(
        self,
        *,
        reference: str | None,
        page: int,
        per_page: int,
        submitted_by: str | None = None,
        id_prefix: str | None = None,
    ) -> tuple[list[RedactionRow], int]:
        with self._session() as s:
            where = [RedactionRow.complete.is_(True)]
            if reference is not None:
                where.append(RedactionRow.reference == reference)
            if id_prefix is not None:
                where.append(RedactionRow.id.startswith(id_prefix, autoescape=True))
            if submitted_by is not None:
                where.append(RedactionRow.submitted_by == submitted_by)
            query = select(RedactionRow).where(*where).order_by(RedactionRow.created_at.desc(), RedactionRow.id)
            count = select(func.count()).select_from(RedactionRow).where(*where)
            rows = s.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
            return list(rows), int(s.scalar(count) or 0)

    def delete_redaction(self, redaction_id: str, audit: tuple[str, str | None] | None = None) -> bool:
        """Delete the row; `audit` = (action, key id) is logged in the same transaction."""
        with self._session.begin() as s:
            result = s.execute(delete(RedactionRow).where(RedactionRow.id == redaction_id))
            if audit is not None and result.rowcount:
                _add_audit(s, audit[0], audit[1], redaction_id)
        self._checkpoint()
        return bool(result.rowcount)

    def forget_sent(self, record_id: str) -> None:
        """Drop a tombstone whose copy could not be stored, so the requester can send again."""
        with self._session.begin() as s:
            s.execute(delete(SentRecordRow).where(SentRecordRow.record_id == record_id))

    def purge_sent(self, now: datetime) -> int:
        """Drop tombstones of records that can no longer be sent anyway."""
        with self._session.begin() as s:
            result = s.execute(delete(SentRecordRow).where(SentRecordRow.expires_at < now))
        if result.rowcount:
            self._checkpoint()
        return int(result.rowcount or 0)

    def redactions_created_before(self, cutoff: datetime, limit: int = 500) -> list[RedactionRow]:
        with self._session() as s:
            query = (
                select(RedactionRow)
                .where(RedactionRow.created_at < cutoff)
                .order_by(RedactionRow.created_at)
                .limit(limit)
            )
            return list(s.scalars(query).all())

    def count_redactions(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(RedactionRow)) or 0)

    # --- review queue ---------------------------------------------------------------------------

    def insert_review(self, row: ReviewRow, audit: tuple[str, str | None]) -> None:
        with self._session.begin() as s:
            s.add(row)
            _add_audit(s, audit[0], audit[1], row.id)

    def get_review(self, review_id: str) -> ReviewRow | None:
        with self._session() as s:
            return s.get(ReviewRow, review_id)

    def review_for_watch_name(self, name: str) -> ReviewRow | None:
        with self._session() as s:
            return s.scalars(select(ReviewRow).where(ReviewRow.watch_name == name)).first()

    def list_reviews(self) -> list[ReviewRow]:
        with self._session() as s:
            return list(s.scalars(select(ReviewRow).order_by(ReviewRow.created_at, ReviewRow.id)))

    def take_review(self, review_id: str, until: datetime) -> bool:
        """Hold the item for one publish; False when someone else's publish holds it now."""
        now = utc_now()
        with self._session.begin() as s:
            result = s.execute(
                update(ReviewRow)
                .where(ReviewRow.id == review_id)
                .where((ReviewRow.busy_until.is_(None)) | (ReviewRow.busy_until < now))
                .values(busy_until=until)
            )
        return bool(result.rowcount)

    def release_review(self, review_id: str) -> None:
        with self._session.begin() as s:
            s.execute(update(ReviewRow).where(ReviewRow.id == review_id).values(busy_until=None))

    def delete_review(self, review_id: str, audit: tuple[str, str | None]) -> bool:
        with self._session.begin() as s:
            result = s.execute(delete(ReviewRow).where(ReviewRow.id == review_id))
            if result.rowcount:
                _add_audit(s, audit[0], audit[1], review_id)
        self._checkpoint()
        return bool(result.rowcount)

    def reviews_created_before(self, cutoff: datetime) -> list[ReviewRow]:
        with self._session() as s:
            return list(s.scalars(select(ReviewRow).where(ReviewRow.created_at < cutoff)))

    # --- audit log ----------------------------------------------------------------------------

    def audit(self, action: str, key_id: str | None, record_id: str | None) -> None:
        with self._session.begin() as s:
            _add_audit(s, action, key_id, record_id)

    def audit_entries(
        self,
        *,
        record_id: str | None = None,
        key_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Oldest first (the last `limit` entries that match)."""
        with self._session() as s:
            query = select(AuditRow)
            if record_id is not None:
                query = query.where(AuditRow.record_id == record_id)
            if key_id is not None:
                query = query.where(AuditRow.key_id == key_id)
            if since is not None:
                query = query.where(AuditRow.at >= since)
            rows = s.scalars(query.order_by(AuditRow.id.desc()).limit(limit)).all()
            return [AuditEntry(r.at, r.action, r.key_id, r.record_id) for r in reversed(rows)]

    # --- API keys ---------------------------------------------------------------------------

    def create_api_key(
        self, name: str, scopes: list[str], *, sees_only: str | None = None, own_only: bool = False
    ) -> tuple[ApiKeyInfo, str]:
        """Store a new key (hashed) and return it with its plaintext, which is not kept anywhere.

        `sees_only`: the key reads only what that (existing) key submitted; `own_only`: only
        what it submits itself."""
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes must be among {', '.join(SCOPES)}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=key_id,
            name=name,
            key_hash=_hash_secret(secret),
            scopes=",".join(sorted(set(scopes))),
            created_at=utc_now(),
            revoked_at=None,
            sees_only=key_id if own_only else sees_only,
        )
        with self._session.begin() as s:
            if sees_only is not None and s.get(ApiKeyRow, sees_only) is None:
                raise LookupError(f"no key with id {sees_only}")
            s.add(row)
        return _info(row), f"{KEY_PREFIX}_{key_id}_{secret}"

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self._session() as s:
            return [_info(r) for r in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))]

    def revoke_api_key(self, key_id: str) -> bool:
        with self._session.begin() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                return False
            if row.revoked_at is None:
                row.revoked_at = utc_now()
            return True

    def authenticate(self, token: str) -> ApiKeyInfo | None:
        """The key's info when `token` is a valid, unrevoked key; None otherwise."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not key_id or not secret or len(token) > 200:
            return None
        with self._session() as s:
            row = s.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, _hash_secret(secret)):
            return None
        return _info(row)


def _add_audit(session: Session, action: str, key_id: str | None, record_id: str | None) -> None:
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action}")
    session.add(AuditRow(at=utc_now(), action=action, key_id=key_id, record_id=record_id))


def _add_missing_columns(conn: Connection) -> None:
    """create_all makes missing tables, not missing columns: add the (nullable) columns newer
    versions brought to an existing database."""
    inspector = inspect(conn)
    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))


def _make_audit_append_only(conn: Connection) -> None:
    """The database itself refuses UPDATE and DELETE on the audit log."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
