"""A real ``policy-assistant serve`` process over a copy of the bundled corpus in a temporary
folder, for the scripts that drive a server from outside (``fuzz.py``, ``load.py``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_KEY = "served-admin-key"


@dataclass
class Served:
    url: str
    pid: int
    folder: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300, ui: bool = True) -> None:
    """Poll /healthz until the server answers 200 (and, with ``ui``, its web UI — built after
    the API is healthy — is no longer starting); fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            r = httpx.get(f"{url}/healthz", timeout=5)
            if r.status_code == 200 and (not ui or r.json().get("ui") != "starting"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("server not ready in time")


@contextmanager
def served(**settings: str) -> Iterator[Served]:
    """Index the copy, serve it on a free 127.0.0.1 port, stop it (and print its log's tail
    when the block raised)."""
    with tempfile.TemporaryDirectory(prefix="pa-served-") as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        corpus.mkdir()
        for name in ("2025年全市科技工作要点.txt", "domain_terms.txt"):
            shutil.copy(ROOT / "corpus" / name, corpus / name)
        env = {
            **os.environ,
            "PA_CORPUS_DIR": str(corpus),
            "PA_INDEX_DIR": str(folder / "index"),
            "PA_API_KEY": ADMIN_KEY,
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
            **{f"PA_{k.upper()}": v for k, v in settings.items()},
        }
        exe = str(BIN / "policy-assistant")
        subprocess.run([exe, "index"], env=env, check=True, cwd=tmp, capture_output=True)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with open(folder / "server.log", "w") as log:
            proc = subprocess.Popen(
                [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            ok = False
            try:
                wait_ready(url, proc)
                yield Served(url, proc.pid, folder, env)
                ok = True
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                if not ok:
                    tail = (folder / "server.log").read_text(errors="replace")[-4000:]
                    print("---- server log (tail) ----\n" + tail, file=sys.stderr)
