"""The service's subcommands as an operator runs them: clear messages and exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from api_support import Server, clean_env, free_port, run_cli


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        {"REDACTOR_DATA_DIR": str(tmp_path / "data"), "REDACTOR_KEY_DIR": str(tmp_path / "keys"), **extra}
    )


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = run_cli(["apikey", "create", "--name", "intake-form", "--scope", "submit"], env)
    assert created.returncode == 0, created.stderr
    # Only the key on stdout (KEY=$(redactor apikey create ...)); the explanation on stderr.
    assert created.stdout.count("\n") == 1
    key = created.stdout.strip()
    assert key.startswith("rdk_") and len(key) > 40
    assert "only time the key is shown" in created.stderr and key not in created.stderr
    key_id = key.split("_")[1]

    listed = run_cli(["apikey", "list", "--json"], env)
    assert listed.returncode == 0
    entries = json.loads(listed.stdout)
    assert [(e["id"], e["name"], e["scopes"], e["revoked_at"]) for e in entries] == [
        (key_id, "intake-form", ["submit"], None)
    ]
    assert key.split("_", 2)[2] not in listed.stdout  # the secret is shown once, at creation only

    assert run_cli(["apikey", "revoke", key_id], env).returncode == 0
    plain = run_cli(["apikey", "list"], env).stdout
    assert "revoked" in plain


def test_apikey_errors_are_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    bad_scope = run_cli(["apikey", "create", "--name", "x", "--scope", "admin"], env)
    assert bad_scope.returncode == 2 and "invalid choice" in bad_scope.stderr
    unknown = run_cli(["apikey", "revoke", "nope"], env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "redactor apikey: no key with id nope"


def test_purge_on_an_empty_store(tmp_path: Path) -> None:
    result = run_cli(["purge"], _env(tmp_path))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "purged 0 redaction(s) older than 30 day(s)",
        "purged 0 original(s) waiting for review longer than 7 day(s)",
    ]


def test_bad_configuration_is_reported_without_traceback(tmp_path: Path) -> None:
    port = str(free_port())
    zero_workers = run_cli(["serve", "--port", port], _env(tmp_path, REDACTOR_WORKERS="0"))
    assert zero_workers.returncode == 2
    assert "REDACTOR_WORKERS" in zero_workers.stderr and "Traceback" not in zero_workers.stderr
    bad_storage = run_cli(["serve", "--port", port], _env(tmp_path, REDACTOR_STORAGE_URL="ftp://host/x"))
    assert bad_storage.returncode == 2
    assert "unsupported storage URL" in bad_storage.stderr and "Traceback" not in bad_storage.stderr
    bad_db = run_cli(["purge"], _env(tmp_path, REDACTOR_DATABASE_URL="nosuchdb://x"))
    assert bad_db.returncode in (1, 2) and "Traceback" not in bad_db.stderr
    bad_db_serve = run_cli(["serve", "--port", port], _env(tmp_path, REDACTOR_DATABASE_URL="nosuchdb://x"))
    assert bad_db_serve.returncode == 2 and "REDACTOR_DATABASE_URL" in bad_db_serve.stderr


def test_audit_on_an_empty_store_and_bad_options(tmp_path: Path) -> None:
    env = _env(tmp_path)
    empty = run_cli(["audit"], env)
    assert empty.returncode == 0 and empty.stdout == "" and empty.stderr == ""
    bad_since = run_cli(["audit", "--since", "last tuesday"], env)
    assert bad_since.returncode == 2 and "not a date or time" in bad_since.stderr
    assert "Traceback" not in bad_since.stderr


def test_apikey_metrics_scope(tmp_path: Path) -> None:
    created = run_cli(["apikey", "create", "--name", "prometheus", "--scope", "metrics"], _env(tmp_path))
    assert created.returncode == 0, created.stderr
    assert "scopes metrics" in created.stderr and created.stdout.strip().startswith("rdk_")


def test_the_docs_key_capture_works_and_upload_errors_read_as_the_docs(tmp_path: Path) -> None:
    """docs/api.md: `KEY=$(redactor apikey create ...)`, then curl with it; limits said in MB."""
    server = Server.configure(tmp_path / "svc", workers="1").start()
    try:
        created = run_cli(["apikey", "create", "--name", "intake-form", "--scope", "submit", "--scope", "read"], server.env)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()  # what $(...) captures, trailing newline stripped
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert client.get("/v1/redactions", headers=auth).status_code == 200
            _every_endpoint_has_a_curl_example(client.get("/openapi.json").json())

            # A file in the wrong form field, larger than a text field may be: "no 'file' part".
            wrong = client.post("/v1/redactions", files={"document": ("passport.jpg", b"\xff\xd8" + b"\0" * 100_000)}, headers=auth)
            assert wrong.status_code == 400, wrong.text
            detail = wrong.json()["detail"]
            assert detail["code"] == "missing_file" and "no 'file' part" in detail["message"], detail

            # Just over the limit (caught while streaming) and far over it (caught from Content-Length).
            for size in (20 * 1024 * 1024 + 1, 22 * 1024 * 1024):
                big = client.post("/v1/redactions", files={"file": ("scan.jpg", b"\xff\xd8\xff" + b"\0" * size)}, headers=auth)
                assert big.status_code == 413, big.text
                message = big.json()["detail"]["message"]
                assert "20 MB" in message and "bytes" not in message, message
    finally:
        server.stop()


def _every_endpoint_has_a_curl_example(openapi: dict) -> None:
    """docs/api.md has a copy-paste curl line for every route the service advertises, and lists
    every REDACTOR_ setting the self-check page relies on."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    joined = docs.replace("\\\n", " ")  # shell line continuations
    curl_lines = [line for line in joined.splitlines() if line.lstrip().startswith(("curl ", "jq ")) and "curl" in line]
    missing = []
    for path, methods in openapi["paths"].items():
        shown = '"$BASE' + path.replace("{redaction_id}", "$ID").replace("{review_id}", "$RID").replace("{n}", "0")
        for method in methods:
            lines = [line for line in curl_lines if shown + '"' in line or shown + "?" in line]
            if method == "delete":
                lines = [line for line in lines if "-X DELETE" in line]
            elif method == "post":
                lines = [line for line in lines if " -F " in line or "--data-binary" in line]
            if not lines:
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"no curl example in docs/api.md for {missing}"
    assert "`REDACTOR_SELFCHECK_SEND_REFERENCE`" in docs
