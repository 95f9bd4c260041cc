"""Benchmark: seconds per document for the whole pipeline, against one plain full-page
Tesseract pass (nld+eng) on the same documents, on this machine.

    .venv/bin/python bench/bench.py [DIR ...]   (default: sample_docs, and ../shared/specimens if present)

Each document is run `--repeat` times (default 3) and the median taken, after one warm-up
document so model loading is not counted. Prints one line per document and the summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pytesseract

from redactor.config import Settings
from redactor.load import load
from redactor.pipeline import Engines, redact_document
from redactor.record import KeyStore

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
    args = parser.parse_args()
    dirs = args.dirs or [ROOT / "sample_docs"] + [d for d in [ROOT.parent / "shared" / "specimens"] if d.is_dir()]
    settings = Settings()
    engines = Engines.load()
    rows = []
    with tempfile.TemporaryDirectory() as keydir:
        keys = KeyStore(Path(keydir))
        for folder in dirs:
            for entry in json.loads((folder / "annotations.json").read_text()):
                data = (folder / entry["file"]).read_bytes()
                if not rows:  # warm-up: first inference allocates
                    redact_document(data, engines=engines, keys=keys, settings=settings)
                pages = load(data, settings).pages
                if len(pages) != 1:
                    continue  # the target is per single-page document
                ours = _median_seconds(lambda: redact_document(data, engines=engines, keys=keys, settings=settings), args.repeat)
                image = pages[0].image
                tess = _median_seconds(lambda: pytesseract.image_to_string(image, lang="nld+eng"), args.repeat)
                rows.append((entry["file"], ours, tess))
                print(f"{entry['file'][:40]:40} pipeline {ours:6.2f} s   tesseract {tess:6.2f} s   ratio {ours / tess:5.2f}", flush=True)
    med_ours = statistics.median(r[1] for r in rows)
    med_tess = statistics.median(r[2] for r in rows)
    print("-" * 80)
    print(f"single-page documents: {len(rows)}")
    print(f"median seconds per document: pipeline {med_ours:.2f}  plain tesseract {med_tess:.2f}  ratio {med_ours / med_tess:.2f}")
    print(f"p90 pipeline: {sorted(r[1] for r in rows)[int(0.9 * (len(rows) - 1))]:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
