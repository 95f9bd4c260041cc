"""The archive sweep (`redactor sweep`): real pipeline, real Ray (2 CPUs), real SQLite, real files.

The pipeline costs seconds per document, so each tree holds a few real documents (two images
and a six-page PDF to be redacted, one needing review) beside junk that is rejected at once, and the runs are shared
between tests (module-scoped fixtures):
  - Ray, 2 workers, with one actor process killed while it holds a document; then reruns;
  - the local engine (the default) with --delete-originals;
  - the local engine with its driver killed mid-document, then resumed;
  - an S3 source on a moto server.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from redactor.config import Settings
from redactor.record import KeyStore, verify_record

from conftest import pages_pdf

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_docs"
PYTHON = sys.executable

# relative path in the tree -> (sample file or junk kind, the state it must end in)
TREE = {
    "id/2021/passport.jpg": ("nl_passport_2021_scan300.jpg", "done"),
    "id/2021/backs/idcard back.jpg": ("nl_idcard_2021_back.jpg", "done"),
    "intake/2019/smeared.jpg": ("nl_idcard_2021_back_bsn_smeared.jpg", "needs_review"),
    "intake/notes.txt": ("text", "failed"),
    "intake/2019/scans/broken.jpg": ("truncated", "failed"),
    "empty.pdf": ("empty", "failed"),
    # Several seconds of work: the one document an actor surely still holds when it is killed
    # (one page alone is done in well under the killer's 1.5 s on a fast machine).
    "id/2021/six pages.pdf": ("six passport pages", "done"),
}
NAMES = ("passport", "idcard back", "smeared", "notes", "broken", "empty", "six pages")
COUNTS = Counter(status for _, status in TREE.values())  # how many files end in each state


# --- helpers ---------------------------------------------------------------------------------


def _expected_status(sample: str) -> str:
    entries = {a["file"]: a["expected_status"] for a in json.loads((SAMPLES / "annotations.json").read_text())}
    return {"redacted": "done"}.get(entries[sample], entries[sample])


def _content(kind: str) -> bytes:
    if kind == "text":
        return b"Meeting notes, nothing to redact here.\n"
    if kind == "truncated":
        return (SAMPLES / "nl_idcard_2014_back_scan300.jpg").read_bytes()[:6000]
    if kind == "empty":
        return b""
    if kind == "six passport pages":
        return pages_pdf((SAMPLES / "nl_passport_2021_scan300.jpg").read_bytes(), 6)
    return (SAMPLES / kind).read_bytes()


def make_tree(root: Path, tree: dict[str, tuple[str, str]] = TREE) -> dict[str, str]:
    """Write the tree; returns relative path -> SHA-256 of the original."""
    digests = {}
    for relative, (kind, status) in tree.items():
        if kind.endswith((".jpg", ".png")):
            assert _expected_status(kind) == status, (kind, status)  # the sample set may change
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_content(kind))
        digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sweep_cmd(source: str | Path, dest: Path, *extra: str) -> list[str]:
    return [PYTHON, "-m", "redactor.cli", "sweep", str(source), "--out", str(dest), *extra]


def run_sweep(source: str | Path, dest: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        sweep_cmd(source, dest, *extra), check=False, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def manifest_rows(dest: Path) -> dict[str, dict]:
    """The manifest as the driver left it (read while a driver may be writing: WAL allows it)."""
    path = dest / "_sweep.sqlite"
    if not path.exists():
        return {}
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        return {r["path"]: dict(r) for r in conn.execute("SELECT * FROM sweep_files")}
    finally:
        conn.close()


def states_of(dest: Path, relative: str) -> list[str]:
    """Where one original ended under DEST (a complete state each; more than one is a bug)."""
    found = []
    copies = [dest / f"{relative}.redacted.{ext}" for ext in ("png", "pdf") if (dest / f"{relative}.redacted.{ext}").exists()]
    record = dest / f"{relative}.record.json"
    if copies or record.exists():
        assert len(copies) == 1 and record.exists(), f"{relative}: redacted copy without record or the reverse"
        found.append("done")
    for status, under in (("needs_review", "_review"), ("failed", "_failed")):
        if (dest / under / f"{relative}.reason.txt").exists():
            found.append(status)
    return found


def assert_every_file_in_one_state(dest: Path, tree: dict[str, tuple[str, str]] = TREE) -> None:
    """Each original is in exactly its expected state, on disk and in the manifest, and DEST
    holds nothing else: no temp file, no stray output."""
    rows = manifest_rows(dest)
    assert sorted(rows) == sorted(tree)
    expected_files = {"_sweep.sqlite", "_sweep.lock", "_sweep-report.csv"}
    jwks = KeyStore(Settings().key_dir).jwks()
    for relative, (_, status) in tree.items():
        assert states_of(dest, relative) == [status], relative
        assert rows[relative]["status"] == status, relative
        if status == "done":
            ext = rows[relative]["extension"]
            copy, record = f"{relative}.redacted.{ext}", f"{relative}.record.json"
            body = json.loads((dest / record).read_text())
            assert body["status"] == "redacted" and body["record_id"] == rows[relative]["record_id"]
            assert verify_record(body, jwks, (dest / copy).read_bytes()).valid, relative
            expected_files |= {copy, record}
        else:
            expected_files.add(f"{'_review' if status == 'needs_review' else '_failed'}/{relative}.reason.txt")
    present = {
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and not p.name.startswith("_sweep.sqlite-")  # SQLite's WAL while open
    }
    assert present == expected_files, f"unexpected: {sorted(present - expected_files)}, missing: {sorted(expected_files - present)}"


def assert_report(dest: Path, tree: dict[str, tuple[str, str]] = TREE) -> None:
    with open(dest / "_sweep-report.csv", newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    problems = {p: s for p, (_, s) in tree.items() if s != "done"}
    assert {p: r["status"] for p, r in rows.items()} == problems
    for path, row in rows.items():
        assert row["reasons"].strip(), path
        note = dest / row["note"]
        assert note.is_file() and path in note.read_text()  # the note names the original for staff


def assert_no_names_in_log(stderr: str, names: tuple[str, ...] = NAMES) -> None:
    assert "Traceback" not in stderr
    for name in names:
        assert name not in stderr, f"an original's name ({name}) was logged"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Every run (and its workers) signs with a throwaway key, never the user's.
    path = tmp_path_factory.mktemp("keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDACTOR_KEY_DIR", str(path))
        yield path


def _actor_processes() -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith("ray::SweepActor.process"):  # Ray's title for an actor inside process()
            found.append(proc)
    return found


class ActorKiller(threading.Thread):
    """Kills one Ray actor process (SIGKILL) once it has held a document for a second and a
    half, as an OOM kill or a lost node would."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.killed: int | None = None

    def run(self) -> None:
        busy_since: dict[int, float] = {}
        while not self.stop.is_set() and self.killed is None:
            now = time.monotonic()
            busy = {p.pid: p for p in _actor_processes()}
            busy_since = {pid: busy_since.get(pid, now) for pid in busy}
            ripe = [pid for pid, since in busy_since.items() if now - since >= 1.5]
            if ripe:
                os.kill(ripe[0], signal.SIGKILL)
                self.killed = ripe[0]
            time.sleep(0.1)


@pytest.fixture(scope="module")
def ray_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("ray")
    pytest.importorskip("psutil")
    base = tmp_path_factory.mktemp("ray")
    source, dest = base / "archive", base / "out"
    digests = make_tree(source)
    killer = ActorKiller()
    killer.start()
    started = time.monotonic()
    proc = run_sweep(source, dest, "--engine", "ray", "--workers", "2", "--log-level", "INFO")
    killer.stop.set()
    killer.join()
    return {"source": source, "dest": dest, "digests": digests, "proc": proc, "killed": killer.killed,
            "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("local")
    source, dest = base / "archive", base / "out"
    digests = make_tree(source)
    proc = run_sweep(source, dest, "--workers", "2", "--delete-originals")
    return {"source": source, "dest": dest, "digests": digests, "proc": proc}


# --- Ray -------------------------------------------------------------------------------------


def test_ray_with_a_killed_worker_still_ends_every_file_in_exactly_one_state(ray_run: dict) -> None:
    proc, dest = ray_run["proc"], ray_run["dest"]
    assert proc.returncode == 3, proc.stderr[-3000:]  # 3: some files need review or failed
    assert ray_run["killed"] is not None, "no Ray actor was caught holding a document"
    import psutil

    assert not psutil.pid_exists(ray_run["killed"])
    assert "engine ray, 2 workers" in proc.stdout
    assert_every_file_in_one_state(dest)
    assert_report(dest)
    # Ray restarted the actor and retried its task: no file needed a second attempt of ours,
    # and the originals are untouched (no --delete-originals).
    assert {r["attempts"] for r in manifest_rows(dest).values()} == {1}
    for relative, digest in ray_run["digests"].items():
        assert sha(ray_run["source"] / relative) == digest


def test_the_manifest_holds_one_row_per_file_with_its_facts(ray_run: dict) -> None:
    rows = manifest_rows(ray_run["dest"])
    for relative, digest in ray_run["digests"].items():
        row, original = rows[relative], ray_run["source"] / relative
        assert (row["size"], row["mtime_ns"], row["sha256"]) == (original.stat().st_size, original.stat().st_mtime_ns, digest)
        assert row["record_id"] or row["status"] == "failed"
        assert json.loads(row["reasons"]) or row["status"] == "done"


def test_the_user_sees_a_summary_and_clean_progress_lines_and_no_name_is_logged(ray_run: dict) -> None:
    proc = ray_run["proc"]
    summary = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line.split()}
    for status in ("done", "needs_review", "failed"):  # processed in this run, and in total
        assert summary[status] == [str(COUNTS[status])] * 2, status
    assert "_sweep-report.csv" in proc.stdout
    assert "\r" not in proc.stderr  # no terminal: lines, not a redrawn bar
    assert f"redactor sweep: {len(TREE)}/{len(TREE)} documents" in proc.stderr and "documents/s" in proc.stderr
    documents = [json.loads(line) for line in proc.stderr.splitlines() if '"event": "document"' in line]
    assert len(documents) == len(TREE)
    assert_no_names_in_log(proc.stderr)


def test_a_rerun_does_no_work_and_a_changed_file_is_redone(ray_run: dict) -> None:
    source, dest = ray_run["source"], ray_run["dest"]
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file() and "_sweep" not in p.name}
    proc = run_sweep(source, dest, "--engine", "ray", "--workers", "2")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "processed in this run: 0" in proc.stdout and "engine ray not started" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # A file replaced since (new size and mtime) is swept again, by either engine; only it.
    (source / "intake/notes.txt").write_bytes(b"other notes, longer than before\n")
    proc = run_sweep(source, dest, "--workers", "1")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "processed in this run: 1" in proc.stdout
    assert_every_file_in_one_state(dest)
    assert manifest_rows(dest)["intake/notes.txt"]["size"] == len(b"other notes, longer than before\n")


def test_delete_originals_on_a_rerun_removes_what_an_earlier_run_published(ray_run: dict) -> None:
    """Sweep first, read the report, then delete: a rerun with --delete-originals does no
    pipeline work and removes only originals whose redacted copy and record are both there.
    (The last test on ray_run: it changes the tree.)"""
    source, dest = ray_run["source"], ray_run["dest"]
    (dest / "id/2021/backs/idcard back.jpg.record.json").unlink()  # a record lost since then
    proc = run_sweep(source, dest, "--delete-originals")
    assert "processed in this run: 0" in proc.stdout, proc.stderr[-3000:]
    assert "Originals deleted: 2; 1 kept" in proc.stdout
    deleted = ("id/2021/passport.jpg", "id/2021/six pages.pdf")
    for relative in TREE:
        assert (source / relative).exists() == (relative not in deleted), relative
    assert '"original_kept"' in proc.stderr and "idcard" not in proc.stderr


# --- local engine, --delete-originals --------------------------------------------------------


def test_local_engine_deletes_only_the_originals_of_published_copies(local_run: dict) -> None:
    proc, source, dest = local_run["proc"], local_run["source"], local_run["dest"]
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "engine local, 2 workers" in proc.stdout and f"Originals deleted: {COUNTS['done']}." in proc.stdout
    assert_every_file_in_one_state(dest)
    assert_report(dest)
    rows = manifest_rows(dest)
    for relative, (_, status) in TREE.items():
        original = source / relative
        if status == "done":
            assert not original.exists(), relative
            assert rows[relative]["original_deleted"] == 1
        else:  # needs review or failed: the original stays where it was, unchanged
            assert sha(original) == local_run["digests"][relative], relative
            assert rows[relative]["original_deleted"] == 0
    assert_no_names_in_log(proc.stderr)


# --- crash safety: the driver killed mid-document ----------------------------------------------


def test_a_killed_driver_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    import psutil

    # The slowest document of TREE (seconds of CPU), so the kill below lands inside its pipeline.
    tree = {"a/passport.pdf": TREE["id/2021/six pages.pdf"], "a/b/notes.txt": TREE["intake/notes.txt"],
            "empty.pdf": TREE["empty.pdf"]}
    source, dest = tmp_path / "archive", tmp_path / "out"
    digests = make_tree(source, tree)
    driver = subprocess.Popen(sweep_cmd(source, dest, "--workers", "1", "--delete-originals"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # Wait until the real document is handed out (attempt counted, row still queued), then until
    # its worker has spent a second of CPU on it: the pipeline is running. A wall-clock pause
    # instead raced the pipeline on a fast machine.
    cpu_at_start = None
    while time.monotonic() < deadline:
        try:
            row = manifest_rows(dest).get("a/passport.pdf")
        except sqlite3.Error:
            row = None
        assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
        if row and row["attempts"] == 1 and row["status"] == "queued":
            workers = psutil.Process(driver.pid).children(recursive=True)
            cpu = sum(sum(w.cpu_times()[:2]) for w in workers)
            cpu_at_start = cpu if cpu_at_start is None else cpu_at_start
            if cpu - cpu_at_start >= 1.0:
                break
        time.sleep(0.05)
    workers = psutil.Process(driver.pid).children(recursive=True)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, "worker processes outlived their driver"
    assert manifest_rows(dest)["a/passport.pdf"]["status"] == "queued"
    assert (source / "a/passport.pdf").exists()
    # What an interrupted attempt can leave: a temp file, a stale note of another decision.
    (dest / "a").mkdir(parents=True, exist_ok=True)
    (dest / "a/.passport.pdf.redacted.pdf.x1y2z3.part").write_bytes(b"half a pdf")
    (dest / "_review/a").mkdir(parents=True, exist_ok=True)
    (dest / "_review/a/passport.pdf.reason.txt").write_text("an earlier decision")

    proc = run_sweep(source, dest, "--workers", "1", "--delete-originals")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert_every_file_in_one_state(dest, tree)
    rows = manifest_rows(dest)
    assert rows["a/passport.pdf"]["attempts"] == 2  # the killed attempt and the one that finished
    assert rows["a/passport.pdf"]["sha256"] == digests["a/passport.pdf"]
    assert not (source / "a/passport.pdf").exists()  # published, so removed
    assert (source / "a/b/notes.txt").exists() and (source / "empty.pdf").exists()


# --- S3 source -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def test_an_s3_prefix_is_swept_into_a_mirrored_tree(s3_endpoint: str, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="intake")
    objects = {"2020/jan/idcard.jpg": "nl_idcard_2021_back.jpg", "2020/notes.txt": "text", "readme.txt": "text"}
    for key, kind in objects.items():
        s3.put_object(Bucket="intake", Key=f"uploads/{key}", Body=_content(kind))
    s3.put_object(Bucket="intake", Key="elsewhere/x.jpg", Body=b"not under the prefix")
    dest = tmp_path / "out"
    proc = run_sweep("s3://intake/uploads", dest, "--workers", "1", "--delete-originals",
                     "--s3-endpoint-url", s3_endpoint, env=S3_ENV)
    assert proc.returncode == 3, proc.stderr[-3000:]
    tree = {"2020/jan/idcard.jpg": ("", "done"), "2020/notes.txt": ("", "failed"), "readme.txt": ("", "failed")}
    assert_every_file_in_one_state(dest, tree)
    left = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="intake")["Contents"])
    assert left == ["elsewhere/x.jpg", "uploads/2020/notes.txt", "uploads/readme.txt"]  # published -> deleted
    assert manifest_rows(dest)["2020/jan/idcard.jpg"]["sha256"] == sha(SAMPLES / "nl_idcard_2021_back.jpg")
    again = run_sweep("s3://intake/uploads", dest, "--s3-endpoint-url", s3_endpoint, env=S3_ENV)
    assert "processed in this run: 0" in again.stdout, again.stderr[-3000:]


# --- the manifest in PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgres
def test_the_manifest_can_live_in_postgresql(tmp_path: Path) -> None:
    url = os.environ.get("REDACTOR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("REDACTOR_TEST_POSTGRES_URL not set (scripts/ci-services.sh starts PostgreSQL)")
    from sqlalchemy import create_engine, text

    from sweep.manifest import metadata

    engine = create_engine(url)
    metadata.drop_all(engine)  # a dedicated test database: start empty
    try:
        tree = {"a/notes.txt": TREE["intake/notes.txt"], "empty.pdf": TREE["empty.pdf"]}
        source, dest = tmp_path / "archive", tmp_path / "out"
        make_tree(source, tree)
        proc = run_sweep(source, dest, "--workers", "1", "--manifest", url)
        assert proc.returncode == 3, proc.stderr[-3000:]
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT path, status FROM sweep_files")).all())
        assert rows == {"a/notes.txt": "failed", "empty.pdf": "failed"}
        assert not (dest / "_sweep.sqlite").exists()
        assert "processed in this run: 0" in run_sweep(source, dest, "--manifest", url).stdout
    finally:
        metadata.drop_all(engine)
        engine.dispose()


# --- the command line --------------------------------------------------------------------------


def test_bad_usage_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "other").mkdir()
    run_sweep(empty, tmp_path / "out")  # binds tmp_path/out to the sweep of `empty`
    cases = [
        (run_sweep(tmp_path / "missing", tmp_path / "out"), "is not a directory"),
        (run_sweep(empty, tmp_path / "out", "--address", "1.2.3.4:6379"), "--address needs --engine ray"),
        (run_sweep(tmp_path, tmp_path / "out2", "--workers", "0"), "must be at least 1"),
        (run_sweep(empty, empty), "must not be DEST"),
        (run_sweep(tmp_path / "other", tmp_path / "out"), "holds the sweep of"),
        (run_sweep("ftp://host/x", tmp_path / "out"), "unsupported source"),
    ]
    for proc, message in cases:
        assert proc.returncode == 2, (message, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_name_that_is_not_utf8_is_listed_as_failed_not_lost(tmp_path: Path) -> None:
    """An old share mounted without a charset: the file is in the manifest and the report,
    under a printable name, and nothing is read or written for it."""
    source, dest = tmp_path / "archive", tmp_path / "out"
    (source / "old").mkdir(parents=True)
    with open(os.path.join(os.fsencode(source / "old"), b"scan-\xe9.jpg"), "wb") as fh:
        fh.write(_content("nl_idcard_2021_back.jpg"))
    proc = run_sweep(source, dest)
    assert proc.returncode == 3 and "engine local not started" in proc.stdout, proc.stderr
    (row,) = manifest_rows(dest).values()
    assert row["path"] == "old/scan-\\xe9.jpg" and row["status"] == "failed" and "UTF-8" in row["reasons"]
    with open(dest / "_sweep-report.csv", newline="") as fh:
        assert [r["path"] for r in csv.DictReader(fh)] == ["old/scan-\\xe9.jpg"]
    assert "processed in this run: 0" in run_sweep(source, dest).stdout  # and it stays that way


def test_a_second_driver_on_the_same_dest_is_refused(tmp_path: Path) -> None:
    import fcntl

    source, dest = tmp_path / "archive", tmp_path / "out"
    source.mkdir()
    dest.mkdir()
    with open(dest / "_sweep.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running driver holds it
        proc = run_sweep(source, dest)
    assert proc.returncode == 2 and "another sweep is running" in proc.stderr, proc.stderr
