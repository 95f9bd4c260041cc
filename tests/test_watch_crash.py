"""Kill `redactor watch` with SIGKILL at random moments while it works, restart it, 20 times;
afterwards every input must have ended in exactly one of done/review/failed, complete, with
nothing lost, nothing duplicated and no temporary file left.

Seeded (REDACTOR_CRASH_SEED, default 5) so a failure can be replayed. The tally is printed
(run with -s to see it).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from test_watch import PYTHON, assert_exactly_once, garbage, samples, sha
from test_watch import key_dir  # noqa: F401 - autouse: sign with a throwaway key

ROUNDS = 20
SEED = int(os.environ.get("REDACTOR_CRASH_SEED", "5"))


def _state_at_kill(root: Path) -> str:
    """Where in the protocol the watcher was when it died, judged from what is on disk."""
    claims = [c for c in (root / "processing").glob("w-*/*") if c.is_dir()]
    temp = [p for d in ("done", "review", "failed") for p in (root / d).glob(".*.part")]
    if temp:
        return "writing an output"
    if not claims:
        return "between documents"
    if any(not any((c / "in").glob("*")) for c in claims):
        return "after commit, before tidy-up"
    if any(not (c / "manifest.json").exists() for c in claims):
        return "claimed, no name yet"
    return "processing a claimed document"


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    root = tmp_path / "root"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    reals = samples("redacted", 2)
    review = samples("needs_review")[0]
    inputs: dict[str, str] = {}

    def drop(name: str, source: Path | None = None) -> None:
        if source is None:
            garbage(inbox / name, seed=len(inputs))  # fast to reject: kills also land in commits
        else:
            shutil.copy(source, inbox / name)
        inputs[name] = sha(inbox / name)

    for i, source in enumerate(reals):
        drop(f"real{i}{source.suffix}", source)
    drop(f"review0{review.suffix}", review)
    for i in range(5):
        drop(f"junk{i}{rng.choice(['.jpg', '.pdf', '.png'])}")
    (inbox / "empty.jpg").write_bytes(b"")
    inputs["empty.jpg"] = sha(inbox / "empty.jpg")

    cmd = [PYTHON, "-m", "watchfolder.watch", "--root", str(root), "--poll-interval", "0.2",
           "--stable-seconds", "0", "--max-attempts", "1000"]  # fmt: skip
    tally: Counter[str] = Counter()
    started = time.monotonic()
    typical = 4.0  # seconds a real document takes on this machine; adapted below
    for round_no in range(ROUNDS):
        # Keep real work waiting, so every kill lands in an active watcher (files keep arriving).
        pending = list(inbox.iterdir()) + list((root / "processing").glob("w-*/*/in/*"))
        if sum(1 for p in pending if p.name.startswith("real")) < 2:
            source = reals[round_no % len(reals)]
            drop(f"real{len(inputs)}{source.suffix}", source)
            drop(f"junk{len(inputs)}.jpg")
        log_path = tmp_path / f"round{round_no:02d}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stderr=log)
        try:
            # Kill while it works, not while Python is still importing.
            _wait_for(log_path, '"engines_loaded"', proc, timeout=60)
            time.sleep(rng.uniform(0.0, 1.25 * typical))
            tally[f"killed {_state_at_kill(root)}"] += 1
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        lines = _events(log_path.read_text())
        real = sorted(d["seconds"] for d in lines if d["event"] == "document" and d["destination"] != "failed")
        # A slow (busy) machine must not turn this into "killed in the same document 20 times".
        typical = real[len(real) // 2] if real else typical * 1.25
        tally["documents finished before a kill"] += sum(1 for d in lines if d["event"] == "document")
        tally["recovered claims"] += sum(1 for d in lines if d["event"] == "document" and d.get("recovered"))
        assert not [d for d in lines if d["level"] == "error"], lines

    final = subprocess.run(cmd + ["--once"], capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr[-3000:]
    lines = _events(final.stderr)
    tally["documents finished by the final run"] = sum(1 for d in lines if d["event"] == "document")
    tally["recovered claims"] += sum(1 for d in lines if d["event"] == "document" and d.get("recovered"))
    every = [d for f in tmp_path.glob("round*.log") for d in _events(f.read_text())] + lines
    attempts = [d["attempt"] for d in every if d["event"] == "document"]
    tally["max attempts of one document"] = max(attempts, default=0)

    where = assert_exactly_once(root, inputs)
    assert all(where[n] == "failed" for n in inputs if n.startswith(("junk", "empty")))
    assert all(where[n] in ("done", "review") for n in inputs if n.startswith(("real", "review")))
    print(f"\ncrash tally (seed {SEED}, {ROUNDS} SIGKILLs, {time.monotonic() - started:.0f} s):")
    for key, value in sorted(tally.items()):
        print(f"  {key}: {value}")
    print(f"  outcome: {dict(Counter(where.values()))} for {len(inputs)} inputs")


def _events(text: str) -> list[dict]:
    """The watcher's JSON log lines (a SIGKILL may cut the last one short)."""
    out = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        out.append(doc)
    return out
