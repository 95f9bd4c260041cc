"""Throughput of the watched folder: drop N files at once into a running `redactor watch`,
time until every one has ended in done/, review/ or failed/.

    .venv/bin/python bench/watch_bench.py --files 50 [--watchers 2] [--samples sample_docs]

The watchers are started and warmed up (models loaded) first, so the figure is the steady
rate staff see, not the start-up time. Uses a throwaway key directory and temp root.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DEFAULT_SAMPLES = Path(__file__).resolve().parent.parent / "sample_docs"


def pick_samples(directory: Path, count: int) -> list[Path]:
    """The `count` smallest images whose expected_status is "redacted" (copies of a few small samples)."""
    entries = json.loads((directory / "annotations.json").read_text())
    paths = [directory / e["file"] for e in entries if e["expected_status"] == "redacted"]
    paths = [p for p in paths if p.exists() and p.suffix.lower() != ".pdf"]
    return sorted(paths, key=lambda p: p.stat().st_size)[:count]


def finished(root: Path) -> int:
    """Inputs that reached their end state: one record or note per input."""
    return (
        len(list((root / "done").glob("*.record.json")))
        + len(list((root / "review").glob("*.reason.txt")))
        + len(list((root / "failed").glob("*.error.txt")))
    )


def wait_until(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def run(files: int, watchers: int, sample_dir: Path, kinds: int) -> dict:
    sources = pick_samples(sample_dir, kinds)
    if not sources:
        raise SystemExit(f"no samples in {sample_dir}")
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as tmp:
        root = Path(tmp) / "root"
        env = {**os.environ, "REDACTOR_KEY_DIR": str(Path(tmp) / "keys")}
        cmd = [sys.executable, "-m", "watchfolder", "--root", str(root), "--poll-interval", "1",
               "--stable-seconds", "1"]  # fmt: skip
        logs = [Path(tmp) / f"watcher{i}.log" for i in range(watchers)]
        procs = []
        for log in logs:
            with open(log, "w") as fh:
                procs.append(subprocess.Popen(cmd, stderr=fh, env=env))
        try:
            # Warm-up: one document per watcher, so every watcher has loaded its models.
            wait_until(lambda: (root / "inbox").exists(), 60)
            for i in range(watchers):
                shutil.copy(sources[0], root / "inbox" / f"warmup{i}{sources[0].suffix}")
            if not wait_until(lambda: finished(root) >= watchers, 600):
                raise SystemExit("warm-up did not finish")
            wait_until(lambda: all('"engines_loaded"' in log.read_text() for log in logs), 60)
            before = finished(root)
            load_before = os.getloadavg()[0]
            started = time.monotonic()
            for i in range(files):
                source = sources[i % len(sources)]
                shutil.copy(source, root / "inbox" / f"doc{i:03d}{source.suffix}")
            if not wait_until(lambda: finished(root) >= before + files, 3600):
                raise SystemExit("the files did not all finish")
            elapsed = time.monotonic() - started
            load_after = os.getloadavg()[0]
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=120)
        docs = []
        for log in logs:
            for line in log.read_text().splitlines():
                event = json.loads(line)
                if event["event"] == "document":
                    docs.append(event)
        docs = sorted(docs, key=lambda d: d["ts"])[watchers:]  # the warm-ups finished first
        outcomes = Counter(d["destination"] for d in docs)
        return {
            "files": files,
            "watchers": watchers,
            "samples": [p.name for p in sources],
            "seconds": round(elapsed, 1),
            "documents_per_minute": round(files / elapsed * 60, 1),
            "mean_seconds_per_document_in_pipeline": round(sum(d["seconds"] for d in docs) / max(len(docs), 1), 2),
            "outcomes": dict(outcomes),
            "exit_codes": [p.returncode for p in procs],
            "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
            "cpus": os.cpu_count(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/watch_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--watchers", type=int, default=1, help="watcher processes sharing the root")
    parser.add_argument("--kinds", type=int, default=3, help="how many different small samples to copy")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.files, args.watchers, args.samples, args.kinds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
