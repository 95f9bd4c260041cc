"""Settings of the REST service, from REDACTOR_* environment variables (docs/api.md lists them all)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from redactor.config import Settings

DEFAULT_DATA_DIR = Path.home() / ".local/share/id-redactor"


class ApiSettings(Settings):
    """The pipeline's settings plus what the service needs: storage, pool, limits, retention."""

    # Embedded defaults live here: the SQLite file and the redacted copies.
    data_dir: Path = DEFAULT_DATA_DIR
    # SQLAlchemy URL; empty means SQLite in data_dir. PostgreSQL: postgresql+psycopg://user:pw@host/db
    database_url: str | None = None
    # Where redacted copies go: a directory path (or file:///path), or s3://bucket/prefix.
    storage_url: str | None = None
    s3_endpoint_url: str | None = None  # e.g. http://minio:9000; empty means AWS
    s3_region: str | None = None
    s3_create_bucket: bool = False

    # Process pool: `workers` pipelines run at once, `queue_size` more wait; beyond that 503.
    workers: int = Field(default=2, ge=1)
    queue_size: int = Field(default=8, ge=0)
    # Seconds from admission to answer (queue wait + pipeline); then the worker is killed and replaced.
    request_timeout_s: float = Field(default=60.0, gt=0)
    # Seconds a client may take to send a request body (any body: uploads, JSON), and its headers.
    upload_timeout_s: float = Field(default=30.0, gt=0)
    header_timeout_s: float = Field(default=10.0, gt=0)
    # Upload and pipeline slots the key-less endpoints (self-check, send, verify) may hold at
    # once, apart from the keyed intake's; 0 = half of workers + queue_size (at least 1).
    public_slots: int = Field(default=0, ge=0)
    # Uploads one client address may be sending at once to the key-less endpoints.
    uploads_per_client: int = Field(default=2, ge=1)
    start_method: Literal["spawn", "forkserver"] = "spawn"
    # Threads each worker's OpenCV/onnxruntime may use; 0 = cores / workers.
    worker_threads: int = Field(default=0, ge=0)

    # The review station (docs/review.md). `review_queue` (REDACTOR_REVIEW_QUEUE=on): an intake
    # request that says on_review=queue gets 202 and its original waits, encrypted, for staff;
    # off by default, so that the service keeps nothing but redacted copies unless chosen.
    review_queue: bool = False
    # A watched folder's root: its review/ originals are taken into the queue (encrypted) and
    # published copies go to its done/.
    review_watch_root: Path | None = None
    # Where encrypted originals wait: a directory or s3://bucket/prefix (default data_dir/review).
    review_storage_url: str | None = None
    # Redacted copies and records older than this are purged; the purge runs every purge_interval_s.
    retention_days: float = Field(default=30.0, ge=0)
    purge_interval_s: float = Field(default=3600.0, ge=0)  # 0 = no scheduled purge

    # Per-client request budgets (requests per minute, 0 = unlimited) for the key-less endpoints.
    rate_limit_selfcheck_per_minute: int = Field(default=10, ge=0)
    rate_limit_verify_per_minute: int = Field(default=60, ge=0)

    # Prefix for the file URL in responses, e.g. https://redactor.example.org; empty = relative URLs.
    public_base_url: str = ""
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips: addresses or
    # networks, comma-separated), for per-client limits. Empty: no proxy is trusted, so a local
    # process cannot pick its own client address. Set it to your reverse proxy's address.
    forwarded_allow_ips: str = ""
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'redactor.db'}"

    def resolved_storage_url(self) -> str:
        return self.storage_url or str(self.data_dir / "redacted")

    def resolved_review_storage_url(self) -> str:
        return self.review_storage_url or str(self.data_dir / "review")

    def admission_capacity(self) -> int:
        return self.workers + self.queue_size

    def public_capacity(self) -> int:
        return self.public_slots or max(1, self.admission_capacity() // 2)
