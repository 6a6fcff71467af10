"""Bounded load on 127.0.0.1: normal questions while 16 clients send 1 MB bodies (declared and
chunked) and surrogate text. Prints the figures; exits 1 when the loaded p95 of the normal
questions is over twice the unloaded p95 or the server's peak RSS is over 1 GB.

    python tests/api/load.py [--questions 40] [--seconds 120] [--rate 0]
"""

from __future__ import annotations

import argparse
import itertools
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
HOSTILE_CLIENTS = 16
MB = 1024 * 1024


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def rss_kb(pid: int) -> int:
    """The server's resident set (VmRSS) in KB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def ask_all(url: str, n: int) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for question in itertools.islice(itertools.cycle(QUESTIONS), n):
            started = time.perf_counter()
            r = client.post("/v1/ask", json={"question": question})
            times.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
    return times


def hostile(url: str, stop: threading.Event, counts: dict, i: int, rate: float) -> None:
    big = b'{"question": "' + b"a" * MB + b'"}'
    surrogate = '{"question": "\\ud800鲁科贷", "history": [{"role": "user", "content": "\\udfff"}]}'

    def chunked():
        yield big[: MB // 2]
        yield big[MB // 2 :]

    with httpx.Client(base_url=url, timeout=60) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            if rate:  # paced: at most ``rate`` requests a second from this client
                time.sleep(1 / rate)
            kind = ("declared", "chunked", "surrogate")[(n + i) % 3]
            try:
                if kind == "declared":
                    r = client.post(
                        "/v1/ask", content=big, headers={"content-type": "application/json"}
                    )
                elif kind == "chunked":
                    r = client.post(
                        "/v1/chat/completions",
                        content=chunked(),
                        headers={"content-type": "application/json"},
                    )
                else:
                    r = client.post(
                        "/v1/ask",
                        content=surrogate.encode(),
                        headers={"content-type": "application/json"},
                    )
                counts[r.status_code] = counts.get(r.status_code, 0) + 1
            except httpx.HTTPError as exc:
                counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument(
        "--seconds", type=float, default=120, help="upper bound on the loaded phase"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="requests/s per hostile client (0: as fast as answered)",
    )
    args = parser.parse_args()
    with served() as server:
        ask_all(server.url, 8)  # warm
        unloaded = ask_all(server.url, args.questions)
        base_rss = rss_kb(server.pid)
        stop, counts, peak = threading.Event(), {}, [base_rss]
        threads = [
            threading.Thread(
                target=hostile, args=(server.url, stop, counts, i, args.rate), daemon=True
            )
            for i in range(HOSTILE_CLIENTS)
        ]
        for t in threads:
            t.start()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(server.pid))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        time.sleep(2)  # let the hostile clients get going
        timer = threading.Timer(args.seconds, stop.set)
        timer.start()
        try:
            loaded = ask_all(server.url, args.questions)
        finally:
            stop.set()
            timer.cancel()
            for t in threads:
                t.join(30)
    ratio = p95(loaded) / p95(unloaded)
    print(
        f"unloaded p95 {p95(unloaded) * 1000:.1f} ms, median {statistics.median(unloaded) * 1000:.1f} ms"
    )
    print(
        f"loaded   p95 {p95(loaded) * 1000:.1f} ms, median {statistics.median(loaded) * 1000:.1f} ms  (×{ratio:.2f})"
    )
    print(f"server RSS {base_rss / 1024:.0f} MB before, peak {peak[0] / 1024:.0f} MB under load")
    pace = f"{args.rate:g}/s each" if args.rate else "as fast as answered"
    answers = dict(sorted(counts.items(), key=str))
    print(f"hostile requests ({HOSTILE_CLIENTS} clients, {pace}) by answer: {answers}")
    ok = ratio <= 2.0 and peak[0] < 1024 * 1024
    print("OK" if ok else "FAILED: p95 over 2× or RSS over 1 GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
