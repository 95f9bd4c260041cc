"""Hardening of the REST service against hostile clients (issue 10, findings 4-9), each against a
real `redactor serve` on loopback with real SQLite, real key files and (once) the real pipeline.

The self-check "send" tests sign their records with the server's own key directory: that is
exactly what the server itself hands a requester, without running the pipeline for each one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from api_support import Server, run_cli, sample, upload
from redactor.formats import PNG_MAGIC
from redactor.record import KeyStore, build_record, record_time, utc_now

PASSPORT = "nl_passport_2014_scan300.jpg"
SEND_REFERENCE = "security-test"
CASE_REFERENCE = "case-wal-7f3a9c"  # must not survive a DELETE anywhere in the database files


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("api-security")
    srv = Server.configure(
        base,
        workers="1",
        purge_interval_s="0",
        request_timeout_s="600",  # the one real document must not time out on a busy machine
        selfcheck_send_reference=SEND_REFERENCE,
        rate_limit_selfcheck_per_minute="1000",
    )
    (base / "home").mkdir()
    srv.env["HOME"] = str(base / "home")  # anything written under ~ shows up here
    srv.env.pop("XDG_CACHE_HOME", None)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=600) as c:
        yield c


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    return {
        "owner": server.create_key("submit", "read", name="intake"),
        "reader": server.create_key("read", name="staff"),
        "deleter": server.create_key("read", "delete", name="privacy-office"),
        "metrics": server.create_key("metrics", name="prometheus"),
    }


def key_id(key: str) -> str:
    return key.split("_")[1]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def submitted(client: httpx.Client, keys: dict[str, str]) -> dict[str, Any]:
    """One real passport through the real pipeline, stored under CASE_REFERENCE by `owner`."""
    document, _ = sample(PASSPORT, "redacted")
    response = upload(client, document, key=keys["owner"], reference=CASE_REFERENCE)
    assert response.status_code == 201, response.text
    return response.json()


def signed(server: Server, *, issued_at: Any = None, document: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes]:
    """A self-check result as the server would hand it out: a copy and its record, signed with the
    server's current key."""
    data = PNG_MAGIC + os.urandom(64)
    record = build_record(status="redacted", reasons=[], output=data)
    if issued_at is not None:
        record["issued_at"] = record_time(issued_at)
    if document is not None:
        record["document"] = document
    return KeyStore(Path(server.env["REDACTOR_KEY_DIR"])).sign(record), data


def send(client: httpx.Client, record: dict[str, Any], data: bytes) -> httpx.Response:
    form = {"record": (None, json.dumps(record)), "file": ("copy.png", data, "image/png")}
    return client.post("/v1/self-check/send", files=form)


def rows(server: Server, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.db_path) as conn:
        return conn.execute(sql, params).fetchall()


def database_bytes(server: Server) -> bytes:
    files = [server.db_path, server.db_path.with_name(server.db_path.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.exists())


# --- 4: /metrics --------------------------------------------------------------------------------


def test_metrics_need_the_metrics_scope(client: httpx.Client, keys: dict[str, str]) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(keys["reader"])).status_code == 403
    scraped = client.get("/metrics", headers=auth(keys["metrics"]))
    assert scraped.status_code == 200 and "redactor_http_requests_total" in scraped.text


def test_made_up_methods_and_paths_do_not_grow_metrics(client: httpx.Client, keys: dict[str, str]) -> None:
    def series() -> list[str]:
        text = client.get("/metrics", headers=auth(keys["metrics"])).text
        return [line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith("redactor_http_")]

    for i in range(60):
        client.request(f"XMETHOD{i}", f"/made-up-{i}/x")
        client.request(f"XMETHOD{i}", "/healthz")
    first = series()
    for i in range(60, 160):
        client.request(f"XMETHOD{i}", f"/made-up-{i}/x")
        client.request(f"XMETHOD{i}", "/healthz")
    second = series()
    text = "\n".join(second)
    assert "XMETHOD" not in text and "made-up" not in text
    assert 'method="other"' in text
    assert second == first  # 200 more made-up requests added no time series


# --- 5: a self-check record is stored once ------------------------------------------------------


def test_a_deleted_copy_cannot_be_sent_again(server: Server, client: httpx.Client, keys: dict[str, str]) -> None:
    record, data = signed(server)
    first = send(client, record, data)
    assert first.status_code == 200 and first.json()["stored"] is True, first.text
    deleted = client.delete(f"/v1/redactions/{record['record_id']}", headers=auth(keys["deleter"]))
    assert deleted.status_code == 204
    again = send(client, record, data)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert rows(server, "SELECT count(*) FROM redactions WHERE id = ?", record["record_id"]) == [(0,)]


def test_a_purged_copy_cannot_be_sent_again(server: Server, client: httpx.Client) -> None:
    record, data = signed(server)
    assert send(client, record, data).json()["stored"] is True
    purged = run_cli(["purge", "--older-than-days", "0"], server.env)
    assert purged.returncode == 0, purged.stderr
    assert rows(server, "SELECT count(*) FROM redactions WHERE id = ?", record["record_id"]) == [(0,)]
    again = send(client, record, data)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert rows(server, "SELECT count(*) FROM redactions WHERE id = ?", record["record_id"]) == [(0,)]


def test_records_dated_in_the_future_are_refused(server: Server, client: httpx.Client) -> None:
    future, data = signed(server, issued_at=utc_now() + timedelta(minutes=5))
    refused = send(client, future, data)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detail"]["code"] == "invalid_record" and "future" in refused.json()["detail"]["message"]
    assert rows(server, "SELECT count(*) FROM redactions WHERE id = ?", future["record_id"]) == [(0,)]
    slightly_ahead, data = signed(server, issued_at=utc_now() + timedelta(seconds=20))  # clock skew
    assert send(client, slightly_ahead, data).json()["stored"] is True


# --- 8: small ones --------------------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(client: httpx.Client) -> None:
    deep = b'{"record": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/v1/records/verify", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]["code"] == "invalid_request"
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"a": nested}
    as_form = client.post("/v1/records/verify", files={"record": (None, json.dumps({"signature": "x", "n": nested}))})
    assert as_form.status_code == 400 and as_form.json()["detail"]["code"] == "invalid_request"


def test_verify_reasons_name_no_exception_classes(client: httpx.Client) -> None:
    for signature in ("x.y.z", "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoibm9uZSJ9.e30.AAAA", "eyJhbGciOiJFZDI1NTE5In0..."):
        result = client.post("/v1/records/verify", json={"record": {"signature": signature}}).json()
        assert result["valid"] is False
        assert "Error" not in result["reason"] and "(" not in result["reason"], result["reason"]


def test_readyz_names_no_exception_classes(server: Server, client: httpx.Client) -> None:
    moved = server.storage_dir.with_name("redacted-moved")
    server.storage_dir.rename(moved)
    server.storage_dir.write_bytes(b"")  # a file where the storage directory should be
    try:
        response = client.get("/readyz")
    finally:
        server.storage_dir.unlink()
        moved.rename(server.storage_dir)
    assert response.status_code == 503
    message = response.json()["detail"]["message"]
    assert "storage failed" in message and "Error" not in message and "(" not in message, message
    assert client.get("/readyz").status_code == 200


def test_nothing_is_written_under_home(server: Server, submitted: dict[str, Any]) -> None:
    home = Path(server.env["HOME"])
    assert submitted["status"] == "redacted"  # the OCR and face models ran in a worker
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


# --- 9: accountability ------------------------------------------------------------------------------


def test_a_copy_records_the_key_that_submitted_it(server: Server, keys: dict[str, str], submitted: dict[str, Any]) -> None:
    assert rows(server, "SELECT submitted_by FROM redactions WHERE id = ?", submitted["id"]) == [(key_id(keys["owner"]),)]


def test_a_read_key_can_be_limited_to_one_submit_keys_copies(
    server: Server, client: httpx.Client, keys: dict[str, str], submitted: dict[str, Any]
) -> None:
    created = run_cli(
        ["apikey", "create", "--name", "case-viewer", "--scope", "read", "--only-submitted-by", key_id(keys["owner"])],
        server.env,
    )
    assert created.returncode == 0, created.stderr
    limited = auth(created.stdout.splitlines()[0])
    other, data = signed(server)  # stored by the self-check page, not by `owner`
    assert send(client, other, data).json()["stored"] is True

    everything = {i["id"] for i in client.get("/v1/redactions", headers=auth(keys["reader"])).json()["items"]}
    assert {submitted["id"], other["record_id"]} <= everything
    visible = {i["id"] for i in client.get("/v1/redactions", headers=limited).json()["items"]}
    assert visible == {submitted["id"]}
    assert client.get(f"/v1/redactions/{submitted['id']}", headers=limited).status_code == 200
    assert client.get(f"/v1/redactions/{other['record_id']}", headers=limited).status_code == 404
    assert client.get(f"/v1/redactions/{other['record_id']}/file", headers=limited).status_code == 404
    unknown = run_cli(["apikey", "create", "--name", "x", "--scope", "read", "--only-submitted-by", "nope"], server.env)
    assert unknown.returncode == 2 and "no key with id nope" in unknown.stderr


def test_deleted_data_leaves_the_database_files(
    server: Server, client: httpx.Client, keys: dict[str, str], submitted: dict[str, Any]
) -> None:
    data_dir_mode = stat.S_IMODE(server.data_dir.stat().st_mode)
    assert data_dir_mode == 0o700, oct(data_dir_mode)
    for path in server.data_dir.glob("redactor.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))
    surname = submitted["record"]["document"]["surname"].encode()
    before = database_bytes(server)
    assert CASE_REFERENCE.encode() in before and surname in before  # the check below can fail
    response = client.delete(f"/v1/redactions/{submitted['id']}", headers=auth(keys["deleter"]))
    assert response.status_code == 204
    after = database_bytes(server)
    assert CASE_REFERENCE.encode() not in after
    assert surname not in after


def test_audit_log_shows_who_did_what(
    server: Server, client: httpx.Client, keys: dict[str, str], submitted: dict[str, Any]
) -> None:
    record, data = signed(server)
    assert send(client, record, data).json()["stored"] is True
    reader = auth(keys["reader"])
    assert client.get(f"/v1/redactions/{record['record_id']}", headers=reader).status_code == 200
    assert client.get(f"/v1/redactions/{record['record_id']}/file", headers=reader).status_code == 200
    assert client.delete(f"/v1/redactions/{record['record_id']}", headers=auth(keys["deleter"])).status_code == 204

    result = run_cli(["audit", "--json"], server.env)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    seen = {(e["action"], e["key_id"], e["record_id"]) for e in entries}
    assert ("submit", key_id(keys["owner"]), submitted["id"]) in seen
    assert ("delete", key_id(keys["deleter"]), submitted["id"]) in seen  # by the test above
    assert ("send", None, record["record_id"]) in seen
    assert ("read", key_id(keys["reader"]), record["record_id"]) in seen
    assert ("download", key_id(keys["reader"]), record["record_id"]) in seen
    assert ("delete", key_id(keys["deleter"]), record["record_id"]) in seen
    assert any(e["action"] == "purge" and e["key_id"] is None for e in entries)  # the purge test
    assert any(e["action"] == "list" and e["key_id"] == key_id(keys["reader"]) for e in entries)
    assert CASE_REFERENCE not in result.stdout  # time, action, key and record id only

    one = run_cli(["audit", "--record", record["record_id"]], server.env)
    assert one.returncode == 0 and [line.split()[1] for line in one.stdout.splitlines()] == [
        "send", "read", "download", "delete"
    ]
    with sqlite3.connect(server.db_path) as conn:
        for statement in ("UPDATE audit_log SET key_id = 'someone'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)


# --- 7: key rotation (last: it retires the key the records above were signed with) ---------------


def test_rotation_keeps_only_public_parts_and_bounds_retired_keys(server: Server, client: httpx.Client, tmp_path: Path) -> None:
    key_dir = Path(server.env["REDACTOR_KEY_DIR"])
    old_key = tmp_path / "old"
    old_key.mkdir()
    (old_key / "current.jwk").write_bytes((key_dir / "current.jwk").read_bytes())
    before, data = signed(server)

    rotated = run_cli(["keys", "rotate"], server.env)
    assert rotated.returncode == 0, rotated.stderr
    private = sorted(p.name for p in key_dir.glob("*.jwk") if "d" in json.loads(p.read_text()))
    assert private == ["current.jwk"]
    retired = [json.loads(p.read_text()) for p in key_dir.glob("*.jwk") if p.name != "current.jwk"]
    assert len(retired) == 1 and retired[0]["retired_at"]

    # Signed before the retirement: still verifies. Signed with the old key afterwards: never.
    assert client.post("/v1/records/verify", json={"record": before}).json()["valid"] is True
    late = build_record(status="redacted", reasons=[], output=data)
    late["issued_at"] = record_time(utc_now() + timedelta(seconds=2))
    forged = KeyStore(old_key).sign(late)
    result = client.post("/v1/records/verify", json={"record": forged}).json()
    assert result["valid"] is False and "retired" in result["reason"]
    # Sending wants the current key, even for a record that is valid and recent.
    refused = send(client, before, data)
    assert refused.status_code == 400 and refused.json()["detail"]["code"] == "invalid_record"
