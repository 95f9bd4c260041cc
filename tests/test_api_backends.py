"""The multi-instance backends: PostgreSQL for records and an S3-compatible store for copies.

PostgreSQL: REDACTOR_TEST_POSTGRES_URL (scripts/ci-services.sh starts a local server in CI);
skipped when unset, and a failure (not a skip) when set but unreachable. S3: a moto server on
loopback (moto is a dev dependency).
Both servers also run the scheduled retention purge with a few seconds of retention.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from api_support import Server, sample, upload

PASSPORT = "nl_passport_2014_scan300.jpg"
RETENTION_S = 4.0
BUCKET = "redacted-test"


def _short_retention() -> dict[str, str]:
    return {
        "retention_days": str(RETENTION_S / 86400),
        "purge_interval_s": "0.5",
        "workers": "1",
        "request_timeout_s": "600",  # these tests check storage, not speed
    }


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("REDACTOR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("REDACTOR_TEST_POSTGRES_URL not set (scripts/ci-services.sh starts PostgreSQL)")
    from sqlalchemy import create_engine

    from api.db import Base

    engine = create_engine(url)
    try:
        Base.metadata.drop_all(engine)  # a dedicated test database: start empty
    except Exception as exc:  # noqa: BLE001 - the URL is set, so the server must be there
        pytest.fail(f"PostgreSQL at REDACTOR_TEST_POSTGRES_URL is not reachable ({type(exc).__name__}: {exc})")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def pg_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server.configure(tmp_path_factory.mktemp("api-pg"), database_url=postgres_url, **_short_retention())
    srv.start()
    yield srv
    srv.stop()


def _pg_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM redactions")).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_stores_serves_and_purges(pg_server: Server, postgres_url: str) -> None:
    key = pg_server.create_key("submit", "read")
    document, _ = sample(PASSPORT, "redacted")
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=pg_server.url, timeout=600) as c:
        created = upload(c, document, key=key, reference="pg-case")
        assert created.status_code == 201, created.text
        body = created.json()
        assert _pg_rows(postgres_url) == 1
        assert not pg_server.db_path.exists()  # nothing went to the embedded SQLite
        listed = c.get("/v1/redactions", params={"reference": "pg-case"}, headers=auth).json()
        assert [i["id"] for i in listed["items"]] == [body["id"]]
        assert c.get(body["file_url"], headers=auth).status_code == 200
        # The scheduled purge removes it once past the (few seconds) retention.
        assert _wait_until(lambda: c.get(f"/v1/redactions/{body['id']}", headers=auth).status_code == 404, 30)
    assert _pg_rows(postgres_url) == 0
    assert pg_server.stored_files() == []


@pytest.mark.postgres
def test_two_instances_share_one_postgres(pg_server: Server, postgres_url: str, tmp_path_factory: Any) -> None:
    """A second instance on the same database and storage starts (schema creation is race-safe)
    and accepts the keys created through the first."""
    key = pg_server.create_key("read")
    second = Server.configure(
        tmp_path_factory.mktemp("api-pg-2"),
        database_url=postgres_url,
        storage_url=str(pg_server.storage_dir),
        workers="1",
        purge_interval_s="0",
    )
    second.start()
    try:
        response = httpx.get(f"{second.url}/v1/redactions", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert response.status_code == 200
    finally:
        second.stop()


# --- S3 (moto) --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3_server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server.configure(
        tmp_path_factory.mktemp("api-s3"),
        storage_url=f"s3://{BUCKET}/copies",
        s3_endpoint_url=s3_endpoint,
        s3_create_bucket="true",
        **_short_retention(),
    )
    srv.env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"})
    srv.start()
    yield srv
    srv.stop()


def _bucket_keys(endpoint: str) -> list[str]:
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_s3_stores_serves_and_purges(s3_server: Server, s3_endpoint: str) -> None:
    key = s3_server.create_key("submit", "read", "delete")
    document, _ = sample(PASSPORT, "redacted")
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=s3_server.url, timeout=600) as c:
        assert c.get("/readyz").json()["checks"]["storage"] == "ok"
        created = upload(c, document, key=key)
        assert created.status_code == 201, created.text
        body = created.json()
        objects = _bucket_keys(s3_endpoint)
        assert len(objects) == 1 and objects[0].startswith("copies/")
        assert s3_server.stored_files() == []  # not on local disk
        copy = c.get(body["file_url"], headers=auth)
        assert copy.status_code == 200 and copy.content.startswith(b"\x89PNG")
        assert _wait_until(lambda: c.get(f"/v1/redactions/{body['id']}", headers=auth).status_code == 404, 30)
    assert _bucket_keys(s3_endpoint) == []
