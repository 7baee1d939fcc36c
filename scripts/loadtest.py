"""Loopback load test of `imr-rules serve` (a script, not a test).

Starts the service on a free local port, sends requests at a fixed rate for a bounded time (open loop:
request i leaves at start + i/rate, whatever the answers), mixing real cases (seeds and historical cases
as JSON) with malformed ones (not JSON, not UTF-8, not an object, an invalid case, a body over the size
limit), and checks every answer against what was sent: a real case must come back 200 with the decision
record the in-process API gives for that very case (same record id), a malformed one with its 4xx status
and located errors. Reports latency p50/p90/p99/max, throughput, status counts, unexpected answers,
and the resident memory of the server and its workers before and after.

Usage: python scripts/loadtest.py [--seconds 60] [--rate 100] [--workers 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imr_rules.api import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Probe:
    """One request body and what its answer must be."""

    kind: str
    body: bytes
    status: int
    record_id: str | None = None
    case_id: str | None = None


def probes() -> list[Probe]:
    """Real cases with their expected record ids, and malformed bodies with their expected status."""
    kb = KnowledgeBase.load()
    found: list[Probe] = []
    cases = ROOT / "cases"
    for path in sorted((cases / "seeds").glob("*.yaml")) + sorted((cases / "historical").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        body = json.dumps(data, default=str).encode()
        record = kb.evaluate(json.loads(body)).record()
        found.append(Probe("case", body, 200, record["record_id"], record["case_id"]))
    invalid = yaml.safe_load((ROOT / "cases" / "seeds" / "seed-001-lumbar-pt.yaml").read_text(encoding="utf-8"))
    del invalid["claim"]
    found += [Probe("bad-json", b"{not json", 400), Probe("not-utf8", b"\xff\xfe{}", 400),
              Probe("not-object", b"[1, 2, 3]", 422),
              Probe("invalid-case", json.dumps(invalid, default=str).encode(), 422),
              Probe("too-large", b'{"x": "' + b"a" * 2_100_000 + b'"}', 413)]
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


_local = threading.local()


def send(port: int, probe: Probe) -> tuple[int, bytes, float]:
    """POST one probe on this thread's keep-alive connection; (status, body, seconds)."""
    start = time.perf_counter()
    for attempt in (1, 2):
        connection = getattr(_local, "connection", None)
        if connection is None:
            connection = _local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("POST", "/evaluate", body=probe.body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                _local.connection = None
            return response.status, body, time.perf_counter() - start
        except (ConnectionError, http.client.HTTPException, OSError):
            connection.close()
            _local.connection = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def check(probe: Probe, status: int, body: bytes) -> str | None:
    """None when the answer is the one this probe must get; else what is wrong."""
    if status != probe.status:
        return f"{probe.kind}: status {status}, expected {probe.status}"
    data = json.loads(body)
    if probe.kind == "case":
        if data.get("record_id") != probe.record_id or data.get("case_id") != probe.case_id:
            return f"case {probe.case_id}: answer is for {data.get('case_id')} / {data.get('record_id')}"
        return None
    if not data.get("errors") or not all(e.get("text") for e in data["errors"]):
        return f"{probe.kind}: no located errors"
    return None


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "imr_rules", "serve", "--port", str(port), "--workers",
                               str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "IMR_RULES_API_KEY": ""})
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the service did not start")


def run(seconds: float, rate: float, workers: int, malformed_share: float) -> dict[str, Any]:
    available = probes()
    real = [p for p in available if p.kind == "case"]
    bad = [p for p in available if p.kind != "case"]
    chooser = random.Random(15)
    total = int(seconds * rate)
    plan = [chooser.choice(bad) if chooser.random() < malformed_share else chooser.choice(real) for _ in range(total)]
    port = free_port()
    started = time.perf_counter()
    server = start_server(port, workers)
    startup = time.perf_counter() - started
    memory_before = rss_mb(server.pid)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    wrong: list[str] = []
    failures: list[str] = []
    lag: list[float] = []
    lock = threading.Lock()
    begin = time.perf_counter()

    def one(index: int) -> None:
        due = begin + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        late = time.perf_counter() - due
        probe = plan[index]
        try:
            status, body, elapsed = send(port, probe)
        except Exception as exc:  # a failed request is counted and reported, the run goes on
            with lock:
                failures.append(f"{probe.kind}: {type(exc).__name__}: {exc}")
            return
        problem = check(probe, status, body)
        with lock:
            latencies.append(elapsed)
            lag.append(late)
            statuses[status] = statuses.get(status, 0) + 1
            if problem:
                wrong.append(problem)

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(one, range(total)))
    duration = time.perf_counter() - begin
    memory_after = rss_mb(server.pid)
    server.terminate()
    server.wait(timeout=30)
    ordered = sorted(latencies)

    def pct(share: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if ordered else 0.0

    return {"requests": total, "answered": len(latencies), "seconds": round(duration, 1), "target_rate": rate,
            "throughput_per_s": round(len(latencies) / duration, 1), "workers": workers,
            "startup_s": round(startup, 2), "real_cases": sum(p.kind == "case" for p in plan),
            "malformed": sum(p.kind != "case" for p in plan),
            "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0),
                           "mean": round(1000 * statistics.fmean(ordered), 1) if ordered else 0.0},
            "sender_lag_ms_p99": round(1000 * sorted(lag)[int(0.99 * len(lag))], 1) if lag else 0.0,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}, "wrong_answers": len(wrong),
            "wrong_examples": wrong[:5], "transport_errors": len(failures), "transport_examples": failures[:5],
            "memory_mb": {"before": round(memory_before, 1), "after": round(memory_after, 1)},
            "machine": f"{os.cpu_count()} CPUs (shared)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--malformed", type=float, default=0.2, help="share of malformed requests")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    figures = run(options.seconds, options.rate, options.workers, options.malformed)
    text = json.dumps(figures, indent=1)
    print(text)
    if options.json:
        options.json.write_text(text + "\n", encoding="utf-8")
    if figures["wrong_answers"] or figures["transport_errors"] or figures["answered"] != figures["requests"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
