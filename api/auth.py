"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`; 401 without a valid key,
403 when the key lacks the scope (submit, read, delete, metrics) the endpoint needs.
The dependency returns the key's info: routes record its id (submitted_by, audit log) and
apply its `sees_only` restriction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.db import ApiKeyInfo
from api.services import get_services

# auto_error=False: we answer in our own error shape; these objects only document the schemes.
_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={"code": "unauthorized", "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKeyInfo]]:
    async def dependency(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        header_key: str | None = Depends(_header),
    ) -> ApiKeyInfo:
        token = bearer.credentials if bearer else header_key
        if not token:
            raise _unauthorized("An API key is required.")
        info = await run_in_threadpool(get_services(request).db.authenticate, token)
        if info is None:
            raise _unauthorized("The API key is not valid.")
        if scope not in info.scopes:
            raise HTTPException(
                status_code=403,
                detail={"code": "forbidden", "message": f"This API key lacks the '{scope}' scope."},
            )
        return info

    dependency.__name__ = f"require_{scope}"
    return dependency
