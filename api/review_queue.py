"""The review station's queue: documents the pipeline would not publish, waiting for staff.

Items come from the intake (REDACTOR_REVIEW_QUEUE=on and on_review=queue) and from a watched
folder's review/ (REDACTOR_REVIEW_WATCH_ROOT). Each item is a row (api.db.ReviewRow: why, the
page sizes, the regions the pipeline proposes) and the original, sealed with AES-GCM
(api.sealed). An item ends in exactly one of three ways, and each deletes the original:
published (a redacted copy and a signed record, stored for the intake or written to done/),
rejected (a signed record with status rejected), or purged after the retention period.

The functions here block (SQL, files): call them from a thread. Nothing here logs a file name,
a reference or anything read from a document.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.db import Database, ReviewRow
from api.sealed import SealedStore
from redactor.core import Region
from redactor.filenames import record_name, redacted_name
from redactor.fsutil import atomic_write, fsync_dir
from redactor.record import Record, utc_now
from watchfolder.review import purge_folder, reason_path, set_aside_at
from watchfolder.store import DONE_FILE_MODE, WatchDirs, split_name

if TYPE_CHECKING:
    from redactor.pipeline import Outcome

log = logging.getLogger("api.review")


@dataclass(frozen=True)
class Queue:
    """What the queue needs: the database, the sealed originals, and the watched folder if any."""

    db: Database
    sealed: SealedStore
    watch: WatchDirs | None
    retention_days: float

    def delete_at(self, row: ReviewRow) -> datetime:
        return row.created_at + timedelta(days=self.retention_days)


def region_json(region: Region, index: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "page": region.page,
        "box": [round(float(v)) for v in region.box],
        "kind": str(getattr(region.kind, "value", region.kind)),
        "why": region.reason,
    }
    if index is not None:
        entry["id"] = index
    return entry


def enqueue(
    queue: Queue,
    data: bytes,
    outcome: "Outcome",
    *,
    source: str,
    key_id: str | None,
    reference: str | None = None,
    purpose: str | None = None,
    watch_name: str | None = None,
    created_at: datetime | None = None,
) -> ReviewRow:
    """Seal the original, then write the row: a crash between leaves a sealed blob no row
    points at, which `purge` removes; never a row without its original."""
    review_id = uuid.uuid4().hex
    blob_key = queue.sealed.put(review_id, data)
    row = ReviewRow(
        id=review_id,
        source=source,
        created_at=created_at or utc_now(),
        reasons_json=json.dumps(list(outcome.reasons), ensure_ascii=False),
        pages_json=json.dumps([list(size) for size in outcome.page_sizes]),
        proposed_json=json.dumps([region_json(r, i) for i, r in enumerate(outcome.proposed)], ensure_ascii=False),
        blob_key=blob_key,
        reference=reference,
        submitted_by=key_id if source == "intake" else None,
        purpose=purpose,
        watch_name=watch_name,
    )
    try:
        queue.db.insert_review(row, ("queue", key_id))
    except BaseException:
        queue.sealed.delete(blob_key)
        raise
    return row


def open_original(queue: Queue, row: ReviewRow) -> bytes | None:
    return queue.sealed.get(row.id, row.blob_key)


def remove(queue: Queue, row: ReviewRow, action: str, key_id: str | None) -> bool:
    """The end of an item: the row (with its audit entry), then the sealed original, then the
    watched folder's reason file and any plaintext original still there. False when another
    request ended it first."""
    if not queue.db.delete_review(row.id, (action, key_id)):
        return False
    queue.sealed.delete(row.blob_key)
    if row.watch_name and queue.watch is not None:
        for path in (reason_path(queue.watch.review, row.watch_name), queue.watch.review / row.watch_name):
            path.unlink(missing_ok=True)
        fsync_dir(queue.watch.review)
    return True


# --- the watched folder ------------------------------------------------------------------------


def pending_in_folder(queue: Queue) -> list[Path]:
    """review/ originals not yet in the queue; those already queued (a crash came after the
    row was written) lose their plaintext copy now."""
    from watchfolder.review import originals

    if queue.watch is None:
        return []
    pending = []
    for path in originals(queue.watch.review):
        if queue.db.review_for_watch_name(path.name) is not None:
            path.unlink(missing_ok=True)
        else:
            pending.append(path)
    return pending


def take_from_folder(queue: Queue, path: Path, data: bytes, outcome: "Outcome") -> ReviewRow:
    """Queue one review/ original (sealed), then delete its plaintext; the reason file stays,
    with its time, which is when the retention period started."""
    assert queue.watch is not None
    review_dir = queue.watch.review
    row = enqueue(
        queue, data, outcome, source="watch", key_id=None, watch_name=path.name, created_at=set_aside_at(review_dir, path.name)
    )
    path.unlink(missing_ok=True)
    fsync_dir(review_dir)
    return row


def publish_to_folder(queue: Queue, row: ReviewRow, output: bytes, extension: str, record: dict[str, Any]) -> str:
    """done/STEM.redacted.EXT, then done/STEM.record.json (last: a record means a complete
    pair), under the first stem that is free; returns the copy's file name."""
    assert queue.watch is not None and row.watch_name is not None
    done = queue.watch.done
    done.mkdir(parents=True, exist_ok=True)
    base = split_name(row.watch_name)[0]
    for n in range(1, 1000):
        stem = base if n == 1 else f"{base}-{n}"
        copy, rec = done / redacted_name(stem, extension), done / record_name(stem)
        if not copy.exists() and not rec.exists():
            break
    else:
        raise FileExistsError("no free name in done/")
    atomic_write(copy, output, DONE_FILE_MODE)
    atomic_write(rec, Record.parse(record).file_bytes(), DONE_FILE_MODE)
    return copy.name


# --- retention ---------------------------------------------------------------------------------


def purge(queue: Queue, now: datetime | None = None) -> int:
    """Delete every item (and folder item) older than the retention period, with a log line
    each; and sealed blobs no row points at (a crash between sealing and the row)."""
    now = now or utc_now()
    cutoff = now - timedelta(days=queue.retention_days)
    removed = 0
    for row in queue.db.reviews_created_before(cutoff):
        if remove(queue, row, "review_purge", None):
            removed += 1
            log.info(
                "review original deleted after the retention period",
                extra={"fields": {"review_id": row.id, "source": row.source, "retention_days": queue.retention_days}},
            )
    if queue.watch is not None:
        in_folder = purge_folder(queue.watch.review, cutoff)
        if in_folder:
            log.info(
                "review original deleted after the retention period",
                extra={"fields": {"source": "watch", "count": in_folder, "retention_days": queue.retention_days}},
            )
        removed += in_folder
    known = {row.blob_key for row in queue.db.list_reviews()}
    for key in queue.sealed.keys():
        if key.endswith(".sealed") and key not in known and _older_than_a_minute(queue, key, now):
            queue.sealed.delete(key)
    return removed


def _older_than_a_minute(queue: Queue, key: str, now: datetime) -> bool:
    """An orphan blob might be an item being queued this very moment: leave young ones alone.
    In an object store its age is not looked up: orphans stay there (sealed, unreadable
    without the key) rather than risk deleting an item being queued."""
    root = getattr(queue.sealed.blobs, "root", None)
    if root is None:
        return False
    try:
        return now.timestamp() - os.stat(Path(root) / key).st_mtime > 60
    except FileNotFoundError:
        return False
