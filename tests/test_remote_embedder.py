"""A remote OpenAI-compatible embeddings endpoint (``PA_EMBEDDER=openai:<model>``): a local
stub server stands in for it (the real client, the official ``openai`` SDK, talks HTTP to it)."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.errors import EmbedderUnavailableError
from assistant.index import IndexBuilder
from assistant.retrieve import Filters
from assistant.service import Assistant
from tests.test_index import small_corpus

DIM = 64


def _vector(text: str) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] * (i + 7)) % 251) / 125.0 - 1.0 for i in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


@pytest.fixture
def stub():
    """``POST /v1/embeddings``; records each request's inputs and Authorization header."""
    seen: list[tuple[list[str], str | None, str]] = []
    delay = {"s": 0.0}  # set by a test: how long each request takes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay["s"])
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            seen.append((texts, self.headers.get("Authorization"), body["model"]))
            data = [
                {"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in reversed(list(enumerate(texts)))  # out of order on purpose
            ]
            out = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen, delay
    finally:
        server.shutdown()
        server.server_close()


def test_a_remote_embedder_gets_batches_and_its_vectors_answer(tmp_path, stub):
    url, seen, _delay = stub
    settings = small_corpus(tmp_path).model_copy(
        update={
            "embedder": "openai:stub-embed",
            "embed_base_url": url,
            "embed_api_key": "secret-key",
            "embed_batch": 2,
        }
    )
    summary = IndexBuilder(settings).build()
    assert summary.embedded == summary.chunks > 2
    assert [len(texts) for texts, _, _ in seen] == [
        min(2, summary.chunks - i) for i in range(0, summary.chunks, 2)
    ]  # one request per batch of two, not one per chunk
    assert {(auth, model) for _, auth, model in seen} == {("Bearer secret-key", "stub-embed")}
    # each chunk's vector is the one the endpoint returned for its text (the response's order
    # was reversed): the nearest vector to a chunk's own text is that chunk
    assistant = Assistant(settings)
    reader = assistant.retriever.reader
    chunk = next(c for c in reader.chunks if c is not None)
    (row, cosine), *_ = reader.dense(chunk.index_text(), 1, Filters())
    assert reader.chunks[row].chunk_id == chunk.chunk_id and cosine == pytest.approx(1.0)
    before = len(seen)
    answer = assistant.ask("鲁科贷争取为多少家企业发放贷款？")
    assert "500家" in answer.answer
    assert len(seen) == before + 1  # the question's one embedding
    again = IndexBuilder(settings).build()
    assert not again.changed and len(seen) == before + 1  # a no-op build asks nothing


def test_an_endpoint_that_stops_answering_is_a_clear_error_within_the_timeout(tmp_path, stub):
    import httpx

    from assistant.api.app import create_app
    from tests.api.live_server import LiveServer
    from tests.conftest import free_port

    url, seen, delay = stub
    settings = small_corpus(tmp_path).model_copy(
        update={"embedder": "openai:slow", "embed_base_url": url, "embed_timeout": 0.3}
    )
    IndexBuilder(settings).build()
    assistant = Assistant(settings)
    with LiveServer(create_app(settings, assistant), free_port()) as server:
        assert "500家" in assistant.ask("鲁科贷争取为多少家企业发放贷款？").answer
        delay["s"] = 2.0  # now every request outlasts the timeout
        started = time.monotonic()
        with pytest.raises(EmbedderUnavailableError, match="嵌入服务不可用"):
            assistant.ask("科技保险覆盖多少家企业？")
        assert time.monotonic() - started < 4.0  # three tries of 0.3 s and the SDK's backoff
        r = httpx.post(
            f"{server.url}/v1/ask", json={"question": "科技保险覆盖多少家企业？"}, timeout=30
        )
    assert r.status_code == 503 and r.json()["code"] == "embedder_unavailable"
