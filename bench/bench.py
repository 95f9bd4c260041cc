"""Benchmark: seconds per document for the whole pipeline, against one plain full-page
Tesseract pass (nld+eng) on the same documents, on this machine, and where the time goes.

    .venv/bin/python bench/bench.py [DIR ...]   (default: sample_docs, and ../shared/specimens if present)

Each document is run `--repeat` times (default 3) and the median taken, after one warm-up
document so model loading is not counted. Prints one line per document, the summary, and a
table of CPU and wall seconds per step (bench/profile_steps.py), averaged over all runs.
`--threads` sets the threads per model (default 2: one process on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytesseract

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_steps import StepClock, instrument, table  # noqa: E402

from redactor.config import Settings  # noqa: E402
from redactor.load import load  # noqa: E402
from redactor.pipeline import Engines, redact_document  # noqa: E402
from redactor.record import KeyStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-tesseract", action="store_true", help="skip the Tesseract reference pass")
    args = parser.parse_args()
    dirs = args.dirs or [ROOT / "sample_docs"] + [d for d in [ROOT.parent / "shared" / "specimens"] if d.is_dir()]
    settings = Settings()
    engines = Engines.load(args.threads)
    clock = StepClock()
    rows, runs, statuses = [], 0, {}
    # Tesseract gets the same cores as the pipeline.
    os.environ.setdefault("OMP_THREAD_LIMIT", str(args.threads))
    with tempfile.TemporaryDirectory() as keydir, instrument(clock, engines):
        keys = KeyStore(Path(keydir))
        for folder in dirs:
            for entry in json.loads((folder / "annotations.json").read_text()):
                data = (folder / entry["file"]).read_bytes()
                if not rows:  # warm-up: first inference allocates
                    redact_document(data, engines=engines, keys=keys, settings=settings)
                    clock.reset()
                pages = load(data, settings).pages
                if len(pages) != 1:
                    continue  # the target is per single-page document
                outcome = []
                ours = _median_seconds(
                    lambda: outcome.append(redact_document(data, engines=engines, keys=keys, settings=settings)), args.repeat
                )
                runs += args.repeat
                statuses[outcome[-1].status] = statuses.get(outcome[-1].status, 0) + 1
                image = pages[0].image
                tess = float("nan") if args.no_tesseract else _median_seconds(
                    lambda: pytesseract.image_to_string(image, lang="nld+eng"), args.repeat
                )
                rows.append((entry["file"], ours, tess))
                print(f"{entry['file'][:40]:40} pipeline {ours:6.2f} s   tesseract {tess:6.2f} s   ratio {ours / tess:5.2f}"
                      f"   {outcome[-1].status}", flush=True)
    med_ours = statistics.median(r[1] for r in rows)
    med_tess = statistics.median(r[2] for r in rows)
    print("-" * 80)
    print(f"single-page documents: {len(rows)}  ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})")
    print(f"median seconds per document: pipeline {med_ours:.2f}  plain tesseract {med_tess:.2f}  ratio {med_ours / med_tess:.2f}")
    print(f"p90 pipeline: {sorted(r[1] for r in rows)[int(0.9 * (len(rows) - 1))]:.2f} s")
    print(f"\nwhere the time goes, per document (mean over {runs} runs, pages load excluded from warm-up):\n")
    print(table(clock, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
