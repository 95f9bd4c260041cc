"""JSON log lines on stderr, in the product's one log format (redactor.logjson).

What may be logged is decided at the call sites: request id, method, route template, status,
duration, outcome, counts, key ids. Never the requester's file name, the document, or its text.
"""

from __future__ import annotations

import logging
import sys

from redactor.logjson import JsonLineFormatter


def configure_logging(level: str = "INFO") -> None:
    """Route every logger (ours and uvicorn's) to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The access log would print raw paths and query strings (references); we log our own line.
    logging.getLogger("uvicorn.access").disabled = True
