"""Response shapes, as documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. too_large, needs_review")
    message: str
    record: dict[str, Any] | None = Field(default=None, description="The signed record, for needs_review")


class ErrorResponse(BaseModel):
    detail: ErrorBody


class RedactionSummary(BaseModel):
    id: str
    status: str
    reference: str | None
    created_at: datetime
    file_url: str
    media_type: str


class Redaction(RedactionSummary):
    sha256: str
    record: dict[str, Any] = Field(description="The signed verification record")


class RedactionPage(BaseModel):
    items: list[RedactionSummary]
    page: int
    per_page: int
    total: int
    next_page: int | None


class VerifyResult(BaseModel):
    valid: bool
    reason: str
    file_checked: bool


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Unreadable or empty file, encrypted PDF, malformed request",
        401: "No valid API key",
        403: "The API key lacks the scope",
        404: "No such redaction",
        408: "The upload took too long",
        409: "Review station: still_visible (detail.leftovers says what and where) or in_progress",
        410: "expired: the self-check result is too old to send; check the document again",
        413: "Too large: bytes, megapixels or pages",
        415: "Unsupported file type (judged from the bytes)",
        422: "needs_review: the document needs a person; nothing was stored (the record is in detail.record, "
        "plain-words reasons with the next step in detail.explanations)",
        429: "Too many requests from this client",
        503: "Queue full or engine unavailable; see Retry-After",
        504: "The document was not done within the time limit; nothing was stored",
    }.items()
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: ERRORS[c] for c in codes}
