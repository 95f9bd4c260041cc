"""The command-line contract other parts of the product and the acceptance checks call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SAMPLES

REDACTOR = [sys.executable, "-m", "redactor.cli"]


def run(args: list[str], tmp_path: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDACTOR_KEY_DIR": str(tmp_path / "keys")}
    return subprocess.run(REDACTOR + args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_redact_verify_and_keys(tmp_path):
    out = tmp_path / "out"
    result = run(["redact", str(SAMPLES / "nl_passport_2021_scan300.jpg"), "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["nl_passport_2021_scan300.record.json", "nl_passport_2021_scan300.redacted.png"]
    record = out / "nl_passport_2021_scan300.record.json"
    redacted = out / "nl_passport_2021_scan300.redacted.png"

    ok = run(["verify", str(record), "--file", str(redacted)], tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("valid")

    wrong = run(["verify", str(record), "--file", str(SAMPLES / "nl_passport_2021_scan300.jpg")], tmp_path)
    assert wrong.returncode == 1 and len(wrong.stdout.strip().splitlines()) == 1

    changed = json.loads(record.read_text())
    changed["document"]["surname"] = "SOMEONE ELSE"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(changed))
    assert run(["verify", str(forged)], tmp_path).returncode == 1

    jwk = json.loads(run(["keys", "public"], tmp_path).stdout)
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    assert oct((tmp_path / "keys" / "current.jwk").stat().st_mode & 0o777) == "0o600"

    # Someone else's key does not verify our record.
    other = run(["verify", str(record)], tmp_path / "other")
    assert other.returncode == 1


def test_a_folder_is_redacted_with_clean_lines_and_verify_names_the_status(tmp_path):
    folder = tmp_path / "scans"
    (folder / "older").mkdir(parents=True)
    for name in ("nl_idcard_2021_back.jpg", "nl_idcard_2021_back_bsn_smeared.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "older" / "scan.jpg").write_text("this is not a picture")  # a subfolder: only with --recursive
    out = tmp_path / "out"
    result = run(["redact", str(folder), "--out", str(out)], tmp_path)
    assert result.returncode == 3, result.stderr  # one needs review, the other is still done
    names = {p.name for p in out.iterdir()}
    assert "nl_idcard_2021_back.redacted.png" in names
    assert "nl_idcard_2021_back_bsn_smeared.redacted.png" not in names
    assert "nl_idcard_2021_back_bsn_smeared.record.json" in names
    assert "older" not in names and "scan.record.json" not in names
    # Redirected output (a log file, a pipe): one clean line per file, no progress bar.
    for stream in (result.stdout, result.stderr):
        assert "\r" not in stream and "%|" not in stream, stream
    assert result.stdout.splitlines() == [f"{folder / 'nl_idcard_2021_back.jpg'}: redacted"]
    assert f"{folder / 'nl_idcard_2021_back_bsn_smeared.jpg'}: needs_review" in result.stderr.splitlines()[0]

    # A valid signature on a needs_review record does not read as "the document is fine".
    review = run(["verify", str(out / "nl_idcard_2021_back_bsn_smeared.record.json")], tmp_path)
    assert review.returncode == 0
    assert review.stdout.strip() == "valid: signature valid; status: needs_review (nothing was published)"
    done = run(["verify", str(out / "nl_idcard_2021_back.record.json")], tmp_path)
    assert done.stdout.strip() == "valid: signature valid; status: redacted"


def test_verify_given_a_folder_says_so(tmp_path):
    result = run(["verify", str(tmp_path)], tmp_path, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.strip() == f"invalid: cannot read the record {tmp_path} (Is a directory)"


def test_folders_recursive_and_is_a_directory(tmp_path):
    folder = tmp_path / "scans"
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    (folder / "a" / "scan.jpg").write_text("this is not a picture")
    (folder / "b" / "scan.jpg").write_text("neither is this")
    (folder / "b" / ".hidden.jpg").write_text("skipped")
    out = tmp_path / "out"

    flat = run(["redact", str(folder), "--out", str(out)], tmp_path)
    assert flat.returncode == 2 and "Traceback" not in flat.stderr
    assert flat.stderr.strip() == f"redactor: {folder}: is a directory with no files to redact (use --recursive for its subfolders)"

    deep = run(["redact", str(folder), "--recursive", "--out", str(out)], tmp_path)
    assert deep.returncode == 2 and "Traceback" not in deep.stderr and "not a JPEG" in deep.stderr
    # Same file name in two subfolders: the subfolders are mirrored, nothing is overwritten.
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["a/scan.record.json", "b/scan.record.json"]
    assert not any(p.name.endswith(".part") or ".redacted." in p.name for p in out.rglob("*"))


def test_usage_errors_exit_2_without_traceback(tmp_path):
    for args in (["redact", "--out", str(tmp_path)], ["redact", str(tmp_path / "missing.jpg"), "--out", str(tmp_path)], ["nonsense"]):
        result = run(args, tmp_path)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


# --- subcommands registered by the other packages (entry-point group redactor.commands) ------


def test_the_doors_register_their_commands(tmp_path):
    result = run(["--help"], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in ("redact", "verify", "keys", "serve", "purge", "apikey", "watch", "eval"):
        assert f"\n    {name} " in result.stdout, name
    watch = run(["watch", "--help"], tmp_path, timeout=60)
    assert watch.returncode == 0 and "--stable-seconds" in watch.stdout and "(default 3)" in watch.stdout


def test_a_registered_command_that_cannot_load_says_so_and_the_rest_still_works(tmp_path):
    # A second distribution on the path registers `ghost` from a module that does not exist.
    site = tmp_path / "site"
    dist = site / "ghost_door-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-door\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[redactor.commands]\nghost = no_such_door_module.cli\n")
    env = {**os.environ, "REDACTOR_KEY_DIR": str(tmp_path / "keys"), "PYTHONPATH": str(site)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(REDACTOR + list(args), capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)

    used = cli("ghost", "--anything")
    assert used.returncode == 2
    assert "redactor ghost: this command cannot be loaded (no_such_door_module.cli)" in used.stderr
    assert "No module named 'no_such_door_module'" in used.stderr and "Traceback" not in used.stderr
    listed = cli("--help")
    assert listed.returncode == 0 and "ghost" in listed.stdout and "unavailable" in listed.stdout
    assert cli("keys", "public").returncode == 0  # the core and the other doors are unaffected


def test_the_progress_bar_shows_on_a_terminal(tmp_path):
    """The other half of disable=None: on a terminal a batch does get its bar (redirected: see above)."""
    import fcntl
    import pty
    import struct
    import termios

    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_text("this is not a picture")  # rejected at once: no pipeline time
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a real terminal's size
    env = {**os.environ, "REDACTOR_KEY_DIR": str(tmp_path / "keys")}
    cmd = REDACTOR + ["redact", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=terminal, env=env, cwd=ROOT, timeout=180)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.returncode == 2
    text = shown.decode(errors="replace")
    assert "2/2" in text and "%|" in text, text  # the bar, finished
    assert "a.jpg: rejected" in text and "b.jpg: rejected" in text  # per-file lines, each on its own
