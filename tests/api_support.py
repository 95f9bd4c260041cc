"""Helpers for the REST service tests: a real `redactor serve` on a free loopback port,
real sample documents, and generated bad inputs."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = Path(os.environ.get("REDACTOR_TEST_SAMPLE_DOCS", ROOT / "sample_docs"))
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without any REDACTOR_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDACTOR_")}
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redactor.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Server:
    """A running `redactor serve` with its own data dir, key dir and log file."""

    base_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "redacted"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "redactor.db"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    @classmethod
    def configure(cls, base_dir: Path, **settings: str) -> "Server":
        base_dir.mkdir(parents=True, exist_ok=True)
        env = clean_env(
            {
                "REDACTOR_DATA_DIR": str(base_dir / "data"),
                "REDACTOR_KEY_DIR": str(base_dir / "keys"),
                **{f"REDACTOR_{k.upper()}": v for k, v in settings.items()},
            }
        )
        return cls(base_dir=base_dir, env=env)

    def start(self) -> "Server":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "redactor.cli", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server not ready within {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines (other output, e.g. a library's warnings, is skipped)."""
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def create_key(self, *scopes: str, name: str = "test") -> str:
        """An API key in the server's database (the `apikey` CLI itself is tested in test_api_cli)."""
        from api.db import Database

        db = Database(self.env.get("REDACTOR_DATABASE_URL") or f"sqlite:///{self.db_path}")
        try:
            return db.create_api_key(name, list(scopes))[1]
        finally:
            db.dispose()

    def stored_files(self) -> list[str]:
        if not self.storage_dir.exists():
            return []
        return sorted(p.name for p in self.storage_dir.iterdir() if p.is_file())

    def db_row_count(self) -> int:
        import sqlite3

        with sqlite3.connect(self.db_path) as conn:
            return int(conn.execute("SELECT count(*) FROM redactions").fetchone()[0])


# --- documents --------------------------------------------------------------------------


def annotations() -> list[dict[str, Any]]:
    path = SAMPLE_DIR / "annotations.json"
    if not path.exists():
        pytest.skip(f"{path} is missing (sample documents not generated)")
    data = json.loads(path.read_text())
    return data if isinstance(data, list) else data["documents"]


def sample(name: str, expected_status: str) -> tuple[bytes, dict[str, Any]]:
    """A sample document's bytes and annotation; checks the annotation says what the test assumes."""
    entry = next((a for a in annotations() if a["file"] == name), None)
    assert entry is not None, f"{name} is not in sample_docs/annotations.json"
    assert entry["expected_status"] == expected_status, f"{name}: annotation changed"
    return (SAMPLE_DIR / name).read_bytes(), entry


def all_personal_numbers() -> set[str]:
    return {n["text"] for a in annotations() for n in a.get("personal_numbers", []) if n.get("text")}


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny compressed row: decoding bombs stop here."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def encrypted_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret")
    buf = io.BytesIO()
    doc.save(buf, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    return buf.getvalue()


def truncated_jpeg(jpeg: bytes) -> bytes:
    return jpeg[: min(len(jpeg) // 10, 2000)]


def upload(
    client: httpx.Client,
    data: bytes,
    *,
    key: str | None,
    filename: str = "document.jpg",
    content_type: str = "image/jpeg",
    **fields: str,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(
        "/v1/redactions", files={"file": (filename, data, content_type)}, data=fields, headers=headers
    )
