"""Settings for every entry point (CLI, REST service, watched folder), from REDACTOR_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDACTOR_", extra="ignore")

    # Where the Ed25519 signing keys live (created on first use, mode 0600).
    key_dir: Path = Path.home() / ".local/share/id-redactor/keys"
    # Limits that make a document `rejected` before any heavy decoding.
    max_bytes: int = 20 * 1024 * 1024
    max_megapixels: float = 50.0
    max_pages: int = 10
    # Pixels decoded or rendered for one whole document (all pages together): pages are scaled
    # down to share it, so memory stays bounded whatever the page count and page size
    # (ten A4 pages at 200 dpi, 38.7 MP, keep their full resolution).
    max_document_megapixels: float = 40.0
    # Drawing operations one PDF may make MuPDF run, counted with nested form XObjects
    # expanded (a few KB of nested forms can expand to 1e8 operations and minutes of rendering).
    max_pdf_operations: int = 2_000_000
    # PDF pages are rasterised at this resolution (the output has the same page size).
    pdf_dpi: int = 200
    # An original waiting for a person (the review station's queue, the watched folder's
    # review/) is deleted after this many days, whatever happened to it.
    review_retention_days: float = Field(default=7.0, ge=0)
