"""The service's subcommands as an operator runs them: clear messages and exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from api_support import clean_env, free_port, run_cli


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        {"REDACTOR_DATA_DIR": str(tmp_path / "data"), "REDACTOR_KEY_DIR": str(tmp_path / "keys"), **extra}
    )


def test_apikey_create_list_revoke(tmp_path: Path) -> None:
    env = _env(tmp_path)
    created = run_cli(["apikey", "create", "--name", "intake-form", "--scope", "submit"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.splitlines()[0]
    assert key.startswith("rdk_") and len(key) > 40
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
    assert result.stdout.strip() == "purged 0 redaction(s) older than 30 day(s)"


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
    assert "scopes metrics" in created.stdout
