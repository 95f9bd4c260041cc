"""Shared fixtures: the real engines (loaded once), a throw-away key store, the sample set."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_docs"
SPECIMENS = Path(os.environ.get("REDACTOR_SPECIMENS", ROOT.parent / "shared" / "specimens"))


def pages_pdf(scan: bytes, pages: int, dpi: int = 300) -> bytes:
    """A PDF of `pages` pages, each the image `scan` at `dpi` (stored once): a document that
    takes the pipeline several seconds, for tests that need one still being worked on."""
    import pymupdf
    from PIL import Image

    width, height = Image.open(io.BytesIO(scan)).size
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=width * 72 / dpi, height=height * 72 / dpi)
        page.insert_image(page.rect, stream=scan)
    return doc.tobytes(garbage=4, deflate=True)


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


class SampleOutcomes:
    """Pipeline outcomes for sample documents, each computed once per test session: several
    test files look at the same redacted copy, and a run costs seconds. Signed with `keys`."""

    def __init__(self, engines, settings, keys) -> None:
        self.engines, self.settings, self.keys = engines, settings, keys
        self._cache: dict[tuple[str, str | None], object] = {}

    def __call__(self, name: str, purpose: str | None = None):
        from redactor.pipeline import redact_document

        if (name, purpose) not in self._cache:
            data = (SAMPLES / name).read_bytes()
            self._cache[(name, purpose)] = redact_document(
                data, engines=self.engines, keys=self.keys, settings=self.settings, purpose=purpose
            )
        return self._cache[(name, purpose)]


@pytest.fixture(scope="session")
def redacted(engines, settings, tmp_path_factory) -> SampleOutcomes:
    from redactor.record import KeyStore

    return SampleOutcomes(engines, settings, KeyStore(tmp_path_factory.mktemp("session-keys")))


# --- the page tests (test_page.py, test_review_page.py): Debian's Chromium driven by Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium per test module; skips the module when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
