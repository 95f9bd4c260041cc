"""`redactor` command line. The core commands are here: redact, verify, keys. The other ways in
(REST service, watched folder, evaluation) register their own subcommands under the entry-point
group `redactor.commands` (pyproject.toml), so the core never imports them.

Exit codes: 0 all redacted / valid, 3 some input needs review, 2 usage error or
unreadable/rejected input, 1 a record that does not verify.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from redactor.config import Settings
from redactor.filenames import output_stem, record_name, redacted_name
from redactor.fsutil import atomic_write
from redactor.record import KeyStore, verify_record

if TYPE_CHECKING:  # the pipeline imports the OCR/face stacks; `redactor --help` must not wait
    from redactor.pipeline import Engines, Outcome

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REVIEW = 0, 1, 2, 3
COMMAND_GROUP = "redactor.commands"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with a one-line message, no usage dump
        self.exit(EXIT_USAGE, f"redactor: {message}\n")


def output_paths(out_dir: Path, source: Path, extension: str) -> tuple[Path, Path]:
    stem = output_stem(source.name)
    return out_dir / redacted_name(stem, extension), out_dir / record_name(stem)


# --- redact ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RedactJob:
    """What every file of one `redactor redact` call shares."""

    out_dir: Path
    engines: "Engines"
    keys: KeyStore
    settings: Settings
    purpose: str | None


def _make_out_dir(out_dir: Path) -> bool:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return True
    except OSError as exc:
        print(f"redactor: cannot create output directory {out_dir}: {exc.strerror}", file=sys.stderr)
        return False


@dataclass(frozen=True)
class _Input:
    """One file to redact and the directory its outputs go to (a subfolder mirrors its source's)."""

    source: Path
    out_dir: Path


def _folder_files(folder: Path, out_dir: Path, recursive: bool) -> list[_Input]:
    """The visible files of `folder` (and, with `recursive`, of its subfolders, mirrored under
    `out_dir` so two `scan.jpg` in different subfolders do not share one output name)."""
    found: list[_Input] = []
    out_resolved = out_dir.resolve()
    for path in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.resolve().is_relative_to(out_resolved):
            continue  # `redactor redact . --out out --recursive`: never redact our own outputs
        found.append(_Input(path, out_dir / relative.parent))
    return found


def _expand(inputs: list[Path], out_dir: Path, recursive: bool) -> tuple[list[_Input], bool]:
    """The files to redact, and whether some input was reported as unusable."""
    found: list[_Input] = []
    missing = False
    for path in inputs:
        if path.is_file():
            found.append(_Input(path, out_dir))
        elif path.is_dir():
            files = _folder_files(path, out_dir, recursive)
            if not files:
                hint = "" if recursive else " (use --recursive for its subfolders)"
                print(f"redactor: {path}: is a directory with no files to redact{hint}", file=sys.stderr)
                missing = True
            found.extend(files)
        else:
            print(f"redactor: {path}: no such file or directory", file=sys.stderr)
            missing = True
    return found, missing


def _write_outputs(outcome: "Outcome", source: Path, out_dir: Path) -> None:
    """The redacted copy (only when published) and always the record, each written atomically."""
    redacted_path, record_path = output_paths(out_dir, source, outcome.extension or "png")
    if outcome.status == "redacted" and outcome.output is not None:
        atomic_write(redacted_path, outcome.output)
    atomic_write(record_path, json.dumps(outcome.record, indent=2, ensure_ascii=False).encode() + b"\n")


def _say(line: str, stream: TextIO) -> None:
    """One line that does not glue onto a progress bar (tqdm.write clears and redraws it)."""
    from tqdm import tqdm

    tqdm.write(line, file=stream)


def _report(outcome: "Outcome", source: Path) -> int:
    line = f"{source}: {outcome.status}"
    if outcome.reasons:
        line += " - " + " ".join(outcome.reasons)
    _say(line, sys.stderr if outcome.status != "redacted" else sys.stdout)
    return {"redacted": EXIT_OK, "needs_review": EXIT_REVIEW}.get(outcome.status, EXIT_USAGE)


def _redact_one(item: _Input, job: _RedactJob) -> int:
    from redactor.pipeline import redact_document

    source = item.source
    try:
        data = source.read_bytes()
        item.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(f"redactor: {exc.filename or source}: {exc.strerror}", sys.stderr)
        return EXIT_USAGE
    outcome = redact_document(data, engines=job.engines, keys=job.keys, settings=job.settings, purpose=job.purpose)
    _write_outputs(outcome, source, item.out_dir)
    return _report(outcome, source)


def _overall(codes: list[int]) -> int:
    if EXIT_USAGE in codes:
        return EXIT_USAGE
    return EXIT_REVIEW if EXIT_REVIEW in codes else EXIT_OK


def cmd_redact(args: argparse.Namespace) -> int:
    from redactor.pipeline import Engines

    if not _make_out_dir(args.out):
        return EXIT_USAGE
    present, missing = _expand([Path(p) for p in args.inputs], args.out, args.recursive)
    codes = [EXIT_USAGE] if missing else []
    if not present:
        return EXIT_USAGE  # nothing to do: do not load the models
    settings = Settings()
    job = _RedactJob(args.out, Engines.load(), KeyStore(settings.key_dir), settings, args.purpose)
    progress = _progress(len(present))
    for item in present:
        codes.append(_redact_one(item, job))
        progress.update(1)
    progress.close()
    return _overall(codes)


def _progress(total: int):  # noqa: ANN202 - a tqdm bar
    from tqdm import tqdm

    # disable=None: a bar only when stderr is a terminal, so logs get clean lines and no \r.
    return tqdm(total=total, file=sys.stderr, unit="doc", disable=True if total <= 1 else None)


# --- verify, keys ----------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        record = json.loads(Path(args.record).read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
    except OSError as exc:  # e.g. a folder given: "(Is a directory)", without errno noise
        print(f"invalid: cannot read the record {args.record} ({exc.strerror})")
        return EXIT_INVALID
    except ValueError as exc:
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
    if not result.valid:
        print("invalid: " + result.reason)
    else:  # a valid signature on a rejected record must not read as "the document is fine"
        status = record.get("status")
        note = "" if status == "redacted" else " (nothing was published)"
        print(f"valid: {result.reason}; status: {status}{note}")
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


# --- registered commands (the other doors) ---------------------------------------------------


def _summary(docstring: str | None) -> str:
    """"`redactor watch`: watch a folder." -> "watch a folder." (the first line of a command module's docstring)."""
    first = (docstring or "").strip().split("\n", 1)[0]
    summary = first.split("`: ", 1)[1] if first.startswith("`") and "`: " in first else first
    return summary.rstrip(".")


def _unavailable(entry: EntryPoint, exc: ImportError) -> Callable[[argparse.Namespace], int]:
    """A registered command that cannot be imported fails loudly when used (the others still work)."""

    def run(args: argparse.Namespace) -> int:
        print(
            f"redactor {entry.name}: this command cannot be loaded ({entry.value}): {exc}. "
            "Reinstall id-redactor with its dependencies (pip install .).",
            file=sys.stderr,
        )
        return EXIT_USAGE

    return run


def _add_registered(sub: argparse._SubParsersAction, entry: EntryPoint, taken: set[str]) -> None:
    if entry.name in taken:
        raise RuntimeError(f"two `redactor {entry.name}` commands are registered ({entry.value})")
    taken.add(entry.name)
    try:
        module = entry.load()
    except ImportError as exc:  # reported when the command is used, and in --help
        p = sub.add_parser(entry.name, help=f"(unavailable: {exc})", add_help=False)
        p.set_defaults(func=_unavailable(entry, exc), unavailable=True)
        return
    help_text = _summary(module.__doc__)
    p = sub.add_parser(entry.name, help=help_text, description=help_text)
    module.add_arguments(p)
    p.set_defaults(func=module.main)


def registered_commands() -> list[EntryPoint]:
    return sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name)


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="redactor", description="Black out BSNs and portraits on identity-document scans.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("redact", help="redact files, or the files in folders")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a file, or a folder (the files directly in it)")
    p.add_argument("--recursive", "-r", action="store_true", help="also the files in subfolders (mirrored under --out)")
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

    taken = {"redact", "verify", "keys"}
    for entry in registered_commands():
        _add_registered(sub, entry, taken)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "unavailable", False):  # an unloadable command takes any options
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("redactor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
