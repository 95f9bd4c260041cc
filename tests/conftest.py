"""Shared fixtures: the real engines (loaded once), a throw-away key store, the sample set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_docs"
SPECIMENS = Path(os.environ.get("REDACTOR_SPECIMENS", ROOT.parent / "shared" / "specimens"))


@pytest.fixture(scope="session")
def engines():
    from redactor.pipeline import Engines

    return Engines.load()


@pytest.fixture(scope="session")
def settings():
    from redactor.config import Settings

    return Settings()


@pytest.fixture()
def keys(tmp_path):
    from redactor.record import KeyStore

    return KeyStore(tmp_path / "keys")


@pytest.fixture(scope="session")
def sample_entries() -> dict[str, dict]:
    return {e["file"]: e for e in json.loads((SAMPLES / "annotations.json").read_text())}
