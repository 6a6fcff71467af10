"""A remote OpenAI-compatible embeddings endpoint (``PA_EMBEDDER=openai:<model>``): a local
stub server stands in for it (the real client, the official ``openai`` SDK, talks HTTP to it)."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.index import IndexBuilder
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

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            seen.append((texts, self.headers.get("Authorization"), body["model"]))
            data = [
                {"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in reversed(list(enumerate(texts)))  # out of order on purpose
            ]
            out = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_remote_embedder_gets_batches_and_its_vectors_answer(tmp_path, stub):
    url, seen = stub
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
    (row, cosine), *_ = reader.dense(chunk.index_text(), 1, _no_filter())
    assert reader.chunks[row].chunk_id == chunk.chunk_id and cosine == pytest.approx(1.0)
    before = len(seen)
    answer = assistant.ask("鲁科贷争取为多少家企业发放贷款？")
    assert "500家" in answer.answer
    assert len(seen) == before + 1  # the question's one embedding
    again = IndexBuilder(settings).build()
    assert not again.changed and len(seen) == before + 1  # a no-op build asks nothing


def _no_filter():
    from assistant.retrieve import Filters

    return Filters()
