"""Per-client request budgets for the endpoints that need no API key (self-check, verify).

A token bucket per client address, in memory: each instance limits on its own, which is
enough to stop one client from monopolising the workers. Use as a FastAPI dependency:

    @router.post("/v1/selfcheck", dependencies=[Depends(selfcheck_limit)])

The budgets come from ApiSettings (rate_limit_<name>_per_minute) via `app.state.rate_limiters`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`per_minute` requests per client per minute, with bursts up to the same number."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.capacity = float(max(1, per_minute))
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def hit(self, client: str, now: float | None = None) -> float | None:
        """Take one token; return None when allowed, else the seconds until the next token."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(client, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[client] = bucket  # most recently used last
        while len(self._buckets) > self.max_clients:  # memory stays bounded under address churn
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate


def client_id(request: Request) -> str:
    # request.client is the peer, or the X-Forwarded-For address when uvicorn trusts the proxy.
    return request.client.host if request.client else "unknown"


def per_client(name: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency enforcing the limiter `name` from app.state.rate_limiters; 429 when over budget."""

    async def dependency(request: Request) -> None:
        limiter: RateLimiter | None = getattr(request.app.state, "rate_limiters", {}).get(name)
        if limiter is None:
            return
        wait = limiter.hit(client_id(request))
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail={"code": "rate_limited", "message": "Too many requests from this client; try again later."},
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    dependency.__name__ = f"rate_limit_{name}"
    return dependency


selfcheck_limit = per_client("selfcheck")
verify_limit = per_client("verify")
