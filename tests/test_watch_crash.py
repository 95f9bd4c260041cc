"""SIGKILL `redactor watch` at each step of its crash-safety protocol (see watchfolder.watch),
once per step, restarting it after every kill; afterwards every input must have ended in
exactly one of done/review/failed, complete, with nothing lost, nothing duplicated and no
temporary file left.

The kills are targeted, not timed: tests/watch_kill_at.py kills the real watcher process the
first time it reaches a given step, so every round is known to have died inside claim
processing or inside a commit, and the files on disk are checked to show exactly that.
(Killed while the pipeline runs looks the same on disk as killed at "manifest": the verdict is
only in memory.) tests/test_watch.py stops the same steps in-process.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from test_watch import PYTHON, REPO, assert_exactly_once, garbage, samples, sha
from test_watch import key_dir  # noqa: F401 - autouse: sign with a throwaway key

KILLER = REPO / "tests" / "watch_kill_at.py"


@dataclass(frozen=True)
class ClaimOnDisk:
    """The one claim a killed watcher left in processing/, as the next run will find it."""

    has_original: bool
    stem: str | None  # from its manifest; None before step 4 (naming) finished
    reserved: bool  # a processing/names/ entry holds this claim's id

    def outputs(self, root: Path) -> dict[str, bool]:
        """Which of this stem's output files exist (the original's name is from the manifest)."""
        stem = self.stem
        return {
            "redacted": bool(list((root / "done").glob(f"{stem}.redacted.*"))),
            "record": (root / "done" / f"{stem}.record.json").exists(),
            "note": (root / "review" / f"{stem}.reason.txt").exists() or (root / "failed" / f"{stem}.error.txt").exists(),
            "moved": any(p.name.startswith(f"{stem}.") and not p.name.endswith(".txt")
                         for d in ("review", "failed") for p in (root / d).iterdir()),
        }  # fmt: skip


def claim_left(root: Path) -> ClaimOnDisk:
    claims = [c for c in (root / "processing").glob("w-*/*") if c.is_dir()]
    assert len(claims) == 1, f"expected one interrupted claim, found {len(claims)}"
    claim = claims[0]
    manifest = claim / "manifest.json"
    names = root / "processing" / "names"
    return ClaimOnDisk(
        has_original=any((claim / "in").glob("*")),
        stem=json.loads(manifest.read_text())["stem"] if manifest.exists() else None,
        reserved=any(p.read_text() == claim.name for p in names.iterdir() if p.is_file()),
    )


def check_died_at(step: str, root: Path) -> str:
    """Assert the disk shows the watcher died exactly after `step`; returns the protocol phase."""
    claim = claim_left(root)
    if step == "reserved":
        assert claim.has_original and claim.stem is None and claim.reserved
        return "processing"
    assert claim.stem is not None, "every step after naming leaves a manifest"
    out = claim.outputs(root)
    expected = {
        "manifest": (True, dict(redacted=False, record=False, note=False, moved=False), "processing"),
        "cleared": (True, dict(redacted=False, record=False, note=False, moved=False), "commit"),
        "wrote_note": (True, dict(redacted=False, record=False, note=True, moved=False), "commit"),
        "moved_original": (False, dict(redacted=False, record=False, note=True, moved=True), "commit"),
        "wrote_output": (True, dict(redacted=True, record=False, note=False, moved=False), "commit"),
        "wrote_record": (True, dict(redacted=True, record=True, note=False, moved=False), "commit"),
        "removed_original": (False, dict(redacted=True, record=True, note=False, moved=False), "commit"),
    }
    if step == "released":  # after the commit: only the tidy-up is left
        assert not claim.has_original and not claim.reserved
        return "after commit"
    has_original, outputs, phase = expected[step]
    assert (claim.has_original, out) == (has_original, outputs), (step, claim, out)
    assert claim.reserved, "the stem stays reserved until the outputs exist and the claim is tidied"
    return phase


# Inputs are processed in name order. Each round kills the watcher at the first time it reaches
# the step; the files are arranged so each step falls on the file noted (r = recovered claim).
SCHEDULE = [
    "reserved",  # a_junk: claimed and named, no manifest yet
    "manifest",  # a_junk (r): attempt counted, verdict not made
    "cleared",  # a_junk (r): verdict made, leftovers of earlier attempts removed
    "wrote_note",  # a_junk (r): failed/a_junk.error.txt written, original still claimed
    "moved_original",  # a_junk (r): original moved to failed/, claim not tidied
    "released",  # a_junk tidied; b_junk committed to failed/, claim not tidied
    "wrote_output",  # b_junk tidied; c_real's redacted copy written, no record
    "wrote_record",  # c_real (r): both done/ files, original still claimed
    "removed_original",  # c_real (r): original gone, claim not tidied
]  # the final run tidies c_real. (review/ is committed like failed/; test_watch.py covers it.)


def test_sigkill_at_every_protocol_step_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    root = tmp_path / "root"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    real = samples("redacted")[0]  # the pipeline runs three times on it: the only slow part
    files = {"a_junk.jpg": None, "b_junk.pdf": None, f"c_real{real.suffix}": real}
    for i, (name, source) in enumerate(files.items()):
        if source is None:
            garbage(inbox / name, seed=40 + i)
        else:
            shutil.copy(source, inbox / name)
    inputs = {name: sha(inbox / name) for name in files}
    # --once: a round whose step is never reached ends (and fails below) instead of waiting.
    options = ["--root", str(root), "--once", "--stable-seconds", "0", "--max-attempts", "100"]

    phases = []
    for round_no, step in enumerate(SCHEDULE):
        log = tmp_path / f"round{round_no}.log"
        with open(log, "w") as err:
            proc = subprocess.run([PYTHON, str(KILLER), step, *options], stderr=err, timeout=300)
        assert proc.returncode == -signal.SIGKILL, f"round {round_no}: not killed at {step!r}:\n{log.read_text()[-2000:]}"
        assert '"level": "error"' not in log.read_text(), log.read_text()[-2000:]
        phases.append(check_died_at(step, root))
        if step == "cleared":
            # What a kill inside atomic_write leaves: a hidden temp file next to the final name.
            (root / "failed" / ".a_junk.error.txt.k1ll3d00.part").write_bytes(b"half a no")

    assert phases.count("processing") == 2 and phases.count("commit") == 6 and phases.count("after commit") == 1

    final = subprocess.run(
        [PYTHON, "-m", "watchfolder", *options], capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 0, final.stderr[-3000:]
    where = assert_exactly_once(root, inputs)
    assert where == {"a_junk.jpg": "failed", "b_junk.pdf": "failed", f"c_real{real.suffix}": "done"}
    assert "stopped" not in (root / "failed" / "a_junk.error.txt").read_text()  # rejected, not set aside
    print(f"\n{len(SCHEDULE)} SIGKILLs at {SCHEDULE}: {time.monotonic() - started:.0f} s")
