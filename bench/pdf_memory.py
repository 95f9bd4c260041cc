"""Peak memory of one pipeline worker on a PDF bomb: ten 14400 x 14400 pt pages.

    .venv/bin/python bench/pdf_memory.py                 # default settings
    .venv/bin/python bench/pdf_memory.py --budget-mp 500  # a larger pixel budget, for comparison

The document runs in a fresh spawned process that starts and runs it with api.worker, exactly
as a service worker does; this process samples that worker's resident memory (RSS)
every 20 ms with psutil and prints a JSON line: the RSS with engines loaded, the peak while
the document ran, the outcome and the seconds. Exit code 1 when the peak is over --limit-mb.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hostile_pdfs import huge_pages_pdf  # noqa: E402

PICTURE = ROOT / "sample_docs" / "nl_passport_2014_scan300.jpg"


def _worker(data: bytes, budget_mp: float | None, key_dir: str, conn: "multiprocessing.connection.Connection") -> None:
    """A service worker: the same start-up and the same call as api.runner's pool makes."""
    from api import worker
    from api.settings import ApiSettings

    overrides: dict[str, object] = {"key_dir": Path(key_dir)}
    if budget_mp is not None:
        overrides["max_document_megapixels"] = budget_mp
    worker.init_worker(ApiSettings(**overrides), 1)
    conn.send("loaded")
    conn.recv()  # the sampler has its baseline
    outcome, seconds = worker.redact(data, None, time.time() + 3600)
    conn.send((outcome.status, outcome.reasons[:3], seconds))


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(self.interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--side-pt", type=float, default=14400.0)
    parser.add_argument("--budget-mp", type=float, help="max_document_megapixels (default: the setting's default)")
    parser.add_argument("--limit-mb", type=float, default=1536.0)
    args = parser.parse_args(argv)

    data = huge_pages_pdf(PICTURE, pages=args.pages, side_pt=args.side_pt)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with tempfile.TemporaryDirectory() as key_dir:
        process = context.Process(target=_worker, args=(data, args.budget_mp, key_dir, theirs))
        process.start()
        assert ours.recv() == "loaded"
        baseline = psutil.Process(process.pid).memory_info().rss
        sampler = Sampler(process.pid)
        sampler.start()
        ours.send("go")
        status, reasons, seconds = ours.recv()
        sampler.stop.set()
        sampler.join()
        process.join(30)
    peak_mb = round(max(sampler.peak, baseline) / 2**20)
    print(
        json.dumps(
            {
                "document": f"{args.pages} pages of {args.side_pt:g} x {args.side_pt:g} pt, {len(data)} bytes",
                "engines_loaded_rss_mb": round(baseline / 2**20),
                "peak_rss_mb": peak_mb,
                "status": status,
                "reasons": reasons,
                "seconds": round(seconds, 1),
            }
        )
    )
    return 0 if peak_mb <= args.limit_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
