"""A/B timing of two checkouts of this project on the same documents, on this machine.

    .venv/bin/python bench/ab.py /path/to/checkout-A /path/to/checkout-B sample_docs [--repeat 2]

Each checkout runs in its own process (its `redactor` first on the path, models loaded once),
and the two take turns document by document (A B, then B A), so a slower minute of a shared
machine falls on both alike. Reports each document's best time per side and the medians: a
change's effect without the day-to-day drift that makes two separate `bench/bench.py` runs
differ by 5 %. A checkout made with `git worktree add` needs `ln -s ../models redactor/models`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _worker() -> int:
    """Reads file paths on stdin; answers with the seconds `redact_document` took, and the status."""
    from redactor.config import Settings
    from redactor.pipeline import Engines, redact_document
    from redactor.record import KeyStore

    engines, settings = Engines.load(2), Settings()
    with tempfile.TemporaryDirectory() as keydir:
        keys = KeyStore(Path(keydir))
        print("ready", flush=True)
        for line in sys.stdin:
            data = Path(line.strip()).read_bytes()
            start = time.perf_counter()
            outcome = redact_document(data, engines=engines, keys=keys, settings=settings)
            print(f"{time.perf_counter() - start:.4f} {outcome.status}", flush=True)
    return 0


class _Side:
    def __init__(self, checkout: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(checkout))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"], cwd=checkout, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"{checkout}: the pipeline did not start")

    def run(self, path: Path) -> tuple[float, str]:
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        seconds, status = self.process.stdout.readline().split()
        return float(seconds), status


def main() -> int:
    if sys.argv[1:] == ["--worker"]:
        return _worker()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("folder", type=Path, help="a folder with annotations.json")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    files = [args.folder.resolve() / e["file"] for e in json.loads((args.folder / "annotations.json").read_text())]
    a, b = _Side(args.a.resolve()), _Side(args.b.resolve())
    a.run(files[0]), b.run(files[0])  # warm-up: first inference allocates
    best_a, best_b = {}, {}
    for path in files:
        times: dict[int, list[float]] = {0: [], 1: []}
        statuses = {}
        for r in range(args.repeat):
            for side in ((0, 1) if r % 2 == 0 else (1, 0)):
                seconds, statuses[side] = (a, b)[side].run(path)
                times[side].append(seconds)
        best_a[path.name], best_b[path.name] = min(times[0]), min(times[1])
        print(f"{path.name[:42]:42} A {best_a[path.name]:6.3f} {statuses[0]:12} B {best_b[path.name]:6.3f} {statuses[1]:12}"
              f" B/A {best_b[path.name] / best_a[path.name]:.3f}", flush=True)
    med_a, med_b = statistics.median(best_a.values()), statistics.median(best_b.values())
    print(f"median seconds per document: A {med_a:.3f}  B {med_b:.3f}  B/A {med_b / med_a:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
