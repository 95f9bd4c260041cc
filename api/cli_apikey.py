"""`redactor apikey create|list|revoke`: API keys with scopes (submit, read, delete, metrics), stored hashed.

`create --only-submitted-by KEY_ID` makes a key that reads (and deletes) only the copies that
key submitted; `--only-own` one that sees only what it submits itself."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from api.cli_common import CommandError, fail
from api.scopes import SCOPES

if TYPE_CHECKING:
    from api.db import ApiKeyInfo, Database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="apikey_command", required=True, metavar="{create,list,revoke}")
    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who uses it, e.g. intake-form")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=SCOPES,
        required=True,
        help="repeat for several: " + ", ".join(SCOPES),
    )
    only = create.add_mutually_exclusive_group()
    only.add_argument(
        "--only-submitted-by",
        metavar="KEY_ID",
        help="this key sees only the copies submitted by the key with this id",
    )
    only.add_argument("--only-own", action="store_true", help="this key sees only the copies it submits itself")
    listing = sub.add_parser("list", help="list keys (never the secrets)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")


def _describe(info: "ApiKeyInfo") -> str:
    state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
    sees = f"  sees only what {info.sees_only} submitted" if info.sees_only else ""
    return (
        f"{info.id}  {info.name}  scopes={','.join(info.scopes)}  created {info.created_at:%Y-%m-%d %H:%M}"
        f"  {state}{sees}"
    )


def _run(db: "Database", args: argparse.Namespace) -> int:
    if args.apikey_command == "create":
        if not args.name.strip() or len(args.name) > 100:
            raise CommandError("--name must be 1 to 100 characters", exit_code=2)
        try:
            info, secret = db.create_api_key(
                args.name.strip(), args.scopes, sees_only=args.only_submitted_by, own_only=args.only_own
            )
        except LookupError as exc:
            raise CommandError(f"--only-submitted-by: {exc}", exit_code=2) from None
        # Only the key on stdout, so `KEY=$(redactor apikey create ...)` captures just the key.
        print(secret)
        sees = f", sees only what {info.sees_only} submitted" if info.sees_only else ""
        print(
            f"key id {info.id}, scopes {','.join(info.scopes)}{sees}; this is the only time the key is shown",
            file=sys.stderr,
        )
        return 0
    if args.apikey_command == "list":
        keys = db.list_api_keys()
        if args.json:
            print(json.dumps([{**k.__dict__, "scopes": list(k.scopes)} for k in keys], default=str, indent=2))
        else:
            for k in keys:
                print(_describe(k))
        return 0
    if not db.revoke_api_key(args.key_id):
        raise CommandError(f"no key with id {args.key_id}")
    print(f"revoked {args.key_id}")
    return 0


def main(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from api.cli_common import load_settings
    from api.services import open_database

    try:
        settings = load_settings()
        try:
            db = open_database(settings)
            db.create_schema()
            return _run(db, args)
        except SQLAlchemyError as exc:
            raise CommandError(f"database error ({type(exc).__name__})") from None
    except CommandError as exc:
        return fail("apikey", exc)
