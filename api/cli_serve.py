"""`redactor serve`: the REST service on uvicorn, embedded SQLite + local directory by default.

Heavy imports happen in main(): the redactor CLI imports this module just to build its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, help="pipeline worker processes (default REDACTOR_WORKERS or 2)")
    parser.add_argument(
        "--data-dir", type=Path, help="where the SQLite file and redacted copies go (default REDACTOR_DATA_DIR)"
    )


def main(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from api.cli_common import CommandError, fail, load_settings
    from api.header_timeout import header_timeout_protocol
    from api.logs import configure_logging

    try:
        settings = load_settings(workers=args.workers, data_dir=args.data_dir)
        if not 0 < args.port < 65536:
            raise CommandError("--port must be between 1 and 65535", exit_code=2)
        configure_logging(settings.log_level)
        from api.app import create_app  # after logging is set up, so import-time messages are JSON too

        try:
            app = create_app(settings)
        except SQLAlchemyError as exc:
            raise CommandError(f"invalid REDACTOR_DATABASE_URL ({type(exc).__name__})", exit_code=2) from None
        except (ValueError, OSError) as exc:
            raise CommandError(f"cannot set up storage: {exc}", exit_code=2) from None
    except CommandError as exc:
        return fail("serve", exc)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,  # we log one line per request ourselves, without raw paths
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        # Slow clients: headers must arrive within header_timeout_s (bodies: see api.upload.BodyTimeout),
        # idle keep-alive connections close after 5 s, and a header block is at most 16 KB.
        http=header_timeout_protocol(settings.header_timeout_s),
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        timeout_graceful_shutdown=int(settings.request_timeout_s) + 5,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
