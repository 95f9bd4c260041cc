"""The whole pipeline, top to bottom. Every entry point (CLI, REST, watched folder) calls
`redact_document`; nothing here touches the disk except the key store.

    load -> normalise -> find (text, MRZ, faces, layout) -> decide -> redact -> record
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redactor.config import Settings
from redactor.core import Status
from redactor.record import KeyStore


@dataclass
class Engines:
    """The loaded models. Loading takes a second; build one per process and reuse it."""

    ocr: Any
    faces: Any

    @classmethod
    def load(cls) -> "Engines":
        raise NotImplementedError  # filled in by the pipeline work


@dataclass(frozen=True)
class Outcome:
    """The result for one input document.

    `output` (the redacted PNG or PDF bytes) is set only when `status == "redacted"`.
    `record` is always the signed verification record, also for needs_review/rejected
    (then it has no `redacted_sha256` and says why in `reasons`).
    """

    status: Status
    reasons: list[str]
    record: dict[str, Any]
    output: bytes | None = None
    extension: str | None = None  # "png" or "pdf"
    media_type: str | None = None  # "image/png" or "application/pdf"
    reject_code: str | None = None  # see redactor.errors.RejectCode


def redact_document(
    data: bytes,
    *,
    engines: Engines,
    keys: KeyStore,
    settings: Settings,
    purpose: str | None = None,
) -> Outcome:
    raise NotImplementedError  # filled in by the pipeline work
