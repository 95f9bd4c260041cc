"""The HTTP endpoints. Handlers stay thin: blocking work (SQL, storage, key files) goes to a
thread, the pipeline to the process pool."""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api import review_queue, schemas, worker
from api.auth import require_scope
from api.db import ApiKeyInfo, RedactionRow
from api.ratelimit import client_id, verify_limit
from api.retention import remove_redaction
from api.services import Services, get_services
from api.upload import Form, UploadError, read_form
from redactor.filenames import redacted_name
from redactor.formats import MAX_PURPOSE_CHARS, OUTPUT_TYPES
from redactor.reasons import explanations
from redactor.record import MAX_RECORD_BYTES, Record, record_time, sha256_hex, utc_now, verify_record

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
    from redactor.core import Review
    from redactor.pipeline import Outcome

log = logging.getLogger("api")
router = APIRouter()

# Outcome.reject_code -> HTTP status (the code itself is passed on as detail.code).
REJECT_STATUS = {
    "empty": 400,
    "unreadable": 400,
    "encrypted": 400,
    "too_large": 413,
    "too_many_pages": 413,
    "unsupported_type": 415,
}
# A record is a flat object with a few nested members; deeper JSON is not a record.
MAX_JSON_DEPTH = 16
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# A record id is a UUID; its first 8 hex digits, as 1A2B-3C4D, are a reference a requester
# can read out on the phone (4 billion values: unique enough to find one office's copy).
SHORT_REFERENCE_PATTERN = r"^[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}$"


def short_reference(record_id: str) -> str:
    digits = record_id.replace("-", "")[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"


def multipart_body(required: list[str], properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An `openapi_extra` request body for a form this service reads itself (api.upload), which
    FastAPI cannot see: `properties` maps field names to their JSON schemas."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


FILE_FIELD = {"type": "string", "format": "binary", "description": "JPEG, PNG, TIFF, HEIC, WebP or PDF"}
_UPLOAD_BODY = multipart_body(
    ["file"],
    {
        "file": FILE_FIELD,
        "purpose": {"type": "string", "maxLength": MAX_PURPOSE_CHARS, "description": "Printed in the watermark"},
        "reference": {"type": "string", "maxLength": 200, "description": "e.g. the case number"},
        "on_review": {
            "type": "string",
            "enum": ["reject", "queue"],
            "default": "reject",
            "description": "queue: when the document needs a person, keep it (encrypted) for the review "
            "station and answer 202; only where REDACTOR_REVIEW_QUEUE is on",
        },
    },
)
_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["record"], "properties": {"record": {"type": "object"}}}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["record"],
                    "properties": {
                        "record": {"type": "string", "description": "The record as JSON"},
                        "file": {"type": "string", "format": "binary", "description": "The redacted copy"},
                    },
                }
            },
        },
    }
}


def error(status: int, code: str, message: str, **extra: Any) -> HTTPException:
    """The service-wide error shape: {"detail": {"code", "message", ...}}."""
    return HTTPException(status_code=status, detail={"code": code, "message": message, **extra})


def file_url(services: Services, redaction_id: str) -> str:
    return f"{services.settings.public_base_url.rstrip('/')}/v1/redactions/{redaction_id}/file"


def _redaction(services: Services, row: RedactionRow) -> schemas.Redaction:
    return schemas.Redaction(
        id=row.id,
        status=row.status,
        reference=row.reference,
        created_at=row.created_at,
        file_url=file_url(services, row.id),
        media_type=row.media_type,
        sha256=row.sha256,
        record=row.record,
    )


def store_redaction(
    services: Services,
    outcome: "Outcome",
    reference: str | None,
    *,
    submitted_by: str | None,
    sent_until: datetime | None = None,
) -> RedactionRow:
    """Row first (marked incomplete), then the copy, then mark complete; undo on failure.

    `submitted_by` is the key id (None for the self-check page). With `sent_until` the record's
    tombstone is written with the row: IntegrityError when that record was stored before."""
    record = Record.parse(outcome.record)
    if not _SAFE_ID.match(record.record_id):
        raise RuntimeError("the record has no usable record_id")
    output_type = OUTPUT_TYPES.get(outcome.extension or "")
    if outcome.output is None or output_type is None:
        raise RuntimeError("a redacted outcome without output")
    digest = sha256_hex(outcome.output)
    if record.redacted_sha256 != digest:
        raise RuntimeError("the record does not describe the output")
    row = RedactionRow(
        id=record.record_id,
        reference=reference,
        status=outcome.status,
        created_at=utc_now(),
        blob_key=f"{uuid.uuid4().hex}.{output_type.extension}",
        media_type=output_type.media_type,
        extension=output_type.extension,
        sha256=digest,
        size_bytes=len(outcome.output),
        complete=False,
        # The record as signed (not re-serialised): the signature covers these exact values.
        record_json=json.dumps(outcome.record, ensure_ascii=False),
        submitted_by=submitted_by,
    )
    services.db.insert_redaction(row, sent_until)
    try:
        services.blobs.put(row.blob_key, outcome.output, row.media_type)
        services.db.mark_complete(row.id)
    except BaseException:
        try:
            remove_redaction(services.db, services.blobs, row)
            if sent_until is not None:
                services.db.forget_sent(row.id)
        except Exception:  # noqa: BLE001 - the incomplete row stays; the retention purge removes it
            pass
        raise
    row.complete = True
    return row


def clean_purpose(form: Form) -> str | None:
    """The watermark text as typed, on one line; too long is an error rather than a silent cut."""
    raw = form.parts.get("purpose")
    if raw is None:
        return None
    try:
        text = " ".join(raw.decode("utf-8").split())
    except UnicodeDecodeError:
        raise error(400, "invalid_request", "The watermark text is not UTF-8 text.") from None
    if len(text) > MAX_PURPOSE_CHARS:
        raise error(400, "purpose_too_long", f"The watermark text may be at most {MAX_PURPOSE_CHARS} characters.")
    return text or None


def _depth(value: Any) -> int:
    """How deeply `value` nests (iteratively: deep input must not exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(raw: bytes, what: str) -> Any:
    """JSON from a client: 400 (never 500) for anything malformed, deeply nested or not UTF-8."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise error(400, "invalid_request", f"The {what} is not valid JSON.") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise error(400, "invalid_request", f"The {what} is nested too deeply.")
    return value


def audit(services: Services, action: str, key: ApiKeyInfo | None, record_id: str | None) -> None:
    """Written before the data leaves: a read that cannot be logged does not happen."""
    services.db.audit(action, key.id if key else None, record_id)


async def read_document(request: Request, services: Services, *, keyed: bool = False) -> tuple[bytes, Form]:
    """The uploaded document (held in memory only) and the other form fields.
    `keyed`: the caller presented an API key (keyed intake has its own upload slots)."""
    settings = services.settings
    with services.uploads.slot(client_id(request), keyed=keyed):
        form = await read_form(request, file_fields={"file": settings.max_bytes}, timeout_s=settings.upload_timeout_s)
    data = form.parts.pop("file", None)
    if data is None:
        raise UploadError(400, "missing_file", "The form has no 'file' part.")
    return data, form


async def run_pipeline(
    request: Request, data: bytes, purpose: str | None, *, keyed: bool = False, review: "Review | None" = None
) -> Outcome:
    """Runner call with metrics and the request's outcome label; runner errors propagate.
    With `review`, a person's boxes are part of it (redactor.pipeline.redact_reviewed)."""
    services = get_services(request)
    state = request.state
    try:
        with services.metrics.pipeline_seconds.time():
            if review is None:
                outcome = await services.runner.run(data, purpose, keyed=keyed)
            else:
                outcome = await services.runner.call(worker.finish, (data, review, purpose), keyed=keyed)
    except Exception as exc:
        label = {"QueueFull": "busy", "RunTimeout": "timeout", "RunnerUnavailable": "busy"}.get(
            type(exc).__name__, "error"
        )
        state.outcome = label
        services.metrics.outcomes.labels(label).inc()
        if label == "busy":
            services.metrics.rejected_busy.inc()
        raise
    state.outcome = outcome.status
    services.metrics.outcomes.labels(outcome.status).inc()
    return outcome


def outcome_error(outcome: Outcome, **extra: Any) -> HTTPException:
    """The HTTP error for a needs_review or rejected outcome."""
    message = "; ".join(outcome.reasons) or outcome.status
    if outcome.status == "needs_review":
        return error(
            422, "needs_review", message, record=outcome.record, explanations=explanations(outcome.reasons), **extra
        )
    code = outcome.reject_code or "unreadable"
    return error(REJECT_STATUS.get(code, 400), code, message)


@router.post(
    "/v1/redactions",
    status_code=201,
    response_model=schemas.Redaction,
    openapi_extra=_UPLOAD_BODY,
    responses={
        202: {"description": "Needs a person and on_review=queue: queued for the review station (review_id)"},
        **schemas.errors(400, 401, 403, 408, 413, 415, 422, 503, 504),
    },
    summary="Redact a document; store only the redacted copy",
    tags=["redactions"],
)
async def create_redaction(
    request: Request, response: Response, key: ApiKeyInfo = Depends(require_scope("submit"))
) -> Any:
    services = get_services(request)
    data, form = await read_document(request, services, keyed=True)
    purpose = clean_purpose(form)
    reference = form.text("reference")
    on_review = form.text("on_review") or "reject"
    if on_review not in ("reject", "queue"):
        raise error(400, "invalid_request", "on_review must be 'reject' or 'queue'.")
    outcome = await run_pipeline(request, data, purpose, keyed=True)
    if outcome.status == "needs_review" and on_review == "queue":
        if not services.settings.review_queue:
            raise outcome_error(outcome, queued=False, queue_message="The review queue is off on this service.")
        row = await run_in_threadpool(
            review_queue.enqueue, services.review, data, outcome,
            source="intake", key_id=key.id, reference=reference, purpose=purpose,
        )
        request.state.outcome = "queued"
        return JSONResponse(
            {
                "review_id": row.id,
                "status": "queued",
                "reasons": list(outcome.reasons),
                "explanations": explanations(outcome.reasons),
                "delete_at": record_time(services.review.delete_at(row)),
                "record": outcome.record,
            },
            status_code=202,
            headers={"Location": f"/v1/reviews/{row.id}"},
        )
    del data  # the original is not needed any more
    if outcome.status != "redacted":
        raise outcome_error(outcome)
    row = await run_in_threadpool(store_redaction, services, outcome, reference, submitted_by=key.id)
    await run_in_threadpool(audit, services, "submit", key, row.id)
    response.headers["Location"] = f"/v1/redactions/{row.id}"
    return _redaction(services, row)


async def _get_row(services: Services, redaction_id: str, key: ApiKeyInfo) -> RedactionRow:
    """The row, when it exists and this key may see it (404 alike otherwise: no hint either way)."""
    row = None
    if _SAFE_ID.match(redaction_id):
        row = await run_in_threadpool(services.db.get_redaction, redaction_id, submitted_by=key.sees_only)
    if row is None:
        raise error(404, "not_found", "No such redaction (it may have been deleted or purged).")
    return row


@router.get(
    "/v1/redactions",
    response_model=schemas.RedactionPage,
    responses=schemas.errors(400, 401, 403),
    summary="List redactions, newest first",
    tags=["redactions"],
)
async def list_redactions(
    request: Request,
    reference: str | None = Query(default=None, max_length=200),
    short_reference: str | None = Query(
        default=None,
        pattern=SHORT_REFERENCE_PATTERN,
        description="the short reference the self-check page showed after sending, e.g. 1A2B-3C4D",
    ),
    page: int = Query(default=1, ge=1, le=100_000),
    per_page: int = Query(default=50, ge=1, le=200),
    key: ApiKeyInfo = Depends(require_scope("read")),
) -> schemas.RedactionPage:
    services = get_services(request)
    id_prefix = short_reference.replace("-", "").lower() if short_reference else None
    rows, total = await run_in_threadpool(
        services.db.list_redactions,
        reference=reference,
        page=page,
        per_page=per_page,
        submitted_by=key.sees_only,
        id_prefix=id_prefix,
    )
    await run_in_threadpool(audit, services, "list", key, None)
    items = [
        schemas.RedactionSummary(
            id=r.id,
            status=r.status,
            reference=r.reference,
            created_at=r.created_at,
            file_url=file_url(services, r.id),
            media_type=r.media_type,
        )
        for r in rows
    ]
    next_page = page + 1 if page * per_page < total else None
    return schemas.RedactionPage(items=items, page=page, per_page=per_page, total=total, next_page=next_page)


@router.get(
    "/v1/redactions/{redaction_id}",
    response_model=schemas.Redaction,
    responses=schemas.errors(401, 403, 404),
    summary="The record of one redaction",
    tags=["redactions"],
)
async def get_redaction(
    redaction_id: str, request: Request, key: ApiKeyInfo = Depends(require_scope("read"))
) -> schemas.Redaction:
    services = get_services(request)
    row = await _get_row(services, redaction_id, key)
    await run_in_threadpool(audit, services, "read", key, row.id)
    return _redaction(services, row)


@router.get(
    "/v1/redactions/{redaction_id}/file",
    responses={200: {"content": {"image/png": {}, "application/pdf": {}}}, **schemas.errors(401, 403, 404)},
    response_class=Response,
    summary="The redacted copy",
    tags=["redactions"],
)
async def get_redaction_file(
    redaction_id: str, request: Request, key: ApiKeyInfo = Depends(require_scope("read"))
) -> Response:
    services = get_services(request)
    row = await _get_row(services, redaction_id, key)
    data = await run_in_threadpool(services.blobs.get, row.blob_key)
    if data is None:
        raise error(404, "not_found", "The redacted copy is gone.")
    if sha256_hex(data) != row.sha256:
        log.error("integrity", extra={"fields": {"detail": "stored copy does not match its record"}})
        raise error(500, "integrity_error", "The stored copy does not match its record.")
    await run_in_threadpool(audit, services, "download", key, row.id)
    return Response(
        content=data,
        media_type=row.media_type,
        headers={"Content-Disposition": f'attachment; filename="{redacted_name(row.id, row.extension)}"'},
    )


@router.delete(
    "/v1/redactions/{redaction_id}",
    status_code=204,
    response_class=Response,
    responses=schemas.errors(401, 403, 404),
    summary="Delete the redacted copy and its record",
    tags=["redactions"],
)
async def delete_redaction(
    redaction_id: str, request: Request, key: ApiKeyInfo = Depends(require_scope("delete"))
) -> Response:
    services = get_services(request)
    row = await _get_row(services, redaction_id, key)
    await run_in_threadpool(remove_redaction, services.db, services.blobs, row, ("delete", key.id))
    return Response(status_code=204)


async def _read_json(request: Request, limit: int) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise error(413, "too_large", "The record is too large.")
    return parse_json(bytes(body), "body")


@router.post(
    "/v1/records/verify",
    response_model=schemas.VerifyResult,
    openapi_extra=_VERIFY_BODY,
    responses=schemas.errors(400, 413, 429),
    dependencies=[Depends(verify_limit)],
    summary="Check a record's signature (and that a file is the copy it describes)",
    tags=["records"],
)
async def verify(request: Request) -> schemas.VerifyResult:
    services = get_services(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    redacted: bytes | None = None
    if content_type == "application/json":
        with services.uploads.slot(client_id(request)):
            body = await _read_json(request, MAX_RECORD_BYTES)
        record = body.get("record") if isinstance(body, dict) else None
    else:
        with services.uploads.slot(client_id(request)):
            form = await read_form(
                request,
                file_fields={"record": MAX_RECORD_BYTES, "file": services.settings.max_bytes},
                timeout_s=services.settings.upload_timeout_s,
            )
        redacted = form.parts.get("file")
        record = parse_json(form.parts["record"], "record") if "record" in form.parts else None
    if not isinstance(record, dict):
        raise error(400, "invalid_request", "Send the record as a JSON object in 'record'.")
    jwks = await run_in_threadpool(services.keys.jwks)
    result = verify_record(record, jwks, redacted)
    return schemas.VerifyResult(valid=result.valid, reason=result.reason, file_checked=redacted is not None)


@router.get("/.well-known/jwks.json", summary="Public keys that verify records", tags=["records"])
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return await run_in_threadpool(get_services(request).keys.jwks)


@router.get("/healthz", response_model=schemas.Health, summary="The process is alive", tags=["operations"])
async def healthz() -> schemas.Health:
    return schemas.Health(status="ok")


def _check_storage(services: Services) -> dict[str, str]:
    checks: dict[str, str] = {}
    for name, probe in (("database", services.db.ping), ("storage", services.blobs.check)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported in plain words; the type goes to the log only
            checks[name] = "failed"
            log.error("readiness check failed", extra={"fields": {"check": name, "error": type(exc).__name__}})
    return checks


@router.get(
    "/readyz",
    response_model=schemas.Readiness,
    responses=schemas.errors(503),
    summary="OCR engine and storage usable",
    tags=["operations"],
)
async def readyz(request: Request) -> schemas.Readiness:
    services = get_services(request)
    checks = await run_in_threadpool(_check_storage, services)
    runner_state = services.runner.state
    # Anyone may ask: say what is not ready, never why (the log has the details).
    checks["engine"] = "ok" if runner_state.ready else ("failed" if runner_state.error else "starting")
    if any(v != "ok" for v in checks.values()):
        raise error(503, "not_ready", "Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"))
    return schemas.Readiness(status="ready", checks=checks)


@router.get(
    "/metrics",
    response_class=Response,
    responses=schemas.errors(401, 403),
    summary="Prometheus metrics (API key with the metrics scope)",
    tags=["operations"],
)
async def metrics(request: Request, _key: ApiKeyInfo = Depends(require_scope("metrics"))) -> Response:
    return Response(get_services(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
