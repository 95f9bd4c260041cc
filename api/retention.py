"""Retention: redacted copies and their records are deleted once older than the retention period.

Runs on a schedule inside the service and on demand (`redactor purge`). Several instances may
purge at once: every step is idempotent. Each purged record is written to the audit log (action
`purge`, no key), and the tombstones of self-check records that can no longer be sent go too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from typing import TYPE_CHECKING

from api import review_queue
from api.db import Database, RedactionRow
from api.storage import BlobStore
from redactor.record import utc_now

if TYPE_CHECKING:
    from api.services import Services

log = logging.getLogger("api.retention")
BATCH = 500


@dataclass(frozen=True)
class PurgeResult:
    removed: int
    failed: int


def cutoff_for(retention_days: float, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=retention_days)


def remove_redaction(
    db: Database, blobs: BlobStore, row: RedactionRow, audit: tuple[str, str | None] | None = None
) -> None:
    """Copy first, then the record: if the copy cannot be deleted the record stays to say so.
    `audit` = (action, key id) goes to the audit log with the row's deletion."""
    blobs.delete(row.blob_key)
    db.delete_redaction(row.id, audit)


def purge(db: Database, blobs: BlobStore, cutoff: datetime) -> PurgeResult:
    db.purge_sent(utc_now())
    removed = failed = 0
    while True:
        rows = db.redactions_created_before(cutoff, BATCH)
        batch_failed = 0
        for row in rows:
            try:
                remove_redaction(db, blobs, row, ("purge", None))
                removed += 1
            except Exception as exc:  # noqa: BLE001 - keep purging the others; the failure is logged
                batch_failed += 1
                log.error("purge failed for one redaction", extra={"fields": {"error": type(exc).__name__}})
        failed += batch_failed
        # Stop when done, or when failures would make the same rows come back forever.
        if len(rows) < BATCH or batch_failed:
            return PurgeResult(removed, failed)


async def purge_periodically(services: "Services", interval_s: float) -> None:
    """Purge now, then every `interval_s` seconds, until cancelled: redacted copies after
    REDACTOR_RETENTION_DAYS, originals waiting for review after REDACTOR_REVIEW_RETENTION_DAYS."""
    settings = services.settings
    while True:
        try:
            result = await run_in_threadpool(purge, services.db, services.blobs, cutoff_for(settings.retention_days))
            if result.removed or result.failed:
                log.info("retention purge", extra={"fields": {"removed": result.removed, "failed": result.failed}})
            await run_in_threadpool(review_queue.purge, services.review)
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not stop future purges
            log.error("retention purge failed", extra={"fields": {"error": type(exc).__name__}})
        await asyncio.sleep(interval_s)
