"""Settings for every entry point (CLI, REST service, watched folder), from REDACTOR_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDACTOR_", extra="ignore")

    # Where the Ed25519 signing keys live (created on first use, mode 0600).
    key_dir: Path = Path.home() / ".local/share/id-redactor/keys"
    # Limits that make a document `rejected` before any heavy decoding.
    max_bytes: int = 20 * 1024 * 1024
    max_megapixels: float = 50.0
    max_pages: int = 10
    # PDF pages are rasterised at this resolution (the output has the same page size).
    pdf_dpi: int = 200
