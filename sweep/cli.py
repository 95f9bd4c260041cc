"""`redactor sweep SOURCE --out DEST`: redact an archive (a folder tree or s3://bucket/prefix) into a mirrored tree; resumable.

Heavy imports happen in main(): the redactor CLI imports this module just to build its parser.
Exit codes: 0 every file redacted; 3 some need review or failed (DEST/_sweep-report.csv);
1 some files are not finished (interrupted, workers unavailable: run again to resume);
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from redactor.argtypes import positive_float, positive_int

EXIT_OK, EXIT_UNFINISHED, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="a directory tree, or s3://bucket/prefix")
    parser.add_argument("--out", type=Path, required=True, metavar="DEST", help="where the mirrored tree of outputs goes")
    parser.add_argument("--engine", choices=["local", "ray"], default="local",
                        help="local: a process pool on this machine (default); ray: Ray actors")
    parser.add_argument("--address", metavar="RAY_ADDRESS",
                        help="the Ray cluster to use (e.g. 10.0.0.1:6379; default $RAY_ADDRESS); none: start a Ray on this machine")
    parser.add_argument("--workers", type=positive_int, metavar="N",
                        help="worker processes or actors (default: one per core here; ray one per cluster CPU)")
    parser.add_argument("--delete-originals", action="store_true",
                        help="delete each original once its redacted copy and record are on disk (status done only)")
    parser.add_argument("--manifest", metavar="DATABASE_URL",
                        help="where the manifest lives (default sqlite:///DEST/_sweep.sqlite; e.g. postgresql+psycopg://...)")
    parser.add_argument("--retry-failed", action="store_true", help="try files that failed in an earlier run once more")
    parser.add_argument("--max-attempts", type=positive_int, default=3, metavar="N",
                        help="attempts at a file whose worker keeps dying before it is set aside as failed (default 3)")
    parser.add_argument("--time-limit", type=positive_float, default=600.0, metavar="SECONDS",
                        help="time for one document before it goes to review (default 600)")
    parser.add_argument("--s3-endpoint-url", metavar="URL", help="an S3-compatible store (MinIO ...); default AWS_ENDPOINT_URL")
    parser.add_argument("--purpose", help="watermark text on the redacted copies")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="JSON log lines on stderr (INFO: one per document, never a file name)")


class _TqdmHandler(logging.StreamHandler):
    """Log lines that do not glue onto the progress bar (tqdm.write clears and redraws it)."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must never end the sweep
            self.handleError(record)


def _setup_logging(level: str) -> None:
    from redactor.logjson import JsonLineFormatter

    root = logging.getLogger()
    if not root.handlers:  # the caller (tests) may have set logging up already
        handler = _TqdmHandler(sys.stderr)
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    logging.getLogger("redactor.sweep").setLevel(level)
    root.setLevel(min(logging.WARNING, logging.getLevelName(level)))


def _error(message: str, code: int) -> int:
    print(f"redactor sweep: {message}", file=sys.stderr)
    return code


def main(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from redactor.config import Settings
    from sweep.engines import EngineError
    from sweep.manifest import ManifestError, default_url
    from sweep.run import SweepConfig, SweepError, format_summary, run_sweep
    from sweep.source import SourceError, open_source

    if args.address and args.engine != "ray":
        return _error("--address needs --engine ray", EXIT_USAGE)
    if args.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            return _error("--engine ray needs Ray: pip install 'id-redactor[cluster]'", EXIT_USAGE)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"REDACTOR_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        return _error(f"invalid setting: {problems}", EXIT_USAGE)
    dest = args.out.absolute()
    try:
        source = open_source(args.source, dest, args.s3_endpoint_url)
    except SourceError as exc:
        return _error(str(exc), EXIT_USAGE)
    address = args.address or (os.environ.get("RAY_ADDRESS") if args.engine == "ray" else None)
    config = SweepConfig(
        source=source,
        dest=dest,
        manifest_url=args.manifest or default_url(dest),
        engine=args.engine,
        address=address or None,
        workers=args.workers,
        delete_originals=args.delete_originals,
        retry_failed=args.retry_failed,
        max_attempts=args.max_attempts,
        purpose=args.purpose,
        time_limit=args.time_limit,
    )
    _setup_logging(args.log_level)
    try:
        summary = run_sweep(config, settings)
    except (SweepError, ManifestError) as exc:
        return _error(str(exc), EXIT_USAGE)
    except (EngineError, SourceError) as exc:
        return _error(f"{exc}; run again to resume", EXIT_UNFINISHED)
    except OSError as exc:  # e.g. a folder of SOURCE that cannot be read, DEST full
        return _error(f"{exc.strerror or exc.__class__.__name__}: {exc.filename or ''}; run again to resume", EXIT_UNFINISHED)
    print(format_summary(summary, config), end="", flush=True)
    return summary.exit_code()
