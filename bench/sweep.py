"""Throughput of the archive sweep (`redactor sweep`) on this machine: local engine with 1 and 2
workers, Ray with 2 workers, and what starting each costs.

    .venv/bin/python bench/sweep.py [--docs 10] [--samples sample_docs] [--skip-ray]

Each configuration sweeps the same tree of `--docs` sample documents (nested folders) into a
fresh DEST through the real command line, so the figures include everything a user waits for.
Reported per configuration:
  docs/s      documents per second once the workers are ready (the sweep's own figure);
  fixed s     wall time minus documents / docs/s: Python start, listing, starting the
              workers and loading their models (for Ray also starting and stopping a local
              Ray instance), the report;
  wall s      the whole command, and N / wall as end-to-end documents per second;
  CPU s/doc   CPU seconds of the command and its worker processes, minus those of a run over
              one junk file (start-up only), per document (local engine only: Ray's processes
              are not children whose CPU time this process can collect).
Then where Ray pays off: a fixed extra start-up cost against a higher rate.
Uses a throwaway key directory and temp folders.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SAMPLES = Path(__file__).resolve().parent.parent / "sample_docs"
# A mix of kinds and sizes, redacted and needs-review, like an intake archive.
MIX = [
    "nl_passport_2021_scan300.jpg",
    "nl_idcard_2021_back.jpg",
    "nl_idcard_2014_back_scan300.jpg",
    "nl_driving_licence_2025_scan300.jpg",
    "nl_passport_2014_scan300.jpg",
    "nl_idcard_2021_front_scan300.jpg",
    "nl_passport_pre2014_scan200.png",
    "nl_idcard_2021_back_bsn_smeared.jpg",
    "letter_with_photo.jpg",
    "nl_driving_licence_2006_scan300.png",
]


@dataclass
class Measure:
    name: str
    docs: int
    wall: float
    fixed: float
    rate: float
    cpu: float  # CPU seconds of the command and its reaped children
    load: tuple[float, float]  # 1-minute load average before and after (the machine is shared)


def make_tree(root: Path, samples: Path, count: int) -> None:
    for i in range(count):
        name = MIX[i % len(MIX)]
        folder = root / f"year{2015 + i % 3}" / ("intake" if i % 2 else "scans") / f"batch{i // 4}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / name, folder / f"{i:03d}-{name}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(source: Path, dest: Path, env: dict, *options: str) -> tuple[float, float, float]:
    """(wall seconds, processing docs/s, CPU seconds) of one command."""
    cmd = [sys.executable, "-m", "redactor.cli", "sweep", str(source), "--out", str(dest), *options]
    cpu_before, started = children_cpu(), time.monotonic()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=3600)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu_before
    if proc.returncode not in (0, 3):
        raise SystemExit(f"sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    match = re.search(r"processed in this run: \d+ \(([\d.]+) documents/s\)", proc.stdout)
    return wall, float(match.group(1)) if match else 0.0, cpu


def measure(name: str, samples: Path, docs: int, tmp: Path, env: dict, options: list[str]) -> Measure:
    work = tmp / name.replace(" ", "-")
    source = work / "archive"
    make_tree(source, samples, docs)
    load_before = os.getloadavg()[0]
    wall, rate, cpu = sweep(source, work / "out", env, *options)
    load = (load_before, os.getloadavg()[0])
    # The same start-up over one junk file: its CPU is the fixed part, not per document.
    junk = work / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a document\n")
    _, _, fixed_cpu = sweep(junk, work / "junk-out", env, *options)
    # Fixed cost: everything that is not documents (start, models, Ray, shutdown, report).
    return Measure(name, docs, wall, wall - docs / rate, rate, cpu - fixed_cpu, load)


RAY_ONLY = """
import time
started = time.monotonic()
import ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
ready = time.monotonic()
ray.shutdown()
print(f"{ready - started:.2f} {time.monotonic() - ready:.2f}")
"""


def ray_start_stop() -> tuple[float, float]:
    """Seconds to import and start a local Ray (2 CPUs, no dashboard), and to stop it: no models."""
    proc = subprocess.run([sys.executable, "-c", RAY_ONLY], check=True, capture_output=True, text=True, timeout=300)
    start, stop = proc.stdout.split()
    return float(start), float(stop)


def break_even(fixed_extra: float, rate_slow: float, rate_fast: float) -> float | None:
    """Documents after which paying `fixed_extra` seconds for `rate_fast` beats `rate_slow`."""
    if rate_fast <= rate_slow or rate_slow <= 0:
        return None
    return max(fixed_extra, 0.0) / (1 / rate_slow - 1 / rate_fast)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()

    configs = [("local, 1 worker", ["--workers", "1"]), ("local, 2 workers", ["--workers", "2"])]
    if not args.skip_ray:
        configs.append(("ray, 2 workers", ["--engine", "ray", "--workers", "2"]))
    results: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "REDACTOR_KEY_DIR": str(tmp / "keys")}
        for name, options in configs:
            m = measure(name, args.samples, args.docs, tmp, env, options)
            results.append(m)
            print(f"{name}: done in {m.wall:.1f} s", file=sys.stderr, flush=True)

    print(f"\n{args.docs} documents, {os.cpu_count()} cores\n")
    print("| engine | docs/s (workers ready) | fixed s | wall s | docs/s (end to end) | CPU s/doc | load before/after |")
    print("|---|---|---|---|---|---|---|")
    for m in results:
        cpu = f"{m.cpu / m.docs:.1f}" if not m.name.startswith("ray") else "–"
        load = f"{m.load[0]:.1f} / {m.load[1]:.1f}"
        print(f"| {m.name} | {m.rate:.3f} | {m.fixed:.1f} | {m.wall:.1f} | {m.docs / m.wall:.3f} | {cpu} | {load} |")

    if not args.skip_ray:
        start, stop = ray_start_stop()
        print(f"\nRay alone (import, start a local instance, no models): {start:.1f} s to start, {stop:.1f} s to stop.")
    local = max((m for m in results if m.name.startswith("local")), key=lambda m: m.rate)
    ray = next((m for m in results if m.name.startswith("ray")), None)
    if ray is not None:
        extra = ray.fixed - local.fixed
        print(f"\nRay's fixed cost is {extra:.1f} s more than the local engine's ({local.name}).")
        here = break_even(extra, local.rate, ray.rate)
        print(
            f"On this machine both run 2 one-thread workers on the same cores (measured: ray {ray.rate:.3f}, "
            f"local {local.rate:.3f} documents/s). "
            + (f"At these rates Ray pays off after {here:.0f} documents." if here is not None
               else "Ray is not faster here, so it never pays off on one machine.")
        )
        # Ray pays off once it has more cores than this machine: k machines, each as fast as
        # the local engine here (conservative: the measured local rate, not Ray's).
        for nodes in (2, 4, 20):
            n = break_even(extra, local.rate, nodes * local.rate)
            if n is not None:
                print(f"With {nodes} machines like this one, Ray pays off after {max(n, 1):.1f} documents.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
