"""Back-pressure and limits of the REST service, on a deliberately tiny configuration:
one worker, no queue, a 1-second deadline, a 3-per-minute verify budget, a 1 MB upload limit."""

from __future__ import annotations

import threading
from typing import Iterator

import httpx
import pytest

from api_support import Server, sample, upload
from conftest import pages_pdf

PASSPORT = "nl_passport_2014_scan300.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server.configure(
        tmp_path_factory.mktemp("api-limits"),
        workers="1",
        queue_size="0",
        request_timeout_s="1.0",
        rate_limit_verify_per_minute="3",
        max_bytes="1000000",
        purge_interval_s="0",
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return server.create_key("submit", "read", "metrics")


def _six_passport_pages() -> bytes:
    """A PDF of six passport pages (one image, stored once: 0.4 MB): about 4 s of work, far
    longer than the 1 s deadline (one passport page alone is done in under one second now)."""
    scan, _ = sample(PASSPORT, "redacted")
    return pages_pdf(scan, 6)


def test_full_queue_is_503_with_retry_after_and_slow_work_is_504(server: Server, key: str) -> None:
    document = _six_passport_pages()
    first_done = threading.Event()
    results: dict[str, httpx.Response] = {}

    def slow() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            results["first"] = upload(c, document, key=key)
        first_done.set()

    auth = {"Authorization": f"Bearer {key}"}
    thread = threading.Thread(target=slow)
    thread.start()
    with httpx.Client(base_url=server.url, timeout=60) as c:
        # Wait until the first document holds the only slot, then knock.
        for _ in range(200):
            if "redactor_queue_in_flight 1.0" in c.get("/metrics", headers=auth).text:
                break
            first_done.wait(0.02)
        busy = upload(c, document, key=key)
    thread.join(60)

    assert busy.status_code == 503, busy.text
    assert busy.json()["detail"]["code"] == "busy"
    assert int(busy.headers["retry-after"]) >= 1
    timed_out = results["first"]
    assert timed_out.status_code == 504, timed_out.text
    assert timed_out.json()["detail"]["code"] == "timeout"
    assert server.db_row_count() == 0 and server.stored_files() == []


def test_worker_survives_a_timeout(server: Server, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=60) as c:
        # The worker stopped the slow document itself and frees its slot.
        for _ in range(100):
            if "redactor_queue_in_flight 0.0" in c.get("/metrics", headers=auth).text:
                break
            threading.Event().wait(0.1)
        assert c.get("/readyz").status_code == 200
        empty = upload(c, b"", key=key)
        assert empty.status_code == 400 and empty.json()["detail"]["code"] == "empty"


def test_upload_limit_is_configurable(server: Server, key: str) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        response = upload(c, b"\xff\xd8\xff" + b"\0" * 1_000_001, key=key)
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "too_large"


def test_verify_is_rate_limited_per_client(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        statuses = [c.post("/v1/records/verify", json={"record": {}}).status_code for _ in range(3)]
        limited = c.post("/v1/records/verify", json={"record": {}})
    assert statuses == [200, 200, 200]  # answered (an unsigned record is simply not valid)
    assert limited.status_code == 429
    assert limited.json()["detail"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_x_forwarded_for_is_not_trusted_by_default(server: Server) -> None:
    """No proxy is configured: a client cannot pick a fresh address (and budget) per request."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        statuses = [
            c.post("/v1/records/verify", json={"record": {}}, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(1, 6)
        ]
    assert 429 in statuses, statuses  # a budget of 3 per minute, whatever the header says
