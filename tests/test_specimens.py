"""The real public specimens in ../shared/specimens (when present): nothing may leak, and a
document that is published keeps its surname readable. Skips cleanly without them."""

from __future__ import annotations

import json

import pytest

from evaluation.evaluate import evaluate_one
from redactor.ocr import RapidOcrEngine

from conftest import SPECIMENS

ENTRIES = json.loads((SPECIMENS / "annotations.json").read_text()) if (SPECIMENS / "annotations.json").is_file() else []

pytestmark = [
    pytest.mark.specimens,
    pytest.mark.skipif(not ENTRIES, reason=f"no specimens at {SPECIMENS}"),
]


@pytest.fixture(scope="module")
def reader():
    return RapidOcrEngine()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_specimen_leaks_nothing(entry, engines, keys, settings, reader):
    result = evaluate_one(entry, (SPECIMENS / entry["file"]).read_bytes(), engines, keys, settings, reader)
    assert result.status in ("redacted", "needs_review")
    assert result.leaks == [], result
