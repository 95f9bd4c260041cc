"""The HTTP endpoints. Handlers stay thin: blocking work (SQL, storage, key files) goes to a
thread, the pipeline to the process pool."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api import schemas
from api.auth import require_scope
from api.db import RedactionRow, utc_now
from api.ratelimit import client_id, verify_limit
from api.retention import remove_redaction
from api.services import Services, get_services
from api.upload import Form, UploadError, read_form
from redactor.record import sha256_hex, verify_record

if TYPE_CHECKING:  # the pipeline's heavy imports belong in the workers, not this process
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
MAX_RECORD_BYTES = 1024 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "JPEG, PNG, TIFF, HEIC, WebP or PDF"},
                        "purpose": {"type": "string", "maxLength": 200, "description": "Printed in the watermark"},
                        "reference": {"type": "string", "maxLength": 200, "description": "e.g. the case number"},
                    },
                }
            }
        },
    }
}
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


def store_redaction(services: Services, outcome: "Outcome", reference: str | None) -> RedactionRow:
    """Row first (marked incomplete), then the copy, then mark complete; undo on failure."""
    record = outcome.record
    redaction_id = record.get("record_id")
    if not isinstance(redaction_id, str) or not _SAFE_ID.match(redaction_id):
        raise RuntimeError("the record has no usable record_id")
    if outcome.output is None or outcome.extension not in ("png", "pdf"):
        raise RuntimeError("a redacted outcome without output")
    digest = sha256_hex(outcome.output)
    if record.get("redacted_sha256") != digest:
        raise RuntimeError("the record does not describe the output")
    row = RedactionRow(
        id=redaction_id,
        reference=reference,
        status=outcome.status,
        created_at=utc_now(),
        blob_key=f"{uuid.uuid4().hex}.{outcome.extension}",
        media_type=outcome.media_type or ("application/pdf" if outcome.extension == "pdf" else "image/png"),
        extension=outcome.extension,
        sha256=digest,
        size_bytes=len(outcome.output),
        complete=False,
        record_json=json.dumps(record, ensure_ascii=False),
    )
    services.db.insert_redaction(row)
    try:
        services.blobs.put(row.blob_key, outcome.output, row.media_type)
        services.db.mark_complete(row.id)
    except BaseException:
        try:
            remove_redaction(services.db, services.blobs, row)
        except Exception:  # noqa: BLE001 - the incomplete row stays; the retention purge removes it
            pass
        raise
    row.complete = True
    return row


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


async def run_pipeline(request: Request, data: bytes, purpose: str | None, *, keyed: bool = False) -> Outcome:
    """Runner call with metrics and the request's outcome label; runner errors propagate."""
    services = get_services(request)
    state = request.state
    try:
        with services.metrics.pipeline_seconds.time():
            outcome = await services.runner.run(data, purpose, keyed=keyed)
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


def outcome_error(outcome: Outcome) -> HTTPException:
    """The HTTP error for a needs_review or rejected outcome."""
    message = "; ".join(outcome.reasons) or outcome.status
    if outcome.status == "needs_review":
        return error(422, "needs_review", message, record=outcome.record)
    code = outcome.reject_code or "unreadable"
    return error(REJECT_STATUS.get(code, 400), code, message)


@router.post(
    "/v1/redactions",
    status_code=201,
    response_model=schemas.Redaction,
    openapi_extra=_UPLOAD_BODY,
    responses=schemas.errors(400, 401, 403, 408, 413, 415, 422, 503, 504),
    summary="Redact a document; store only the redacted copy",
    tags=["redactions"],
)
async def create_redaction(
    request: Request, response: Response, _key: Any = Depends(require_scope("submit"))
) -> schemas.Redaction:
    services = get_services(request)
    data, form = await read_document(request, services, keyed=True)
    purpose = form.text("purpose")
    reference = form.text("reference")
    outcome = await run_pipeline(request, data, purpose, keyed=True)
    del data  # the original is not needed any more
    if outcome.status != "redacted":
        raise outcome_error(outcome)
    row = await run_in_threadpool(store_redaction, services, outcome, reference)
    response.headers["Location"] = f"/v1/redactions/{row.id}"
    return _redaction(services, row)


async def _get_row(services: Services, redaction_id: str) -> RedactionRow:
    row = None
    if _SAFE_ID.match(redaction_id):
        row = await run_in_threadpool(services.db.get_redaction, redaction_id)
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
    page: int = Query(default=1, ge=1, le=100_000),
    per_page: int = Query(default=50, ge=1, le=200),
    _key: Any = Depends(require_scope("read")),
) -> schemas.RedactionPage:
    services = get_services(request)
    rows, total = await run_in_threadpool(
        services.db.list_redactions, reference=reference, page=page, per_page=per_page
    )
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
    redaction_id: str, request: Request, _key: Any = Depends(require_scope("read"))
) -> schemas.Redaction:
    services = get_services(request)
    return _redaction(services, await _get_row(services, redaction_id))


@router.get(
    "/v1/redactions/{redaction_id}/file",
    responses={200: {"content": {"image/png": {}, "application/pdf": {}}}, **schemas.errors(401, 403, 404)},
    response_class=Response,
    summary="The redacted copy",
    tags=["redactions"],
)
async def get_redaction_file(
    redaction_id: str, request: Request, _key: Any = Depends(require_scope("read"))
) -> Response:
    services = get_services(request)
    row = await _get_row(services, redaction_id)
    data = await run_in_threadpool(services.blobs.get, row.blob_key)
    if data is None:
        raise error(404, "not_found", "The redacted copy is gone.")
    if sha256_hex(data) != row.sha256:
        log.error("stored copy does not match its record", extra={"fields": {"event": "integrity"}})
        raise error(500, "integrity_error", "The stored copy does not match its record.")
    return Response(
        content=data,
        media_type=row.media_type,
        headers={"Content-Disposition": f'attachment; filename="{row.id}.redacted.{row.extension}"'},
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
    redaction_id: str, request: Request, _key: Any = Depends(require_scope("delete"))
) -> Response:
    services = get_services(request)
    row = await _get_row(services, redaction_id)
    await run_in_threadpool(remove_redaction, services.db, services.blobs, row)
    return Response(status_code=204)


async def _read_json(request: Request, limit: int) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise error(413, "too_large", "The record is too large.")
    try:
        return json.loads(body)
    except ValueError:
        raise error(400, "invalid_request", "The body is not JSON.") from None


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
        try:
            record = json.loads(form.parts["record"]) if "record" in form.parts else None
        except ValueError:
            raise error(400, "invalid_request", "The record is not JSON.") from None
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
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks[name] = f"failed ({type(exc).__name__})"
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
    checks["engine"] = "ok" if runner_state.ready else (runner_state.error or "starting")
    if any(v != "ok" for v in checks.values()):
        raise error(503, "not_ready", "Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok"))
    return schemas.Readiness(status="ready", checks=checks)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics", tags=["operations"])
async def metrics(request: Request) -> Response:
    return Response(get_services(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
