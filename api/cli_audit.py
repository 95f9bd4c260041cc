"""`redactor audit`: show who read, downloaded, deleted, sent or purged which record, and when.

The audit log is append-only (the database refuses UPDATE and DELETE on it) and holds only the
time, the action, the API key id and the record id: never the document, its reference or names.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from api.cli_common import CommandError, fail

if TYPE_CHECKING:
    from api.db import AuditEntry


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or time: {text!r} (e.g. 2026-11-26 or 2026-11-26T12:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _limit(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 1000000")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", metavar="RECORD_ID", help="only entries about this record")
    parser.add_argument("--key", metavar="KEY_ID", help="only entries by this API key")
    parser.add_argument("--since", type=_since, metavar="TIME", help="only entries at or after this time (UTC)")
    parser.add_argument("--limit", type=_limit, default=1000, help="show at most the last N entries (default 1000)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _line(entry: "AuditEntry") -> str:
    when = entry.at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{when}  {entry.action:<8}  key={entry.key_id or '-'}  record={entry.record_id or '-'}"


def main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from api.cli_common import load_settings
    from api.services import open_database

    try:
        settings = load_settings()
        try:
            db = open_database(settings)
            db.create_schema()
            entries = db.audit_entries(record_id=args.record, key_id=args.key, since=args.since, limit=args.limit)
        except SQLAlchemyError as exc:
            raise CommandError(f"database error ({type(exc).__name__})") from None
    except CommandError as exc:
        return fail("audit", exc)
    for entry in entries:
        if args.json:
            doc = {"at": entry.at, "action": entry.action, "key_id": entry.key_id, "record_id": entry.record_id}
            print(json.dumps(doc, default=lambda v: v.isoformat()))
        else:
            print(_line(entry))
    return 0
