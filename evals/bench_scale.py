"""Scale benchmark of the live index: N synthetic policy documents, a local stub embeddings
server (OpenAI-compatible), a real ``policy-assistant serve`` process.

Prints, for the corpus size given: full build, no-op ``index``, server start to healthy, ask
p50/p95 (all questions, and target questions alone), one upload, the first question after it,
one delete, and the process's memory — excluding the stub's own time where it is in the path
(index builds; an ask's one query embedding is a round trip of well under a millisecond).

    .venv/bin/python evals/bench_scale.py --docs 1000
    .venv/bin/python evals/bench_scale.py --docs 4000 --chroma-url http://127.0.0.1:8001

Nothing here is a test; figures go to the README with the machine they ran on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import synth  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIM = 384
KEY = "bench-admin-key"
QUESTIONS = [
    "科技型中小企业研发费用补助的比例是多少？",
    "申请认定奖励应当具备哪些条件？",
    "新型研发机构建设补助需要提交哪些材料？",
    "孵化器运营补贴单个项目最高多少万元？",
    "首台套装备保险补偿什么时候组织评审？",
    "本办法有效期几年？",
]
TARGET_QUESTIONS = [
    "力争培育多少家科技型中小企业？",
    "计划建设多少个市级以上创新平台？",
    "全社会研发投入增长目标是多少？",
]


class Stub:
    """OpenAI-compatible ``/v1/embeddings``: a deterministic unit vector per text."""

    def __init__(self, port: int = 0) -> None:
        self.busy_s = 0.0
        self.requests = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                t0 = time.perf_counter()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": _vector(t)}
                    for i, t in enumerate(texts)
                ]
                out = json.dumps(
                    {"object": "list", "data": data, "model": body.get("model", "stub")}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                stub.busy_s += time.perf_counter() - t0
                stub.requests += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _vector(text) -> list[float]:
    if not isinstance(text, str):  # token ids: not sent with check_embedding_ctx_length off
        text = str(text)
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] * (i + 7)) % 251) / 125.0 - 1.0 for i in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _env(corpus: Path, index: Path, stub: Stub, chroma_url: str | None) -> dict:
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(corpus),
        "PA_INDEX_DIR": str(index),
        "PA_EMBEDDER": "openai:stub",
        "PA_EMBED_BASE_URL": stub.url,
        "PA_API_KEY": KEY,
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    if chroma_url:
        env["PA_CHROMA_URL"] = chroma_url
    return env


def _cli(args: list[str], env: dict, cwd: Path) -> tuple[float, dict]:
    exe = Path(sys.executable).with_name("policy-assistant")
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(exe), *args, "--json"], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - t0, json.loads(out.stdout)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used: unlike wall time, not
    inflated by other jobs on the machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--chroma-url", default=None)
    parser.add_argument("--rounds", type=int, default=20, help="asks per question")
    parser.add_argument("--keep", default=None, help="work folder to use and keep")
    parser.add_argument("--updates", type=int, default=5, help="upload/delete rounds")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="pa-scale-"))
    corpus, index = work / "corpus", work / "index"
    # The embedder's URL is part of the index's embedder id: a kept folder's stub keeps its port,
    # so a second run over it finds the index current instead of re-embedding everything.
    port_file = work / "stub-port"
    stub = Stub(int(port_file.read_text()) if port_file.is_file() else 0)
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.write_text(str(stub.server.server_address[1]))
    env = _env(corpus, index, stub, args.chroma_url)
    if not corpus.is_dir():
        synth.write_corpus(corpus, args.docs)
    rows: list[tuple[str, str]] = []

    busy = stub.busy_s
    t, built = _cli(["index"], env, work)
    rows.append(("full build", f"{t - (stub.busy_s - busy):.1f} s ({built['chunks']} chunks)"))
    t, _ = _cli(["index"], env, work)
    rows.append(("no-op index", f"{t:.2f} s"))

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("policy-assistant")
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "serve.log", "wb"),
    )
    try:
        _wait_healthy(url)
        rows.append(
            (
                "server start to healthy",
                f"{time.perf_counter() - t0:.2f} s (CPU {_cpu_s(server.pid):.1f} s)",
            )
        )
        _wait_healthy(url, ui=True)  # the UI is built after the API is healthy
        rows.append(("server start to UI ready", f"{time.perf_counter() - t0:.2f} s"))
        rows.append(("server RSS after start", f"{_rss_mb(server.pid):.0f} MB"))
        with httpx.Client(base_url=url, timeout=120) as http:
            lat, lat_t = [], []
            for _ in range(args.rounds):
                for q in QUESTIONS + TARGET_QUESTIONS:
                    t0 = time.perf_counter()
                    r = http.post("/v1/ask", json={"question": q})
                    r.raise_for_status()
                    ms = (time.perf_counter() - t0) * 1000
                    lat.append(ms)
                    if q in TARGET_QUESTIONS:
                        lat_t.append(ms)
            rows.append(
                (
                    "ask p50 / p95 (target questions)",
                    f"{_pct(lat, 0.5):.0f} / {_pct(lat, 0.95):.0f} ms "
                    f"({_pct(lat_t, 0.5):.0f} / {_pct(lat_t, 0.95):.0f} ms)",
                )
            )
            auth = {"Authorization": f"Bearer {KEY}"}
            adds, add_cpus, firsts, deletes, delete_cpus, after_deletes = [], [], [], [], [], []
            for k in range(args.updates):  # each: upload, ask, delete, ask
                name, text = synth.document(args.docs + 1 + k)
                busy = stub.busy_s
                cpu = _cpu_s(server.pid)
                t0 = time.perf_counter()
                r = http.post("/v1/documents", files={"file": (name, text.encode())}, headers=auth)
                r.raise_for_status()
                adds.append(time.perf_counter() - t0 - (stub.busy_s - busy))
                add_cpus.append(_cpu_s(server.pid) - cpu)
                t0 = time.perf_counter()
                http.post("/v1/ask", json={"question": QUESTIONS[0]}).raise_for_status()
                firsts.append((time.perf_counter() - t0) * 1000)
                cpu = _cpu_s(server.pid)
                t0 = time.perf_counter()
                http.delete(f"/v1/documents/{r.json()['doc_id']}", headers=auth).raise_for_status()
                deletes.append(time.perf_counter() - t0)
                delete_cpus.append(_cpu_s(server.pid) - cpu)
                t0 = time.perf_counter()
                http.post("/v1/ask", json={"question": QUESTIONS[1]}).raise_for_status()
                after_deletes.append((time.perf_counter() - t0) * 1000)
            med = statistics.median
            n = f"median of {args.updates}"
            rows.append(
                (
                    f"add one document (HTTP upload, {n})",
                    f"{1000 * med(adds):.0f} ms (CPU {1000 * med(add_cpus):.0f} ms; "
                    f"max {1000 * max(adds):.0f} ms)",
                )
            )
            rows.append(("first question after an upload (max)", f"{max(firsts):.0f} ms"))
            rows.append(
                (
                    f"delete one document ({n})",
                    f"{1000 * med(deletes):.0f} ms (CPU {1000 * med(delete_cpus):.0f} ms; "
                    f"max {1000 * max(deletes):.0f} ms)",
                )
            )
            rows.append(("first question after a delete (max)", f"{max(after_deletes):.0f} ms"))
            rows.append(("server RSS at the end", f"{_rss_mb(server.pid):.0f} MB"))
    finally:
        server.terminate()
        server.wait(30)
    t, report = _cli(["index", "--check"], env, work)
    rows.append(("index --check", f"{t:.2f} s, {'clean' if report['clean'] else report}"))
    du = sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) / 2**20
    rows.append(("index size on disk", f"{du:.0f} MiB"))

    store = "chroma run " + args.chroma_url if args.chroma_url else "embedded Chroma"
    print(f"\n{args.docs} synthetic documents, {store}; stub embeddings ({stub.requests} requests)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, timeout: float = 600, ui: bool = False) -> None:
    """Until ``/healthz`` is 200 (and, with ``ui``, says the web UI is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/healthz", timeout=5)
            if r.status_code == 200 and (not ui or r.json().get("ui") == "ready"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} never became healthy")


if __name__ == "__main__":
    main()
