"""Prometheus metrics, in a registry per app (so tests can run several apps in one process).

Label values come from small fixed sets, never from what a client sends: a method outside
KNOWN_METHODS and a path that matched no route are both counted as `other`. Otherwise every
made-up method or path would add a time series and /metrics would grow without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import Scope

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def method_label(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in KNOWN_METHODS else OTHER


def route_label(scope: Scope) -> str:
    """The matched route's template (e.g. /v1/redactions/{redaction_id}), `static` for the page's
    files, `other` for anything else: never the raw path."""
    route = scope.get("route")
    if route is None:
        return OTHER
    path = getattr(route, "path", None)
    return str(path) if path else "static"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    durations: Histogram
    outcomes: Counter
    pipeline_seconds: Histogram
    rejected_busy: Counter

    def render(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics(in_flight: Callable[[], float], capacity: Callable[[], float]) -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    in_flight_gauge = Gauge(
        "redactor_queue_in_flight", "Documents running or waiting in the worker pool", registry=registry
    )
    in_flight_gauge.set_function(in_flight)
    capacity_gauge = Gauge("redactor_queue_capacity", "Documents the pool admits at once", registry=registry)
    capacity_gauge.set_function(capacity)
    return Metrics(
        registry=registry,
        requests=Counter(
            "redactor_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=registry,
        ),
        durations=Histogram(
            "redactor_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        outcomes=Counter(
            "redactor_documents",
            "Documents submitted, by outcome (redacted, needs_review, rejected, timeout, busy, error)",
            ["outcome"],
            registry=registry,
        ),
        pipeline_seconds=Histogram(
            "redactor_pipeline_duration_seconds",
            "Time from admission to pipeline result",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        rejected_busy=Counter(
            "redactor_busy_rejections", "Requests answered 503 because the queue was full", registry=registry
        ),
    )
