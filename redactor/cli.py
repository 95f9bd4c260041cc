"""`redactor` command line: redact, verify, keys, eval (and the service/watcher commands).

Exit codes: 0 all redacted / valid, 3 some input needs review, 2 usage error or
unreadable/rejected input, 1 a record that does not verify.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from redactor.config import Settings
from redactor.fsutil import atomic_write
from redactor.record import KeyStore, verify_record

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REVIEW = 0, 1, 2, 3

# Subcommands that live with the part of the product they start: (name, module, help).
EXTERNAL_COMMANDS = [
    ("watch", "watchfolder.watch", "watch a folder: inbox -> done / review / failed"),
    ("serve", "api.cli_serve", "run the REST service and the self-check page"),
    ("purge", "api.cli_purge", "delete redacted copies and records past the retention period"),
    ("apikey", "api.cli_apikey", "create, list or revoke API keys"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with a one-line message, no usage dump
        self.exit(EXIT_USAGE, f"redactor: {message}\n")


def output_paths(out_dir: Path, source: Path, extension: str) -> tuple[Path, Path]:
    stem = source.name.rsplit(".", 1)[0] if "." in source.name else source.name
    return out_dir / f"{stem}.redacted.{extension}", out_dir / f"{stem}.record.json"


def cmd_redact(args: argparse.Namespace) -> int:
    from redactor.pipeline import Engines, redact_document

    settings = Settings()
    out_dir: Path = args.out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"redactor: cannot create output directory {out_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    inputs = [Path(p) for p in args.inputs]
    missing = [p for p in inputs if not p.is_file()]
    for p in missing:
        print(f"redactor: {p}: no such file", file=sys.stderr)
    engines = Engines.load()
    keys = KeyStore(settings.key_dir)
    codes = [EXIT_USAGE] if missing else []
    progress = _progress(len(inputs) - len(missing))
    for path in (p for p in inputs if p not in missing):
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"redactor: {path}: cannot read ({exc.strerror})", file=sys.stderr)
            codes.append(EXIT_USAGE)
            continue
        outcome = redact_document(data, engines=engines, keys=keys, settings=settings, purpose=args.purpose)
        record_ext = outcome.extension or "png"
        redacted_path, record_path = output_paths(out_dir, path, record_ext)
        if outcome.status == "redacted" and outcome.output is not None:
            atomic_write(redacted_path, outcome.output)
        atomic_write(record_path, json.dumps(outcome.record, indent=2, ensure_ascii=False).encode() + b"\n")
        line = f"{path.name}: {outcome.status}"
        if outcome.reasons:
            line += " - " + " ".join(outcome.reasons)
        print(line, file=sys.stderr if outcome.status != "redacted" else sys.stdout)
        codes.append({"redacted": EXIT_OK, "needs_review": EXIT_REVIEW}.get(outcome.status, EXIT_USAGE))
        progress.update(1)
    progress.close()
    if EXIT_USAGE in codes:
        return EXIT_USAGE
    return EXIT_REVIEW if EXIT_REVIEW in codes else EXIT_OK


def _progress(total: int):  # noqa: ANN202 - tqdm or a no-op stand-in
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="doc", disable=total <= 1)


def cmd_verify(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        record = json.loads(Path(args.record).read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        print(f"invalid: cannot read the record ({exc})")
        return EXIT_INVALID
    data = None
    if args.file is not None:
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"invalid: cannot read {args.file} ({exc.strerror})")
            return EXIT_INVALID
    jwks = json.loads(Path(args.jwks).read_text()) if args.jwks else KeyStore(settings.key_dir).jwks()
    result = verify_record(record, jwks, data)
    print(("valid: " if result.valid else "invalid: ") + result.reason)
    return EXIT_OK if result.valid else EXIT_INVALID


def cmd_keys(args: argparse.Namespace) -> int:
    keys = KeyStore(Settings().key_dir)
    if args.action == "public":
        current = keys.signing_key().as_dict(private=False)
        print(json.dumps(current, indent=2))
    elif args.action == "jwks":
        print(json.dumps(keys.jwks(), indent=2))
    elif args.action == "rotate":
        print(json.dumps(keys.rotate().as_dict(private=False), indent=2))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from evaluation.evaluate import run_eval  # moves to the entry point eval = "evaluation.cli"

    return run_eval(Path(args.dir), show=args.save_pictures)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="redactor", description="Black out BSNs and portraits on identity-document scans.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("redact", help="redact one or more files")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--purpose", help='watermark text, e.g. "AVG-verzoek Achmea"')
    p.set_defaults(func=cmd_redact)

    p = sub.add_parser("verify", help="check a verification record's signature (and file hash)")
    p.add_argument("record", metavar="RECORD.json")
    p.add_argument("--file", metavar="REDACTED_FILE")
    p.add_argument("--jwks", metavar="JWKS.json", help="public keys to trust (default: the local key store)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("keys", help="signing keys")
    p.add_argument("action", choices=["public", "jwks", "rotate"])
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("eval", help="measure the pipeline on a folder with annotations.json")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--save-pictures", type=Path, metavar="DIR", help="write before/after pictures here")
    p.set_defaults(func=cmd_eval)

    for name, module_name, help_text in EXTERNAL_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        p = sub.add_parser(name, help=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("redactor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
