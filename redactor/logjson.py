"""One JSON log line format for every door (service, watched folder):

    {"ts": "...+00:00", "level": "info", "logger": "api.access", "event": "request", ...fields}

Callers pass structured values as extra={"fields": {...}}; `event` is the message. What may be
logged is decided at the call sites: never a requester's file name, the document or its text.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

BASE_KEYS = ("ts", "level", "logger", "event")


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            # A field never replaces the base keys (a stray "event" field would hide the message).
            line.update((k, v) for k, v in fields.items() if k not in BASE_KEYS)
        line.update(
            ts=datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            level=record.levelname.lower(),
            logger=record.name,
            event=record.getMessage(),
        )
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: its message could quote document content.
            line["error"] = record.exc_info[0].__name__
        ordered = {k: line.pop(k) for k in BASE_KEYS}
        return json.dumps({**ordered, **line}, ensure_ascii=False, default=str)
