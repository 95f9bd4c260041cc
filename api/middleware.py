"""One ASGI middleware around everything: request id, security headers, log line, metrics,
and a JSON 500 for unexpected errors (so even that response carries the security headers).

Pure ASGI rather than BaseHTTPMiddleware: it does not buffer or re-wrap response bodies.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics, method_label, route_label, status_label

log = logging.getLogger("api.access")

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def _extra_headers(scope: Scope, request_id: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    out = list(headers)
    out.extend(h for h in SECURITY_HEADERS if h[0] not in present)
    out.append((b"x-request-id", request_id.encode()))
    # Records and copies hold personal data: no cache anywhere may keep them.
    if scope.get("path", "").startswith("/v1/") and b"cache-control" not in present:
        out.append((b"cache-control", b"no-store"))
    return out


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": _extra_headers(scope, request_id, list(message.get("headers", [])))}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: log the type, answer 500
            status = 500
            log.error(
                "unhandled error",
                extra={"fields": {"request_id": request_id, "route": route_label(scope), "error": type(exc).__name__}},
            )
            if not response_started:
                await _send_500(send_wrapper)
        finally:
            self._record(scope, state, request_id, status, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict[str, Any], request_id: str, status: int, seconds: float) -> None:
        # The same bounded labels in the log line: a made-up method is not echoed anywhere.
        method = method_label(scope)
        route = route_label(scope)
        self.metrics.requests.labels(method, route, status_label(status)).inc()
        self.metrics.durations.labels(method, route).observe(seconds)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        if "outcome" in state:
            fields["outcome"] = state["outcome"]
        if state.get("error_code"):
            fields["error"] = state["error_code"]
        log.info("request", extra={"fields": fields})


async def _send_500(send: Send) -> None:
    body = json.dumps({"detail": {"code": "internal_error", "message": "Internal error."}})
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
