"""HTTP benchmark for ``make bench``. Prints figures; asserts nothing (exit 1 only on errors).

Starts the real service (``uvicorn --factory assistant.api.app:create_app``) in a subprocess on a
free port over the configured settings (by default the project's ``corpus/`` and ``index/``),
warms it up, then measures ``POST /v1/ask``:

- p50/p95 latency with 1 client and with 8 concurrent clients, requests/s, errors (goal: none);
- the same questions asked in-process (``Assistant.ask``) for comparison (goal: HTTP p50 with one
  client within 1.5× of the in-process p50);
- the server's resident memory (current and peak).
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "evals"))
from bench import QUESTIONS, pct  # noqa: E402 - the same questions and percentile as bench.py

ROUNDS = 10  # sequential: ROUNDS × len(QUESTIONS) requests
CLIENTS = 8
PER_CLIENT = 20  # concurrent: CLIENTS × PER_CLIENT requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, from /proc (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False"}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "assistant.api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("server did not become ready (is the index built? run: make index)")


def timed_asks(client: httpx.Client, questions: list[str]) -> tuple[list[float], int]:
    latencies, errors = [], 0
    for q in questions:
        t = time.perf_counter()
        try:
            r = client.post("/v1/ask", json={"question": q})
            ok = r.status_code == 200 and "answer" in r.json()
        except httpx.HTTPError:
            ok = False
        latencies.append((time.perf_counter() - t) * 1000)
        errors += not ok
    return latencies, errors


def main() -> int:
    from assistant.config import get_settings
    from assistant.service import Assistant

    port = free_port()
    load = os.getloadavg()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            timed_asks(client, QUESTIONS * 3)  # warm-up: index, embedder, jieba, caches

            # in-process, same questions, same machine, server idle meanwhile
            assistant = Assistant(get_settings())
            for q in QUESTIONS:
                assistant.ask(q)
            local = []
            for _ in range(ROUNDS):
                for q in QUESTIONS:
                    t = time.perf_counter()
                    assistant.ask(q)
                    local.append((time.perf_counter() - t) * 1000)

            t = time.perf_counter()
            one, errors_one = timed_asks(client, QUESTIONS * ROUNDS)
            one_wall = time.perf_counter() - t

        def worker(i: int) -> tuple[list[float], int]:
            qs = [QUESTIONS[(i + j) % len(QUESTIONS)] for j in range(PER_CLIENT)]
            with httpx.Client(base_url=url, timeout=120) as c:
                return timed_asks(c, qs)

        t = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(worker, range(CLIENTS)))
        many_wall = time.perf_counter() - t
        many = [ms for lat, _ in results for ms in lat]
        errors_many = sum(e for _, e in results)
        rss, peak = rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

    local_p50 = statistics.median(local)
    ratio = statistics.median(one) / local_p50
    print(f"HTTP benchmark — POST /v1/ask ({len(QUESTIONS)} questions)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {load[0]:.2f}"
    )
    print(f"{'':24}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}{'errors':>8}")
    print(
        f"{'in-process ask':24}{local_p50:9.1f}{pct(local, 0.95):9.1f}"
        f"{len(local) / (sum(local) / 1000):9.1f}{'':>8}"
    )
    print(
        f"{'HTTP, 1 client':24}{statistics.median(one):9.1f}{pct(one, 0.95):9.1f}"
        f"{len(one) / one_wall:9.1f}{errors_one:8d}"
    )
    print(
        f"{f'HTTP, {CLIENTS} clients':24}{statistics.median(many):9.1f}{pct(many, 0.95):9.1f}"
        f"{len(many) / many_wall:9.1f}{errors_many:8d}"
    )
    print(
        f"HTTP p50 (1 client) / in-process p50: {ratio:.2f}× (goal ≤ 1.5×) "
        f"{'✓' if ratio <= 1.5 else '✗'}"
    )
    print(
        f"errors: {errors_one + errors_many} of {len(one) + len(many)} (goal 0) "
        f"{'✓' if errors_one + errors_many == 0 else '✗'}"
    )
    print(f"server RSS: {rss:.0f} MB now, {peak:.0f} MB peak")
    return 1 if errors_one + errors_many else 0


if __name__ == "__main__":
    sys.exit(main())
