"""Bounded load on 127.0.0.1: normal questions while 16 clients send 1 MB bodies (declared and
chunked) and surrogate text. Prints unloaded and loaded p50/p95 of the normal questions, their
ratio and the server's peak RSS; exits 1 when the loaded p95 is over twice the unloaded p95 or
the peak RSS is over 1 GB. A benchmark, not a test: run it several times and record the figures.

    python tests/api/load.py [--rounds 10] [--questions 20] [--body-kb 1024] [--clients 16]

Rounds alternate a block of questions on an idle server with a block under the hostile load, so
both see the same background load of the machine; each percentile is over all blocks of its kind.
The hostile clients run in a process of their own: as threads of the measuring process they would
hold its GIL, and the timings would be the load generator's, not the server's. ``--body-kb`` sets
the size of the large bodies: 1024 is over the default cap (refused by size), a size just under
``PA_MAX_BODY_KB`` is read and parsed before it is refused.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from served import served  # this script's folder is on sys.path

QUESTIONS = [
    "今年计划给多少家企业发放鲁科贷？",
    "技术经理人培训目标是多少？",
    "科融信能提供什么贷款？",
    "今年要实施多少个科技创新重点项目？",
]
KINDS = ("declared", "chunked", "surrogate")
SURROGATE = '{"question": "\\ud800鲁科贷", "history": [{"role": "user", "content": "\\udfff"}]}'


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def memory_kb(pid: int, field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the kernel's peak) of a process, in KB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def ask_block(client: httpx.Client, n: int) -> list[float]:
    times = []
    for question in itertools.islice(itertools.cycle(QUESTIONS), n):
        started = time.perf_counter()
        r = client.post("/v1/ask", json={"question": question})
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return times


def _hostile_client(url: str, i: int, body: bytes, go, stop, counts: dict) -> None:
    json_type = {"content-type": "application/json"}

    def chunked():  # no Content-Length: the server can only count the bytes as they come
        yield body[: len(body) // 2]
        yield body[len(body) // 2 :]

    with httpx.Client(base_url=url, timeout=60) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            if not go.wait(0.1):
                continue
            kind = KINDS[(n + i) % len(KINDS)]
            try:
                if kind == "declared":
                    r = client.post("/v1/ask", content=body, headers=json_type)
                elif kind == "chunked":
                    r = client.post("/v1/chat/completions", content=chunked(), headers=json_type)
                else:
                    r = client.post("/v1/ask", content=SURROGATE.encode(), headers=json_type)
                key = f"{kind} {r.status_code}"
            except httpx.HTTPError as exc:
                key = f"{kind} {type(exc).__name__}"
            counts[key] = counts.get(key, 0) + 1


def hostile(url: str, clients: int, body_kb: int, go, stop, results) -> None:
    """The hostile process: ``clients`` threads, each sending as fast as it is answered while
    ``go`` is set, in turn a large body with a declared length, the same body chunked, and
    surrogate text."""
    body = b'{"question": "' + b"a" * max(body_kb * 1024 - 16, 0) + b'"}'
    counts: dict[str, int] = {}
    threads = [
        threading.Thread(target=_hostile_client, args=(url, i, body, go, stop, counts))
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="unloaded/loaded block pairs")
    parser.add_argument("--questions", type=int, default=20, help="normal questions per block")
    parser.add_argument("--clients", type=int, default=16, help="hostile clients")
    parser.add_argument("--body-kb", type=int, default=1024, help="size of the large bodies")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting, e.g. refusals_per_s=1e9 to see the server without pacing",
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    ctx = mp.get_context("spawn")
    go, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
    unloaded: list[float] = []
    loaded: list[float] = []
    load_before, hostile_s = os.getloadavg()[0], 0.0
    with served(**settings) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        ask_block(client, 8)  # warm
        base_rss = memory_kb(server.pid, "VmRSS")
        gen = ctx.Process(
            target=hostile, args=(server.url, args.clients, args.body_kb, go, stop, results)
        )
        gen.start()
        try:
            for _ in range(args.rounds):
                unloaded += ask_block(client, args.questions)
                go.set()
                started = time.monotonic()
                time.sleep(1.5)  # let the hostile clients get going
                loaded += ask_block(client, args.questions)
                go.clear()
                hostile_s += time.monotonic() - started
                time.sleep(0.5)  # let their last requests finish
            peak_rss = memory_kb(server.pid, "VmHWM")
        finally:
            stop.set()
            go.set()
            counts = results.get(timeout=120)
            gen.join(30)
    ratio = p95(loaded) / p95(unloaded)
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print(
        f"machine: {machine}; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    if settings:
        print("settings: " + ", ".join(f"PA_{k.upper()}={v}" for k, v in settings.items()))
    n = len(unloaded)
    for name, times in (("unloaded", unloaded), ("loaded", loaded)):
        p50 = statistics.median(times) * 1000
        print(f"{name:9} p50 {p50:6.1f} ms  p95 {p95(times) * 1000:6.1f} ms  ({n} questions)")
    print(f"ratio of the p95s ×{ratio:.2f}")
    print(f"server RSS {base_rss / 1024:.0f} MB before, peak {peak_rss / 1024:.0f} MB (VmHWM)")
    rate = sum(counts.values()) / hostile_s
    print(
        f"hostile requests ({args.clients} clients, {args.body_kb} KB bodies, {rate:.0f}/s): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    )
    ok = ratio < 2.0 and peak_rss < 1024 * 1024
    print("OK" if ok else "FAILED: loaded p95 ≥ 2× unloaded p95, or peak RSS ≥ 1 GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
