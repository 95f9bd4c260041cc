"""The review station's REST endpoints (scope `review`) and the watched-folder intake of its queue.

    GET  /v1/reviews                   the queue
    GET  /v1/reviews/{id}              one item, with the regions the pipeline proposes
    GET  /v1/reviews/{id}/pages/{n}    the original page as PNG (Cache-Control: no-store)
    POST /v1/reviews/{id}/publish      black out proposed (minus dropped) + added regions, verify,
                                       sign: 201 with the record, or 409 with what still shows
    POST /v1/reviews/{id}/reject       a signed record with status rejected

Publishing runs `redactor.pipeline.redact_reviewed` in the worker pool: the same
after-redaction verification (OCR re-read, two face detectors, QR) as the automatic path.
Every ending deletes the sealed original (api.review_queue).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import review_queue, schemas, worker
from api.auth import require_scope
from api.db import ApiKeyInfo, ReviewRow
from api.routes import _SAFE_ID, error, file_url, store_redaction
from api.runner import QueueFull, RunnerUnavailable
from api.sealed import SealError
from api.services import Services, get_services
from redactor.core import Region, RegionKind, Review
from redactor.reasons import explanations
from redactor.record import build_record, record_time, utc_now

log = logging.getLogger("api.review")
router = APIRouter(prefix="/v1/reviews", tags=["review station"])
# A reviewer sees the page this large at most (the boxes stay in the original's pixels).
PAGE_MAX_SIDE = 2000
# Seconds between looks at the watched folder's review/.
WATCH_SCAN_S = 5.0


class DrawnRegion(BaseModel):
    page: int = Field(ge=0, le=1000)
    box: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=4, max_length=4, description="x0, y0, x1, y1 in the page's pixels"
    )
    kind: RegionKind = RegionKind.OTHER


class PublishBody(BaseModel):
    regions: list[DrawnRegion] = Field(default_factory=list, max_length=200, description="regions to add")
    dropped: list[int] = Field(
        default_factory=list, max_length=200, description="ids of proposed regions to leave out (a false alarm)"
    )


class RejectBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _summary(services: Services, row: ReviewRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "reasons": row.reasons,
        "explanations": explanations(row.reasons),
        "created": record_time(row.created_at),
        "delete_at": record_time(services.review.delete_at(row)),
        "pages": len(row.pages),
    }


async def _row(services: Services, review_id: str) -> ReviewRow:
    row = await run_in_threadpool(services.review.db.get_review, review_id) if _SAFE_ID.match(review_id) else None
    if row is None:
        raise error(404, "not_found", "No such review item (it may have been published, rejected or purged).")
    return row


async def _original(services: Services, row: ReviewRow) -> bytes:
    try:
        data = await run_in_threadpool(review_queue.open_original, services.review, row)
    except SealError:
        log.error("sealed original does not open", extra={"fields": {"review_id": row.id}})
        raise error(500, "integrity_error", "The original of this item cannot be opened.") from None
    if data is None:
        raise error(404, "not_found", "The original of this item is gone.")
    return data


@router.get("", summary="The documents waiting for a person", responses=schemas.errors(401, 403))
async def list_reviews(request: Request, key: ApiKeyInfo = Depends(require_scope("review"))) -> dict[str, Any]:
    services = get_services(request)
    rows = await run_in_threadpool(services.review.db.list_reviews)
    await run_in_threadpool(services.db.audit, "review_list", key.id, None)
    return {"items": [_summary(services, r) for r in rows]}


@router.get("/{review_id}", summary="One item, with the regions the pipeline proposes", responses=schemas.errors(401, 403, 404))
async def get_review(review_id: str, request: Request, key: ApiKeyInfo = Depends(require_scope("review"))) -> dict[str, Any]:
    services = get_services(request)
    row = await _row(services, review_id)
    await run_in_threadpool(services.db.audit, "review_read", key.id, row.id)
    return {
        **_summary(services, row),
        "reference": row.reference,
        "page_sizes": [{"width": w, "height": h} for w, h in row.pages],
        "proposed": row.proposed,
    }


@router.get(
    "/{review_id}/pages/{n}",
    summary="A page of the original, as PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **schemas.errors(401, 403, 404)},
)
async def get_page(review_id: str, n: int, request: Request, key: ApiKeyInfo = Depends(require_scope("review"))) -> Response:
    services = get_services(request)
    row = await _row(services, review_id)
    if not 0 <= n < len(row.pages):
        raise error(404, "not_found", f"This item has pages 0 to {len(row.pages) - 1}.")
    data = await _original(services, row)
    # Audited before the page leaves: who looked at which original.
    await run_in_threadpool(services.db.audit, "review_page", key.id, row.id)
    pages = await services.runner.call(worker.render_pages, (data, PAGE_MAX_SIDE, "png", [n]), keyed=True, learn=False)
    return Response(pages[0], media_type="image/png", headers={"Cache-Control": "no-store"})


def _regions(row: ReviewRow, body: PublishBody) -> tuple[tuple[Region, ...], tuple[Region, ...]]:
    """(kept proposals, added regions) as the pipeline's Regions; 400 for what cannot be."""
    pages = row.pages
    unknown = set(body.dropped) - {p["id"] for p in row.proposed}
    if unknown:
        raise error(400, "invalid_request", f"No proposed regions with ids {sorted(unknown)}.")
    kept = tuple(
        Region(RegionKind(p["kind"]), p["page"], tuple(p["box"]), p.get("why", "proposed"))
        for p in row.proposed
        if p["id"] not in set(body.dropped)
    )
    added = []
    for r in body.regions:
        if r.page >= len(pages):
            raise error(400, "invalid_request", f"This item has pages 0 to {len(pages) - 1}.")
        w, h = pages[r.page]
        x0, y0, x1, y1 = max(0.0, r.box[0]), max(0.0, r.box[1]), min(float(w), r.box[2]), min(float(h), r.box[3])
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise error(400, "invalid_request", "A region must have x0 < x1 and y0 < y1, inside its page.")
        added.append(Region(r.kind, r.page, (x0, y0, x1, y1), "drawn by a reviewer"))
    return kept, tuple(added)


@router.post(
    "/{review_id}/publish",
    status_code=201,
    summary="Black out the proposed and added regions, verify, sign and publish",
    responses=schemas.errors(400, 401, 403, 404, 409, 503, 504),
)
async def publish(
    review_id: str, body: PublishBody, request: Request, key: ApiKeyInfo = Depends(require_scope("review"))
) -> dict[str, Any]:
    services = get_services(request)
    row = await _row(services, review_id)
    kept, added = _regions(row, body)
    held_until = utc_now() + timedelta(seconds=services.settings.request_timeout_s + 30)
    if not await run_in_threadpool(services.review.db.take_review, row.id, held_until):
        raise error(409, "in_progress", "Someone else is publishing this item right now.")
    try:
        data = await _original(services, row)
        review = Review(
            "staff", added, kept=kept, dropped=len(body.dropped), reviewer=key.id, reasons=tuple(row.reasons), item=row.id
        )
        outcome = await services.runner.call(worker.finish, (data, review, row.purpose), keyed=True)
        del data
        if outcome.status != "redacted" or outcome.output is None:
            leftovers = [review_queue.region_json(r) for r in outcome.leftovers]
            where = "; ".join(f"{r['why']} (page {r['page'] + 1}, box {r['box']})" for r in leftovers)
            raise error(
                409,
                "still_visible",
                f"Not published: {where or '; '.join(outcome.reasons)}",
                leftovers=leftovers,
                reasons=list(outcome.reasons),
                explanations=explanations(list(outcome.reasons)),
            )
        answer = await run_in_threadpool(_finish_publish, services, row, outcome, key)
    except BaseException:
        await run_in_threadpool(services.review.db.release_review, row.id)
        raise
    request.state.outcome = "published"
    return answer


def _finish_publish(services: Services, row: ReviewRow, outcome: Any, key: ApiKeyInfo) -> dict[str, Any]:
    """Store the copy where its door expects it, then end the item (the original goes)."""
    answer: dict[str, Any] = {"status": "redacted", "record": outcome.record}
    if row.source == "intake":
        stored = store_redaction(services, outcome, row.reference, submitted_by=row.submitted_by)
        answer["redaction"] = {"id": stored.id, "file_url": file_url(services, stored.id)}
    else:
        if services.review.watch is None:
            raise error(409, "no_folder", "This item came from a watched folder the service no longer has.")
        answer["file"] = review_queue.publish_to_folder(services.review, row, outcome.output, outcome.extension, outcome.record)
    review_queue.remove(services.review, row, "publish", key.id)
    return answer


@router.post(
    "/{review_id}/reject",
    summary="Reject: a signed record with status rejected; the original is deleted",
    responses=schemas.errors(400, 401, 403, 404),
)
async def reject(
    review_id: str, body: RejectBody, request: Request, key: ApiKeyInfo = Depends(require_scope("review"))
) -> dict[str, Any]:
    services = get_services(request)
    row = await _row(services, review_id)
    reason = " ".join(body.reason.split())
    unsigned = build_record(status="rejected", reasons=[reason])
    review = Review("staff", (), reviewer=key.id, reasons=tuple(row.reasons), item=row.id)
    unsigned["review"] = review.block(unsigned["issued_at"])
    record = await run_in_threadpool(services.keys.sign, unsigned)
    if not await run_in_threadpool(review_queue.remove, services.review, row, "reject", key.id):
        raise error(404, "not_found", "No such review item (it was just published or rejected).")
    request.state.outcome = "rejected"
    return {"status": "rejected", "record": record}


# --- the watched folder --------------------------------------------------------------------------


async def take_watch_folder(services: Services, skip: set[str]) -> int:
    """Queue what the watcher set aside in review/: run the pipeline once more for its
    proposals (the reasons may have changed with a newer version), seal, drop the plaintext.
    `skip`: names that are no documents (the pipeline rejects them); they stay for the purge."""
    queue = services.review
    taken = 0
    for path in await run_in_threadpool(review_queue.pending_in_folder, queue):
        if path.name in skip:
            continue
        try:
            data = await run_in_threadpool(path.read_bytes)
        except OSError:
            continue  # moved or deleted meanwhile
        outcome = await services.runner.run(data, None, keyed=True)
        if outcome.status == "rejected":
            skip.add(path.name)
            continue
        row = await run_in_threadpool(review_queue.take_from_folder, queue, path, data, outcome)
        log.info("review item from the watched folder", extra={"fields": {"review_id": row.id}})
        taken += 1
    return taken


async def watch_folder_periodically(services: Services) -> None:
    await services.runner.wait_ready()
    skip: set[str] = set()
    while True:
        try:
            await take_watch_folder(services, skip)
        except (QueueFull, RunnerUnavailable, TimeoutError):
            pass  # busy with requests: the folder waits for the next round
        except Exception as exc:  # noqa: BLE001 - a share that went away must not stop the loop
            log.error("review folder scan failed", extra={"fields": {"error": type(exc).__name__}})
        await asyncio.sleep(WATCH_SCAN_S)

