"""Records and API keys in SQL (SQLite by default, PostgreSQL for several instances), via SQLAlchemy.

The original upload never reaches this module: a row holds the signed record, the caller's
reference and where the redacted copy is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from api.scopes import SCOPES

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

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as shown to people: never the secret, which exists only once at creation."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def _info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, tuple(sorted(row.scope_set)), row.created_at, row.revoked_at)


def _hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a plain hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL lets the purge command and staff reads run while the service writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    # --- redactions -------------------------------------------------------------------------

    def insert_redaction(self, row: RedactionRow) -> None:
        with self._session.begin() as s:
            s.add(row)

    def mark_complete(self, redaction_id: str) -> None:
        with self._session.begin() as s:
            s.execute(update(RedactionRow).where(RedactionRow.id == redaction_id).values(complete=True))

    def get_redaction(self, redaction_id: str) -> RedactionRow | None:
        with self._session() as s:
            row = s.get(RedactionRow, redaction_id)
            return row if row is not None and row.complete else None

    def list_redactions(
        self, *, reference: str | None, page: int, per_page: int
    ) -> tuple[list[RedactionRow], int]:
        with self._session() as s:
            query = select(RedactionRow).where(RedactionRow.complete.is_(True))
            count = select(func.count()).select_from(RedactionRow).where(RedactionRow.complete.is_(True))
            if reference is not None:
                query = query.where(RedactionRow.reference == reference)
                count = count.where(RedactionRow.reference == reference)
            query = query.order_by(RedactionRow.created_at.desc(), RedactionRow.id)
            rows = s.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
            return list(rows), int(s.scalar(count) or 0)

    def delete_redaction(self, redaction_id: str) -> bool:
        with self._session.begin() as s:
            result = s.execute(delete(RedactionRow).where(RedactionRow.id == redaction_id))
            return bool(result.rowcount)

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

    # --- API keys ---------------------------------------------------------------------------

    def create_api_key(self, name: str, scopes: list[str]) -> tuple[ApiKeyInfo, str]:
        """Store a new key (hashed) and return it with its plaintext, which is not kept anywhere."""
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
        )
        with self._session.begin() as s:
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
