"""Load test of the REST service: concurrent uploads over loopback, bounded in count and time.

    .venv/bin/python bench/load.py                      # starts its own server (temp storage)
    .venv/bin/python bench/load.py --clients 20 --requests 60 --max-seconds 300
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --api-key rdk_... --server-pid 1234

Reports throughput, p50/p95 latency, answers by status, and the peak resident memory of the
server's process tree (the service and its workers). A client that gets 503 waits for the
Retry-After it was given, as a well-behaved client would. Exit code 1 when any 5xx other than
a deliberate 503 occurred. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MAX_RETRY_WAIT_S = 10.0


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, for answers other than 503
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status != 503:
                self.latencies.append(seconds)


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sample_files(folder: Path) -> list[tuple[str, bytes]]:
    """The sample documents the annotations expect to be redacted (realistic work per request)."""
    entries = json.loads((folder / "annotations.json").read_text())
    entries = entries if isinstance(entries, list) else entries["documents"]
    files = [(e["file"], (folder / e["file"]).read_bytes()) for e in entries if e["expected_status"] == "redacted"]
    if not files:
        raise SystemExit(f"no documents in {folder}")
    return files


class PeakRss:
    """Samples the summed RSS of a process and all its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def client_loop(
    url: str, key: str, files: list[tuple[str, bytes]], tickets: "TicketBox", deadline: float, results: Results
) -> None:
    with httpx.Client(base_url=url, timeout=httpx.Timeout(180, connect=10)) as client:
        while time.monotonic() < deadline:
            n = tickets.take()
            if n is None:
                return
            name, data = files[n % len(files)]
            started = time.monotonic()
            try:
                response = client.post(
                    "/v1/redactions",
                    files={"file": (name, data, "application/octet-stream")},
                    headers={"Authorization": f"Bearer {key}"},
                )
            except httpx.HTTPError as exc:
                with results.lock:
                    results.transport_errors[type(exc).__name__] += 1
                continue
            results.add(response.status_code, time.monotonic() - started)
            if response.status_code == 503:
                tickets.give_back()  # the document was not processed: send it again later
                wait = float(response.headers.get("retry-after", "1"))
                time.sleep(min(MAX_RETRY_WAIT_S, wait, max(0.0, deadline - time.monotonic())))


class TicketBox:
    """Hands out request numbers up to the total; a refused (503) request is handed out again."""

    def __init__(self, total: int) -> None:
        self.remaining = total
        self.counter = 0
        self.lock = threading.Lock()

    def take(self) -> int | None:
        with self.lock:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
            self.counter += 1
            return self.counter

    def give_back(self) -> None:
        with self.lock:
            self.remaining += 1


def start_server(base: Path, workers: int, queue_size: int) -> tuple[subprocess.Popen[bytes], str, str]:
    sys.path.insert(0, str(ROOT))
    from api.db import Database

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDACTOR_")}
    env.update(
        {
            "REDACTOR_DATA_DIR": str(base / "data"),
            "REDACTOR_KEY_DIR": str(base / "keys"),
            "REDACTOR_WORKERS": str(workers),
            "REDACTOR_QUEUE_SIZE": str(queue_size),
        }
    )
    db = Database(f"sqlite:///{base / 'data' / 'redactor.db'}")
    db.create_schema()
    key = db.create_api_key("load-test", ["submit"])[1]
    db.dispose()
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "redactor.cli", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {base / 'server.log'}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url, key
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not become ready within 120 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running service (loopback only); default: start one")
    parser.add_argument("--api-key", help="key with the submit scope, for --url")
    parser.add_argument("--server-pid", type=int, help="PID of the --url server, for the memory figure")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60, help="documents to get processed (bounded)")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long")
    parser.add_argument("--workers", type=int, default=2, help="for the self-started server")
    parser.add_argument("--queue-size", type=int, default=8, help="for the self-started server")
    parser.add_argument("--samples", type=Path, default=ROOT / "sample_docs")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    parser.add_argument("--server-log", type=Path, help="keep the self-started server's log here")
    args = parser.parse_args(argv)
    if not (0 < args.clients <= 200 and 0 < args.requests <= 10_000 and 0 < args.max_seconds <= 3600):
        parser.error("--clients 1..200, --requests 1..10000, --max-seconds up to 3600")

    files = sample_files(args.samples)
    proc = None
    tmp = None
    if args.url:
        if not is_loopback(args.url):
            parser.error("only loopback addresses (127.0.0.0/8, ::1, localhost) may be load-tested")
        if not args.api_key:
            parser.error("--api-key is required with --url")
        url, key, pid = args.url.rstrip("/"), args.api_key, args.server_pid
    else:
        tmp = tempfile.TemporaryDirectory(prefix="redactor-load-")
        proc, url, key = start_server(Path(tmp.name), args.workers, args.queue_size)
        pid = proc.pid

    results = Results()
    tickets = TicketBox(args.requests)
    started = time.monotonic()
    deadline = started + args.max_seconds
    try:
        with PeakRss(pid) if pid else _nothing() as rss:
            threads = [
                threading.Thread(target=client_loop, args=(url, key, files, tickets, deadline, results))
                for _ in range(args.clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elapsed = time.monotonic() - started
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            if args.server_log:
                args.server_log.write_bytes((Path(tmp.name) / "server.log").read_bytes())
            tmp.cleanup()

    done = sum(n for s, n in results.statuses.items() if s != 503)
    bad_5xx = sum(n for s, n in results.statuses.items() if s >= 500 and s != 503)
    summary = {
        "clients": args.clients,
        "documents_answered": done,
        "seconds": round(elapsed, 1),
        "throughput_docs_per_s": round(done / elapsed, 3) if elapsed else 0,
        "latency_p50_s": round(percentile(results.latencies, 50), 2),
        "latency_p95_s": round(percentile(results.latencies, 95), 2),
        "statuses": {str(k): v for k, v in sorted(results.statuses.items())},
        "transport_errors": dict(results.transport_errors),
        "peak_rss_mb": round(rss.peak / 2**20) if pid else None,
        "unexpected_5xx": bad_5xx,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:>22}: {v}")
    return 1 if bad_5xx or results.transport_errors else 0


class _nothing:
    peak = 0

    def __enter__(self) -> "_nothing":
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
