"""`redactor purge`: delete redacted copies and records older than the retention period, and
originals waiting for review longer than REDACTOR_REVIEW_RETENTION_DAYS, now."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--older-than-days",
        type=float,
        help="purge what is older than this many days (default REDACTOR_RETENTION_DAYS, 30)",
    )


def main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from api.cli_common import CommandError, fail, load_settings
    from api.retention import cutoff_for, purge
    from api import review_queue
    from api.logs import configure_logging
    from api.services import open_blobs, open_database, open_review_queue

    try:
        settings = load_settings()
        days = settings.retention_days if args.older_than_days is None else args.older_than_days
        if days < 0:
            raise CommandError("--older-than-days must not be negative", exit_code=2)
        try:
            db = open_database(settings)
            blobs = open_blobs(settings)
            db.create_schema()
            result = purge(db, blobs, cutoff_for(days))
            configure_logging(settings.log_level)  # each purged review original gets a log line
            reviews = review_queue.purge(open_review_queue(settings, db))
        except SQLAlchemyError as exc:
            raise CommandError(f"database error ({type(exc).__name__})") from None
        except (ValueError, OSError) as exc:
            raise CommandError(f"storage error: {exc}") from None
    except CommandError as exc:
        return fail("purge", exc)
    print(f"purged {result.removed} redaction(s) older than {days:g} day(s)")
    print(f"purged {reviews} original(s) waiting for review longer than {settings.review_retention_days:g} day(s)")
    if result.failed:
        print(f"redactor purge: {result.failed} could not be removed; see the log", flush=True)
        return 1
    return 0
