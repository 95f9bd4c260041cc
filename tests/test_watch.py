"""The watched folder (`redactor watch`): real pipeline, real sample documents, real files on disk.

Crash behaviour under SIGKILL is in test_watch_crash.py; this module covers the normal flows,
the slow writer, name clashes, many files at once, two watchers on one root, and the crash
recovery of every commit step (stopped exactly there, then restarted).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from redactor.config import Settings
from redactor.record import KeyStore, verify_record
from watchfolder.watch import ClaimContext, JsonLineFormatter, Watcher, WatchConfig, process_claim
from watchfolder.store import Owner, WatchDirs, adopt_abandoned, claim_file, list_claims

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("REDACTOR_SAMPLE_DOCS", REPO / "sample_docs"))
PYTHON = sys.executable


# --- shared helpers (test_watch_crash.py imports them) -------------------------------------------


def annotations() -> list[dict]:
    return json.loads((SAMPLES / "annotations.json").read_text())


# Small, plain samples the watcher tests use (pinned: the sample set grows, these tests are about
# the folder protocol, not about which documents the pipeline understands).
PINNED = {
    "redacted": ["nl_idcard_2021_back.jpg", "nl_passport_2021_scan300.jpg"],
    "needs_review": ["nl_idcard_2021_back_bsn_smeared.jpg"],
}


def samples(status: str, count: int = 1) -> list[Path]:
    """`count` pinned sample files whose expected_status (annotations.json) is `status`."""
    expected = {a["file"]: a["expected_status"] for a in annotations()}
    names = PINNED[status][:count]
    assert len(names) == count and all(expected.get(n) == status for n in names), (status, names)
    return [SAMPLES / n for n in names]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def garbage_bytes(seed: int, size: int = 3000) -> bytes:
    return random.Random(seed).randbytes(size)


def garbage(path: Path, seed: int = 0) -> Path:
    path.write_bytes(garbage_bytes(seed))
    return path


def listing(directory: Path) -> list[str]:
    """Every entry, hidden ones included: temp files must show up here."""
    return sorted(os.listdir(directory)) if directory.exists() else []


def assert_tidy(root: Path) -> None:
    """No claim, lock, reservation or temp file left behind; nothing half-written anywhere."""
    assert listing(root / "processing") == ["names"]
    assert listing(root / "processing" / "names") == []
    for name in ("done", "review", "failed"):
        assert not [f for f in listing(root / name) if f.startswith(".")], f"temp file left in {name}/"


def assert_exactly_once(root: Path, inputs: dict[str, str]) -> dict[str, str]:
    """Each input name (unique stems) ended in exactly one of done/review/failed, complete, and
    nothing else is there. `inputs` maps file name -> sha256. Returns name -> destination."""
    expected_files: set[str] = set()
    where: dict[str, str] = {}
    jwks = None
    for name, digest in inputs.items():
        stem, ext = os.path.splitext(name)
        places = []
        redacted = [p for p in (root / "done").glob(f"{stem}.redacted.*")]
        if (root / "done" / f"{stem}.record.json").exists() or redacted:
            places.append("done")
            assert len(redacted) == 1 and (root / "done" / f"{stem}.record.json").exists(), name
            record = json.loads((root / "done" / f"{stem}.record.json").read_text())
            jwks = jwks or KeyStore(Settings().key_dir).jwks()
            assert verify_record(record, jwks, redacted[0].read_bytes()).valid, name
            expected_files |= {f"done/{redacted[0].name}", f"done/{stem}.record.json"}
        for dest, note in (("review", "reason"), ("failed", "error")):
            original = root / dest / name
            if original.exists() or (root / dest / f"{stem}.{note}.txt").exists():
                places.append(dest)
                assert original.exists() and (root / dest / f"{stem}.{note}.txt").exists(), name
                assert sha(original) == digest, f"{name} was changed on its way to {dest}/"
                expected_files |= {f"{dest}/{name}", f"{dest}/{stem}.{note}.txt"}
        assert len(places) == 1, f"{name} ended in {places}"
        where[name] = places[0]
    present = {f"{d}/{f}" for d in ("done", "review", "failed") for f in listing(root / d)}
    assert present == expected_files, f"unexpected files: {sorted(present - expected_files)}"
    assert listing(root / "inbox") == []
    assert_tidy(root)
    return where


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def key_dir(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - Iterator[Path]
    # Settings() here and in subprocesses sign with a throwaway key, never the user's.
    path = tmp_path_factory.mktemp("keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDACTOR_KEY_DIR", str(path))
        yield path


def run_once(root: Path, engines, **config) -> Watcher:  # noqa: ANN001
    """One in-process `redactor watch --root ROOT --once` with the session's models."""
    config.setdefault("stable_seconds", 0.0)
    config.setdefault("poll_interval", 0.2)
    watcher = Watcher(WatchDirs.under(root), WatchConfig(**config), Settings(), threading.Event(), lambda: engines)
    assert watcher.run(once=True) == 0
    return watcher


def watch_cmd(root: Path, *extra: str) -> list[str]:
    return [PYTHON, "-m", "redactor.cli", "watch", "--root", str(root), *extra]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonLineFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# --- the three destinations ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_run(engines, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One watcher run over a redacted-expected sample, a needs_review sample and garbage."""
    root = tmp_path_factory.mktemp("mixed")
    inbox = root / "inbox"
    inbox.mkdir()
    good, review = samples("redacted")[0], samples("needs_review")[0]
    shutil.copy(good, inbox / f"jansen_passport{good.suffix}")
    shutil.copy(review, inbox / f"jansen_letter{review.suffix}")
    garbage(inbox / "jansen_notes.pdf")
    (inbox / "upload.jpg.part").write_bytes(b"still being copied")  # a copy tool's temp name
    capture = _Capture()
    logger = logging.getLogger("redactor.watch")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        watcher = run_once(root, engines)
    finally:
        logger.removeHandler(capture)
    return {"root": root, "good": good, "review": review, "lines": capture.lines, "watcher": watcher}


def test_redacted_document_lands_in_done_and_the_original_is_gone(mixed_run: dict) -> None:
    root, good = mixed_run["root"], mixed_run["good"]
    done = listing(root / "done")
    assert done == ["jansen_passport.record.json", "jansen_passport.redacted.png"]
    record = json.loads((root / "done" / "jansen_passport.record.json").read_text())
    redacted = (root / "done" / "jansen_passport.redacted.png").read_bytes()
    assert record["status"] == "redacted"
    assert verify_record(record, KeyStore(Settings().key_dir).jwks(), redacted).valid
    assert redacted != good.read_bytes()
    assert not (root / "inbox" / f"jansen_passport{good.suffix}").exists()
    assert not any(p.read_bytes() == good.read_bytes() for p in root.rglob("*") if p.is_file())


def test_review_originals_are_deleted_after_the_retention_period(tmp_path: Path) -> None:
    """Even with no service to take them in, the watcher deletes what waited too long in review/."""
    root = tmp_path / "root"
    WatchDirs.under(root).prepare()
    review = root / "review"
    old = time.time() - 8 * 86400  # the default retention is 7 days
    for stem, when in (("old", old), ("new", time.time())):
        (review / f"{stem}.jpg").write_bytes(b"an original")
        (review / f"{stem}.reason.txt").write_text("why")
        os.utime(review / f"{stem}.reason.txt", (when, when))
    watcher = Watcher(WatchDirs.under(root), WatchConfig(stable_seconds=0.0), Settings(), threading.Event(), lambda: None)
    assert watcher.run(once=True) == 0
    assert listing(review) == ["new.jpg", "new.reason.txt"]


def test_needs_review_moves_the_original_into_a_private_review_folder(mixed_run: dict) -> None:
    root, review = mixed_run["root"], mixed_run["review"]
    moved = root / "review" / f"jansen_letter{review.suffix}"
    assert listing(root / "review") == sorted([moved.name, "jansen_letter.reason.txt"])
    assert moved.read_bytes() == review.read_bytes()
    reason = (root / "review" / "jansen_letter.reason.txt").read_text()
    # Plain words in both languages, what staff do next, and when the original goes.
    assert "nothing was published" in reason and "er is niets gepubliceerd" in reason
    assert "What to do:" in reason and "Wat te doen:" in reason
    deleted_on = re.search(r"deleted on: (\d{4}-\d{2}-\d{2})", reason)
    assert deleted_on and date.fromisoformat(deleted_on.group(1)) - date.today() in (timedelta(days=7), timedelta(days=8))
    assert stat.S_IMODE((root / "review").stat().st_mode) == 0o700
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600
    assert not [f for f in listing(root / "done") if f.startswith("jansen_letter")]


def test_garbage_goes_to_failed_with_an_explanation(mixed_run: dict) -> None:
    root = mixed_run["root"]
    assert listing(root / "failed") == ["jansen_notes.error.txt", "jansen_notes.pdf"]
    assert (root / "failed" / "jansen_notes.pdf").read_bytes() == garbage_bytes(seed=0)
    assert "could not be processed" in (root / "failed" / "jansen_notes.error.txt").read_text()
    assert stat.S_IMODE((root / "failed").stat().st_mode) == 0o700


def test_temp_names_are_left_alone_and_nothing_is_left_in_processing(mixed_run: dict) -> None:
    root = mixed_run["root"]
    assert listing(root / "inbox") == ["upload.jpg.part"]
    assert_tidy(root)


def test_one_json_log_line_per_document_naming_its_output_never_the_original(mixed_run: dict) -> None:
    lines = [json.loads(line) for line in mixed_run["lines"]]
    started = next(d for d in lines if d["event"] == "watch_started")
    assert started["root"] == str(mixed_run["root"].absolute())
    docs = [d for d in lines if d["event"] == "document"]
    assert sorted(d["destination"] for d in docs) == ["done", "failed", "review"]
    # Each line names the files it is about (done/STEM.*, review/STEM.*, failed/STEM.*).
    assert {d["destination"]: d["output"] for d in docs} == {
        "done": "jansen_passport",
        "review": "jansen_letter",
        "failed": "jansen_notes",
    }
    done = next(d for d in docs if d["destination"] == "done")
    assert done["outcome"] == "redacted" and done["seconds"] > 0 and sum(done["redactions"].values()) >= 1
    secrets = [f"jansen_passport{mixed_run['good'].suffix}", f"jansen_letter{mixed_run['review'].suffix}", "upload"]
    for a in annotations():
        secrets += [n["text"] for n in a.get("personal_numbers", [])]
    for line in mixed_run["lines"]:
        assert "\n" not in line
        assert not [s for s in secrets if s.lower() in line.lower()], line


# --- arrival ---------------------------------------------------------------------------------


def test_a_slow_writer_is_not_picked_up_before_the_file_is_complete(engines, tmp_path: Path) -> None:
    source = samples("redacted")[0]
    data = source.read_bytes()
    root = tmp_path / "root"
    stop = threading.Event()
    config = WatchConfig(poll_interval=0.2, stable_seconds=3.0)
    watcher = Watcher(WatchDirs.under(root), config, Settings(), stop, lambda: engines)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        target = root / "inbox" / f"slow{source.suffix}"
        while not (root / "inbox").exists():
            time.sleep(0.05)
        chunks = 6
        step = len(data) // chunks + 1
        for i in range(chunks):
            with open(target, "ab") as fh:  # reopened per chunk, like a share that flushes piecemeal
                fh.write(data[i * step : (i + 1) * step])
            time.sleep(0.4)
            assert target.exists(), f"picked up after chunk {i + 1} of {chunks}"
        deadline = time.monotonic() + 120
        while not (root / "done" / "slow.record.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert assert_exactly_once(root, {target.name: hashlib.sha256(data).hexdigest()})[target.name] == "done"


def test_name_clashes_never_overwrite(engines, tmp_path: Path) -> None:
    good = samples("redacted")[0]
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    shutil.copy(good, root / "inbox" / f"scan{good.suffix}")
    garbage(root / "inbox" / "junk.bin", seed=1)
    run_once(root, engines)
    first = {name: sha(root / "done" / name) for name in listing(root / "done")}
    assert sorted(first) == ["scan.record.json", "scan.redacted.png"]
    first_junk = sha(root / "failed" / "junk.bin")

    # The same names again, plus one whose output names would collide with a review note.
    shutil.copy(good, root / "inbox" / f"scan{good.suffix}")
    garbage(root / "inbox" / "junk.bin", seed=2)
    garbage(root / "inbox" / "junk.error.txt", seed=3)
    run_once(root, engines)
    assert {name: sha(root / "done" / name) for name in first} == first, "an earlier output was overwritten"
    assert sorted(set(listing(root / "done")) - set(first)) == ["scan-2.record.json", "scan-2.redacted.png"]
    assert sha(root / "failed" / "junk.bin") == first_junk
    assert len(listing(root / "failed")) == 6, listing(root / "failed")  # three originals + three notes
    assert len({sha(root / "failed" / n) for n in listing(root / "failed")}) == 6
    assert_tidy(root)


def test_names_that_differ_only_in_case_never_become_two_outputs_of_one_name(engines, tmp_path: Path) -> None:
    """docs/watch.md: names are compared case-insensitively (on an SMB share 'Scan.*' IS 'scan.*')."""
    good = samples("redacted")[0]
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    shutil.copy(good, root / "inbox" / "scan.png")
    shutil.copy(good, root / "inbox" / "Scan.PNG")
    garbage(root / "inbox" / "SCAN.pdf", seed=4)  # another destination, the same rule
    garbage(root / "inbox" / "bsn 1234.56.782.pdf", seed=5)  # a number in a file name stays out of the log
    capture = _Capture()
    logger = logging.getLogger("redactor.watch")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        run_once(root, engines)
    finally:
        logger.removeHandler(capture)
    for d in ("done", "review", "failed"):
        names = listing(root / d)
        assert len({n.casefold() for n in names}) == len(names), names
    done = [n.removesuffix(".record.json") for n in listing(root / "done") if n.endswith(".record.json")]
    failed = [n.removesuffix(".error.txt") for n in listing(root / "failed") if n.endswith(".error.txt")]
    assert len(done) == 2 and len(failed) == 2 and listing(root / "review") == []
    scan_stems = sorted(stem.casefold() for stem in done + failed if stem.casefold().startswith("scan"))
    assert scan_stems == ["scan", "scan-2", "scan-3"], (done, failed)
    assert listing(root / "inbox") == []
    assert_tidy(root)
    outputs = sorted(json.loads(line)["output"] for line in capture.lines if json.loads(line)["event"] == "document")
    assert len(outputs) == 4 and "bsn ###########" in outputs, outputs
    # No part of the number in any field (claim and record ids are random hex: "782" may be
    # in one of those by chance, so the fields that carry names are looked at, and the digits).
    assert not [line for line in capture.lines if re.search(r"1234\.?56|56\.?782", line)]
    assert not [o for o in outputs if "782" in o or "1234" in o]


def test_many_files_dropped_at_once_each_end_exactly_once(tmp_path: Path) -> None:
    """4 real documents + 12 garbage files here to keep CI fast (the pipeline needs ~5 s of CPU
    per document); `python bench/watch_bench.py --files 50` measures 50 real ones."""
    sources = samples("redacted", 2)
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    inputs = {}
    for i in range(4):
        source = sources[i % len(sources)]
        name = f"doc{i:02d}{source.suffix}"
        shutil.copy(source, root / "inbox" / name)
        inputs[name] = sha(source)
    for i in range(12):
        inputs[f"junk{i:02d}.jpg"] = sha(garbage(root / "inbox" / f"junk{i:02d}.jpg", seed=20 + i))
    proc = subprocess.run(
        watch_cmd(root, "--once", "--stable-seconds", "0.5"), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    where = assert_exactly_once(root, inputs)
    assert [n for n, d in where.items() if d == "failed"] == [n for n in inputs if n.startswith("junk")]
    docs = [json.loads(line) for line in proc.stderr.splitlines() if '"event": "document"' in line]
    assert len(docs) == len(inputs)


def test_two_watchers_on_one_root_process_each_file_once(tmp_path: Path) -> None:
    sources = samples("redacted", 2)
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    inputs = {}
    for i, source in enumerate(sources):
        shutil.copy(source, root / "inbox" / f"real{i}{source.suffix}")
        inputs[f"real{i}{source.suffix}"] = sha(source)
    for i in range(8):
        inputs[f"junk{i}.jpg"] = sha(garbage(root / "inbox" / f"junk{i}.jpg", seed=10 + i))
    procs = [
        subprocess.Popen(watch_cmd(root, "--once", "--stable-seconds", "0.3"), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    handled = [line for out in outputs for line in out.splitlines() if '"event": "document"' in line]
    assert len(handled) == len(inputs), "a file was processed twice (or not at all)"
    where = assert_exactly_once(root, inputs)
    assert all(where[n] == "failed" for n in inputs if n.startswith("junk"))


# --- crash recovery at every commit step -----------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying right after a durable step (nothing after it runs)."""


def crash_at(root: Path, name: str, step: str, engines) -> None:  # noqa: ANN001
    """Claim inbox/NAME and process it until `step`, then drop the watcher lock as a dead process would."""
    dirs = WatchDirs.under(root)
    dirs.prepare()
    owner = Owner.acquire(dirs.processing)
    claim = claim_file(dirs.inbox / name, owner)
    assert claim is not None

    def stop_at(reached: str) -> None:
        if reached == step:
            raise Crash(step)

    ctx = ClaimContext(dirs, lambda: engines, KeyStore(Settings().key_dir), Settings(), on_step=stop_at)
    with pytest.raises(Crash):
        process_claim(claim, ctx)
    owner.close()


@pytest.mark.parametrize(
    ("kind", "step"),
    [
        ("garbage", "reserved"),
        ("garbage", "manifest"),
        ("garbage", "cleared"),
        ("garbage", "wrote_note"),
        ("garbage", "moved_original"),
        ("garbage", "released"),
        ("redacted", "wrote_record"),  # (a crash after "wrote_output": see the re-run test below)
    ],
)
def test_a_crash_after_any_step_is_finished_by_the_next_run(engines, tmp_path: Path, kind: str, step: str) -> None:
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    if kind == "garbage":
        source = garbage(tmp_path / "input.pdf", seed=5)
    else:
        source = samples(kind)[0]
    name = f"doc{source.suffix}"
    shutil.copy(source, root / "inbox" / name)
    crash_at(root, name, step, engines)
    run_once(root, engines)
    expected = {"garbage": "failed", "redacted": "done", "needs_review": "review"}[kind]
    assert assert_exactly_once(root, {name: sha(source)}) == {name: expected}


def test_a_move_interrupted_between_link_and_unlink_is_completed(engines, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    source = garbage(tmp_path / "input.jpg", seed=6)
    shutil.copy(source, root / "inbox" / "doc.jpg")
    crash_at(root, "doc.jpg", "wrote_note", engines)
    # The state a kill between link() and unlink() leaves: two names of one inode.
    (claimed,) = (root / "processing").glob("w-*/*/in/doc.jpg")
    os.link(claimed, root / "failed" / "doc.jpg")
    run_once(root, engines)
    assert assert_exactly_once(root, {"doc.jpg": sha(source)}) == {"doc.jpg": "failed"}


def test_a_rerun_with_a_different_outcome_removes_the_first_attempts_output(engines, tmp_path: Path) -> None:
    """If a re-run decides differently (say the first attempt was cut off after writing the
    redacted copy), only the new decision may remain."""
    good = samples("redacted")[0]
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    shutil.copy(good, root / "inbox" / f"doc{good.suffix}")
    crash_at(root, f"doc{good.suffix}", "wrote_output", engines)
    assert listing(root / "done") == ["doc.redacted.png"]
    (claimed,) = (root / "processing").glob("w-*/*/in/*")
    garbage(claimed, seed=7)  # the re-run now sees something the pipeline rejects
    run_once(root, engines)
    assert listing(root / "done") == []
    assert assert_exactly_once(root, {claimed.name: sha(root / "failed" / claimed.name)})[claimed.name] == "failed"


def test_a_file_that_keeps_killing_the_watcher_is_set_aside(engines, tmp_path: Path) -> None:
    good = samples("redacted")[0]
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    shutil.copy(good, root / "inbox" / f"doc{good.suffix}")
    crash_at(root, f"doc{good.suffix}", "manifest", engines)
    for _ in range(2):  # two more deaths while recovering it
        dirs = WatchDirs.under(root)
        owner = Owner.acquire(dirs.processing)
        adopt_abandoned(owner)
        (claim,) = list_claims(owner)
        ctx = ClaimContext(dirs, lambda: engines, KeyStore(Settings().key_dir), Settings(), on_step=_raise_crash)
        with pytest.raises(Crash):
            process_claim(claim, ctx)
        owner.close()
    run_once(root, engines, max_attempts=3)
    name = f"doc{good.suffix}"
    assert assert_exactly_once(root, {name: sha(good)}) == {name: "failed"}
    assert "stopped 3 times" in (root / "failed" / "doc.error.txt").read_text()


def _raise_crash(step: str) -> None:
    if step == "manifest":
        raise Crash(step)


# --- command line ----------------------------------------------------------------------------


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "watchfolder", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_bad_configuration_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    for args, env in [
        ((), None),
        (("--root", str(tmp_path), "--poll-interval", "-1"), None),
        (("--root", str(tmp_path)), {"REDACTOR_WATCH_MAX_ATTEMPTS": "zero"}),
        (("--root", "/proc/forbidden"), None),
    ]:
        proc = _cli(*args, env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), (args, proc.stderr)


def test_once_on_an_empty_inbox_exits_without_loading_models(tmp_path: Path) -> None:
    proc = _cli("--root", str(tmp_path), "--once")
    assert proc.returncode == 0, proc.stderr
    assert '"engines_loaded"' not in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["done", "failed", "inbox", "processing", "review"]
