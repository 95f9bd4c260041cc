"""Everything a request handler needs, built once per app and kept in app.state.services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.db import Database
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.review_queue import Queue
from api.runner import PoolRunner
from api.sealed import SealedStore
from api.settings import ApiSettings
from api.storage import BlobStore, open_store
from api.upload import UploadGate
from redactor.record import KeyStore
from watchfolder.store import WatchDirs


@dataclass
class Services:
    settings: ApiSettings
    db: Database
    blobs: BlobStore
    keys: KeyStore
    runner: PoolRunner
    uploads: UploadGate
    metrics: Metrics
    rate_limiters: dict[str, RateLimiter]
    review: Queue


def open_database(settings: ApiSettings) -> Database:
    return Database(settings.resolved_database_url())


def open_blobs(settings: ApiSettings) -> BlobStore:
    return open_store(
        settings.resolved_storage_url(),
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        create_bucket=settings.s3_create_bucket,
    )


def open_review_queue(settings: ApiSettings, db: Database) -> Queue:
    """The review station's queue: sealed originals apart from the redacted copies."""
    store = open_store(
        settings.resolved_review_storage_url(),
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        create_bucket=settings.s3_create_bucket,
    )
    root = settings.review_watch_root
    return Queue(
        db=db,
        sealed=SealedStore(store, settings.key_dir),
        watch=WatchDirs.under(root) if root is not None else None,
        retention_days=settings.review_retention_days,
    )


def get_services(request: Request) -> Services:
    return request.app.state.services
