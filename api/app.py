"""The FastAPI application: `create_app(settings)` wires storage, the worker pool, limits,
metrics, error shapes and the routes (ours, the self-check page's, then the static page)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import redactor
from api import openapi
from api.metrics import create_metrics
from api.middleware import ServiceMiddleware
from api.ratelimit import RateLimiter
from api.retention import purge_periodically
from api import review_routes
from api.routes import router
from api.runner import PoolRunner, QueueFull, RunnerUnavailable, RunTimeout
from api.selfcheck import router as selfcheck_router
from api.services import Services, open_blobs, open_database, open_review_queue
from api.settings import ApiSettings
from api.upload import BodyTimeout, UploadError, UploadGate
from redactor.record import KeyStore

log = logging.getLogger("api")
STATIC_DIR = Path(__file__).parent / "static"
_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_type",
    429: "rate_limited",
    503: "unavailable",
}


def _json_error(request: Request, status: int, detail: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    # The code (never the message) goes into the request's log line (api/middleware.py).
    request.state.error_code = detail.get("code")
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    """Every non-2xx answer has the shape {"detail": {"code": ..., "message": ...}}."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if not (isinstance(detail, dict) and "code" in detail):
            detail = {"code": _STATUS_CODES.get(exc.status_code, "error"), "message": str(detail)}
        return _json_error(request, exc.status_code, detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _json_error(request, 400, {"code": "invalid_request", "message": problems or "Invalid request."})

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return _json_error(request, exc.status, {"code": exc.code, "message": exc.message}, headers)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        message = "All workers are busy and the queue is full; try again later."
        return _json_error(request, 503, {"code": "busy", "message": message}, {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RunnerUnavailable)
    async def unavailable(request: Request, exc: RunnerUnavailable) -> JSONResponse:
        message = "The redaction engine is starting or restarting; try again later."
        return _json_error(request, 503, {"code": "unavailable", "message": message}, {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RunTimeout)
    async def timeout(request: Request, _exc: RunTimeout) -> JSONResponse:
        message = "The document was not done within the time limit; nothing was stored."
        return _json_error(request, 504, {"code": "timeout", "message": message})


def build_services(settings: ApiSettings) -> Services:
    runner = PoolRunner(settings)
    db = open_database(settings)
    return Services(
        settings=settings,
        db=db,
        blobs=open_blobs(settings),
        keys=KeyStore(settings.key_dir),
        runner=runner,
        uploads=UploadGate(settings.admission_capacity(), settings.public_capacity(), settings.uploads_per_client),
        metrics=create_metrics(lambda: runner.in_flight, lambda: runner.capacity),
        rate_limiters={
            "selfcheck": RateLimiter(settings.rate_limit_selfcheck_per_minute),
            "verify": RateLimiter(settings.rate_limit_verify_per_minute),
        },
        review=open_review_queue(settings, db),
    )


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    services = build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.db.create_schema)
        await run_in_threadpool(services.keys.signing_key)  # create the key before workers race for it
        await services.runner.start()
        tasks = []
        if settings.purge_interval_s > 0:
            tasks.append(asyncio.create_task(purge_periodically(services, settings.purge_interval_s)))
        if services.review.watch is not None:
            tasks.append(asyncio.create_task(review_routes.watch_folder_periodically(services)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.runner.stop()
            services.db.dispose()

    app = FastAPI(
        title="ID-document redaction service",
        version=redactor.__version__,
        description="Blacks out BSNs and portraits on identity documents; keeps only the redacted copy.",
        lifespan=lifespan,
        # FastAPI's Swagger UI page loads from a CDN, which the CSP (and these machines)
        # forbid: api/openapi.py serves it from local files instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.runner = services.runner
    app.state.rate_limiters = services.rate_limiters
    _install_error_handlers(app)
    app.add_middleware(BodyTimeout, timeout_s=settings.upload_timeout_s)  # every body, not only uploads
    app.add_middleware(ServiceMiddleware, metrics=services.metrics)
    app.include_router(router)
    app.include_router(selfcheck_router)
    app.include_router(review_routes.router)
    openapi.install(app)

    @app.get("/review", include_in_schema=False)
    async def review_page() -> FileResponse:
        """The review station's page (its API calls carry a key with the `review` scope)."""
        return FileResponse(STATIC_DIR / "review.html", headers={"Cache-Control": "no-store"})

    if STATIC_DIR.is_dir():  # mounted last, so /v1, /healthz, ... win over files
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
