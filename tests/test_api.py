"""The REST service end to end: a real uvicorn on a loopback port, real pipeline, real sample
documents, embedded SQLite + local directory storage."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from api_support import (
    Server,
    all_personal_numbers,
    encrypted_pdf,
    png_header,
    run_cli,
    sample,
    truncated_jpeg,
    upload,
)
from redactor.record import KeyStore, sha256_hex

PASSPORT = "nl_passport_2014_scan300.jpg"
TWO_PAGE_PDF = "nl_idcard_2014_two_pages.pdf"
NEEDS_REVIEW = "letter_with_photo.jpg"
# A file name a requester might send; it must never reach the logs or the storage.
REQUESTER_FILE_NAME = "Paspoort-Jansen-privacyverzoek.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A generous deadline: these tests check answers, not speed, and CI machines can be slow.
    srv = Server.configure(tmp_path_factory.mktemp("api"), workers="2", purge_interval_s="0", request_timeout_s="600")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_keys(server: Server) -> dict[str, str]:
    return {
        "all": server.create_key("submit", "read", "delete", name="staff"),
        "submit": server.create_key("submit", name="intake-form"),
        "read": server.create_key("read", name="viewer"),
        "metrics": server.create_key("metrics", name="prometheus"),
    }


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=600) as c:
        yield c


@pytest.fixture(scope="module")
def submitted(server: Server, api_keys: dict[str, str]) -> dict[str, httpx.Response]:
    """The three real documents, submitted at once (two workers share them)."""
    passport, _ = sample(PASSPORT, "redacted")
    pdf, _ = sample(TWO_PAGE_PDF, "redacted")
    letter, _ = sample(NEEDS_REVIEW, "needs_review")
    before_files, before_rows = server.stored_files(), server.db_row_count()
    assert before_files == [] and before_rows == 0

    def send(args: tuple[str, bytes, dict[str, str]]) -> tuple[str, httpx.Response]:
        name, data, fields = args
        with httpx.Client(base_url=server.url, timeout=600) as c:
            return name, upload(c, data, key=api_keys["submit"], filename=REQUESTER_FILE_NAME, **fields)

    jobs = [
        ("passport", passport, {"reference": "case-A", "purpose": "Privacyverzoek gemeente"}),
        # A PDF sent under a JPEG name and type: the service goes by the bytes.
        ("pdf", pdf, {"reference": "case-B"}),
        ("review", letter, {"reference": "case-C"}),
    ]
    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(send, jobs))


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"detail"}, body
    assert {"code", "message"} <= set(body["detail"]), body
    return body["detail"]


# --- operations ---------------------------------------------------------------------------


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "engine": "ok"}


def test_openapi_documents_every_endpoint(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/v1/redactions"]) and {"get"} <= set(paths["/v1/redactions"])
    assert {"get", "delete"} <= set(paths["/v1/redactions/{redaction_id}"])
    for path in ("/v1/redactions/{redaction_id}/file", "/v1/records/verify", "/.well-known/jwks.json",
                 "/healthz", "/readyz", "/metrics", "/v1/reviews", "/v1/reviews/{review_id}",
                 "/v1/reviews/{review_id}/pages/{n}", "/v1/reviews/{review_id}/publish", "/v1/reviews/{review_id}/reject"):
        assert path in paths
    upload_schema = paths["/v1/redactions"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(upload_schema["properties"]) == {"file", "purpose", "reference", "on_review"}


def test_openapi_tells_the_truth_about_errors_bodies_and_the_record(client: httpx.Client, api_keys: dict[str, str]) -> None:
    schema = client.get("/openapi.json").json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            # A malformed request answers 400 invalid_request; 422 means needs_review only.
            assert "422" not in responses or "needs_review" in responses["422"]["description"], (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in responses, (method, path)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    # ... which is what the service really does with a malformed query.
    malformed = client.get("/v1/redactions", params={"per_page": "many"}, headers={"Authorization": f"Bearer {api_keys['read']}"})
    assert malformed.status_code == 400 and error(malformed)["code"] == "invalid_request"
    bodies = {
        path: schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        for path in ("/v1/self-check", "/v1/self-check/send")
    }
    assert set(bodies["/v1/self-check"]["properties"]) == {"file", "purpose", "regions"}
    assert set(bodies["/v1/self-check/send"]["properties"]) == {"record", "file"}
    # The record has a schema, not "object".
    record_ref = schema["components"]["schemas"]["Redaction"]["properties"]["record"]["allOf"][0]["$ref"]
    record = schema["components"]["schemas"][record_ref.rsplit("/", 1)[1]]
    assert {"record_id", "status", "redactions", "redacted_sha256", "signature"} <= set(record["properties"])


def test_security_headers_on_every_kind_of_response(client: httpx.Client) -> None:
    for response in (client.get("/healthz"), client.get("/v1/redactions"), client.get("/no/such/thing"),
                     client.get("/")):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "object-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-request-id"]


def test_unknown_path_gets_the_error_shape(client: httpx.Client) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


# --- authorisation ------------------------------------------------------------------------


def test_submit_needs_a_key(client: httpx.Client, api_keys: dict[str, str]) -> None:
    data, _ = sample(PASSPORT, "redacted")
    missing = upload(client, data, key=None)
    assert missing.status_code == 401 and error(missing)["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = upload(client, data, key="rdk_000000000000_not-a-real-key")
    assert wrong.status_code == 401
    garbage = upload(client, data, key="hello")
    assert garbage.status_code == 401
    read_only = upload(client, data, key=api_keys["read"])
    assert read_only.status_code == 403 and error(read_only)["code"] == "forbidden"


def test_x_api_key_header_works_too(client: httpx.Client, api_keys: dict[str, str]) -> None:
    response = client.get("/v1/redactions", headers={"X-API-Key": api_keys["read"]})
    assert response.status_code == 200


def test_scopes_for_reading_and_deleting(client: httpx.Client, api_keys: dict[str, str]) -> None:
    submit_only = {"Authorization": f"Bearer {api_keys['submit']}"}
    assert client.get("/v1/redactions", headers=submit_only).status_code == 403
    assert client.get("/v1/redactions/some-id", headers=submit_only).status_code == 403
    assert client.get("/v1/redactions/some-id/file", headers=submit_only).status_code == 403
    read_only = {"Authorization": f"Bearer {api_keys['read']}"}
    assert client.delete("/v1/redactions/some-id", headers=read_only).status_code == 403
    assert client.get("/v1/redactions").status_code == 401


def test_revoked_key_is_refused(server: Server, client: httpx.Client) -> None:
    key = server.create_key("read", name="leaver")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/redactions", headers=headers).status_code == 200
    key_id = key.split("_")[1]
    revoked = run_cli(["apikey", "revoke", key_id], server.env)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/v1/redactions", headers=headers).status_code == 401


def test_keys_are_stored_hashed(server: Server, api_keys: dict[str, str]) -> None:
    with sqlite3.connect(server.db_path) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM api_keys") for v in row)
    for key in api_keys.values():
        assert key.split("_", 2)[2] not in stored


# --- a redacted document ------------------------------------------------------------------


def test_redacted_document_is_stored_and_served(
    server: Server, client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    created = submitted["passport"]
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "redacted" and body["reference"] == "case-A"
    assert body["record"]["status"] == "redacted"
    assert created.headers["location"] == f"/v1/redactions/{body['id']}"
    assert body["file_url"] == f"/v1/redactions/{body['id']}/file"

    read = {"Authorization": f"Bearer {api_keys['read']}"}
    record = client.get(f"/v1/redactions/{body['id']}", headers=read)
    assert record.status_code == 200 and record.json()["record"] == body["record"]
    assert record.headers["cache-control"] == "no-store"

    copy = client.get(body["file_url"], headers=read)
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "image/png"
    assert copy.content.startswith(b"\x89PNG")
    assert sha256_hex(copy.content) == body["record"]["redacted_sha256"]
    # Only the redacted copy is on disk: byte-identical to what is served.
    stored = [(server.storage_dir / name).read_bytes() for name in server.stored_files()]
    assert copy.content in stored


def test_type_is_judged_from_the_bytes(submitted: dict[str, httpx.Response]) -> None:
    created = submitted["pdf"]  # sent as "…jpg", image/jpeg
    assert created.status_code == 201, created.text
    assert created.json()["media_type"] == "application/pdf"


def test_requester_file_name_is_not_kept(server: Server, submitted: dict[str, httpx.Response]) -> None:
    assert all(REQUESTER_FILE_NAME not in name for name in server.stored_files())
    with sqlite3.connect(server.db_path) as conn:
        dump = "\n".join(conn.iterdump())
    assert REQUESTER_FILE_NAME not in dump


def test_list_is_paginated_and_filtered(
    client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    read = {"Authorization": f"Bearer {api_keys['read']}"}
    ids = {submitted["passport"].json()["id"], submitted["pdf"].json()["id"]}
    first = client.get("/v1/redactions", params={"per_page": 1}, headers=read).json()
    assert first["total"] == 2 and len(first["items"]) == 1 and first["next_page"] == 2
    second = client.get("/v1/redactions", params={"per_page": 1, "page": 2}, headers=read).json()
    assert len(second["items"]) == 1 and second["next_page"] is None
    # The two pages together are exactly the two stored documents, each once.
    assert sorted([first["items"][0]["id"], second["items"][0]["id"]]) == sorted(ids)
    only_a = client.get("/v1/redactions", params={"reference": "case-A"}, headers=read).json()
    assert [i["id"] for i in only_a["items"]] == [submitted["passport"].json()["id"]]
    assert only_a["next_page"] is None
    bad_page = client.get("/v1/redactions", params={"page": 0}, headers=read)
    assert bad_page.status_code == 400 and error(bad_page)["code"] == "invalid_request"
    # The short reference a requester reads out on the phone finds the copy too.
    passport_id = submitted["passport"].json()["id"]
    short = passport_id.replace("-", "")[:8].upper()
    by_short = client.get("/v1/redactions", params={"short_reference": f"{short[:4]}-{short[4:]}"}, headers=read).json()
    assert [i["id"] for i in by_short["items"]] == [passport_id]


# --- needs review: nothing stored -----------------------------------------------------------


def test_needs_review_answers_422_and_stores_nothing(
    server: Server, client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    review = submitted["review"]
    assert review.status_code == 422, review.text
    detail = error(review)
    assert detail["code"] == "needs_review"
    assert detail["record"]["status"] == "needs_review" and detail["record"]["reasons"]
    assert detail["record"].get("redacted_sha256") is None  # no copy exists
    record_id = detail["record"]["record_id"]
    # Exactly the two redacted documents are stored: one row and one file each.
    assert server.db_row_count() == 2
    assert len(server.stored_files()) == 2
    with sqlite3.connect(server.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM redactions WHERE id = ?", (record_id,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM redactions WHERE reference = 'case-C'").fetchone()[0] == 0
    read = {"Authorization": f"Bearer {api_keys['read']}"}
    assert client.get(f"/v1/redactions/{record_id}", headers=read).status_code == 404


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty", lambda: b"", 400, "empty"),
        ("text as .jpg", lambda: b"Dit is geen afbeelding, alleen tekst.\n" * 20, 415, "unsupported_type"),
        ("truncated jpeg", lambda: truncated_jpeg(sample(PASSPORT, "redacted")[0]), 400, "unreadable"),
        ("30000x30000 png header", lambda: png_header(30000, 30000), 413, "too_large"),
        ("encrypted pdf", encrypted_pdf, 400, "encrypted"),
    ],
)
def test_bad_input_is_refused_cleanly(
    server: Server, client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response],
    name: str, make: Any, status: int, code: str,
) -> None:
    before = (server.db_row_count(), server.stored_files())
    response = upload(client, make(), key=api_keys["submit"])
    assert response.status_code == status, (name, response.text)
    assert error(response)["code"] == code
    assert (server.db_row_count(), server.stored_files()) == before


def test_upload_over_the_byte_limit_is_413_without_reading_it_all(client: httpx.Client, api_keys: dict[str, str]) -> None:
    too_big = b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024)  # default limit: 20 MB
    response = upload(client, too_big, key=api_keys["submit"])
    assert response.status_code == 413 and error(response)["code"] == "too_large"


def test_malformed_requests(client: httpx.Client, api_keys: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {api_keys['submit']}"}
    no_file = client.post("/v1/redactions", data={"reference": "x"}, files={"other": ("a", b"b")}, headers=auth)
    assert no_file.status_code == 400 and error(no_file)["code"] == "missing_file"
    not_multipart = client.post("/v1/redactions", content=b"\xff\xd8", headers={**auth, "content-type": "image/jpeg"})
    assert not_multipart.status_code == 400 and error(not_multipart)["code"] == "invalid_request"
    long_reference = upload(client, b"\xff\xd8", key=api_keys["submit"], reference="x" * 500)
    assert long_reference.status_code == 400


# --- verification ---------------------------------------------------------------------------


def test_verify_record_and_file(
    client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    body = submitted["passport"].json()
    record = body["record"]
    copy = client.get(body["file_url"], headers={"Authorization": f"Bearer {api_keys['read']}"}).content

    ok = client.post("/v1/records/verify", json={"record": record})
    assert ok.status_code == 200 and ok.json()["valid"] is True and ok.json()["file_checked"] is False
    with_file = client.post(
        "/v1/records/verify", files={"record": (None, json.dumps(record)), "file": ("x.png", copy, "image/png")}
    )
    assert with_file.json() == {"valid": True, "reason": with_file.json()["reason"], "file_checked": True}

    tampered = {**record, "document": {**record["document"], "surname": "SOMEONE ELSE"}}
    assert client.post("/v1/records/verify", json={"record": tampered}).json()["valid"] is False
    wrong_file = client.post(
        "/v1/records/verify", files={"record": (None, json.dumps(record)), "file": ("x.png", copy + b"!", "image/png")}
    )
    assert wrong_file.json()["valid"] is False
    garbage = client.post("/v1/records/verify", content=b"{not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 400 and error(garbage)["code"] == "invalid_request"


def test_jwks_lists_old_keys_after_rotation(
    server: Server, client: httpx.Client, submitted: dict[str, httpx.Response]
) -> None:
    record = submitted["passport"].json()["record"]
    before = client.get("/.well-known/jwks.json").json()["keys"]
    assert len(before) == 1 and before[0]["kty"] == "OKP" and "d" not in before[0]
    KeyStore(Path(server.env["REDACTOR_KEY_DIR"])).rotate()
    after = client.get("/.well-known/jwks.json").json()["keys"]
    assert len(after) == 2 and before[0]["kid"] in {k["kid"] for k in after}
    assert all("d" not in k for k in after)
    # A record signed before the rotation still verifies.
    assert client.post("/v1/records/verify", json={"record": record}).json()["valid"] is True


# --- observability ----------------------------------------------------------------------------


def test_metrics_count_requests_and_outcomes(
    client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {api_keys['metrics']}"}).text
    assert 'redactor_documents_total{outcome="redacted"} 2.0' in text
    assert 'redactor_documents_total{outcome="needs_review"} 1.0' in text
    assert 'redactor_http_requests_total{method="POST",route="/v1/redactions",status="201"} 2.0' in text
    assert "redactor_http_request_duration_seconds_bucket" in text
    assert "redactor_queue_in_flight 0.0" in text


def test_logs_are_json_with_request_ids_and_no_personal_data(
    server: Server, client: httpx.Client, submitted: dict[str, httpx.Response]
) -> None:
    request_id = "test-request-0001"
    assert client.get("/healthz", headers={"X-Request-ID": request_id}).headers["x-request-id"] == request_id

    def requests() -> list[dict[str, Any]]:
        return [line for line in server.log_lines() if line.get("event") == "request"]

    deadline = time.monotonic() + 10  # the line is written just after the response is sent
    while not any(line["request_id"] == request_id for line in requests()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(line["request_id"] == request_id and line["route"] == "/healthz" for line in requests())
    posts = [line for line in requests() if line["route"] == "/v1/redactions" and line["method"] == "POST"]
    assert {"redacted", "needs_review"} <= {line.get("outcome") for line in posts}
    assert all({"request_id", "status", "duration_ms"} <= set(line) for line in posts)
    # An error's line names its code, so a log search finds "why" without the response body.
    review = [line for line in posts if line.get("outcome") == "needs_review"]
    assert review and all(line["status"] == 422 and line["error"] == "needs_review" for line in review)
    assert all("error" not in line for line in posts if line["status"] == 201)
    text = server.log_path.read_text(errors="replace")
    assert REQUESTER_FILE_NAME not in text
    assert "case-A" not in text  # references are not logged either
    for number in all_personal_numbers():
        assert number not in text


# --- deletion and retention (last: they remove what the tests above look at) ------------------


def test_delete_removes_copy_and_record(
    server: Server, client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    body = submitted["passport"].json()
    files_before = server.stored_files()
    delete = {"Authorization": f"Bearer {api_keys['all']}"}
    assert client.delete(f"/v1/redactions/{body['id']}", headers=delete).status_code == 204
    assert client.get(f"/v1/redactions/{body['id']}", headers=delete).status_code == 404
    assert client.get(body["file_url"], headers=delete).status_code == 404
    assert client.delete(f"/v1/redactions/{body['id']}", headers=delete).status_code == 404
    assert len(server.stored_files()) == len(files_before) - 1
    with sqlite3.connect(server.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM redactions WHERE id = ?", (body["id"],)).fetchone()[0] == 0


def test_purge_command_removes_what_is_past_retention(
    server: Server, client: httpx.Client, api_keys: dict[str, str], submitted: dict[str, httpx.Response]
) -> None:
    remaining = submitted["pdf"].json()
    kept = run_cli(["purge"], server.env)  # default retention: 30 days, nothing that old
    assert kept.returncode == 0 and "purged 0" in kept.stdout
    assert server.db_row_count() == 1
    purged = run_cli(["purge", "--older-than-days", "0"], server.env)
    assert purged.returncode == 0, purged.stderr
    assert "purged 1" in purged.stdout
    assert server.db_row_count() == 0 and server.stored_files() == []
    read = {"Authorization": f"Bearer {api_keys['read']}"}
    assert client.get(f"/v1/redactions/{remaining['id']}", headers=read).status_code == 404
