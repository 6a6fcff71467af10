"""A real OpenAI-compatible chat server on a free loopback port, scripted per test.

It stands in for DeepSeek / Qwen / Ollama / vLLM: the production client (langchain-openai's
``ChatOpenAI`` over httpx) talks HTTP to it unchanged. Each request takes the next scripted
``Reply`` — a completion, an HTTP error, a delay beyond the client's timeout, an empty
completion — and is answered as JSON or, when the request asks for ``stream``, as SSE chunks.
Every request body is recorded, so tests can assert on the exact prompt the model received.

    with FakeLLM() as llm:
        llm.script("答案 [1]", Reply(status=500))
        ...  # point PA_LLM_BASE_URL at llm.url
        llm.requests[0]["messages"]
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts (a slow model → client timeout)
    chunks: list[str] | None = None  # how a streamed reply is split; default: 4 characters each
    stall: float = 0.0  # streaming: seconds to hang after the chunks, before finishing


class FakeLLM:
    def __init__(self, model: str = "fake-model"):
        self.model = model
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._replies: deque[Reply] = deque()
        # answers requests when nothing is scripted, e.g. ``quote_best_source`` for an eval run
        self.responder: Callable[[dict], Reply | str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # cuts scripted delays short
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def script(self, *replies: Reply | str) -> None:
        """Queue replies for the next requests, in order (a str is a 200 completion)."""
        with self._lock:
            self._replies.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def reset(self) -> None:
        with self._lock:
            self.responder = None
            self._replies.clear()
            self.requests.clear()
            self.headers.clear()

    def _next(self, body: dict, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self._replies:
                return self._replies.popleft()
        if self.responder is not None:
            reply = self.responder(body)
            return Reply(reply) if isinstance(reply, str) else reply
        return Reply(status=599, content="fake LLM: no reply scripted for this request")

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found", "type": "invalid_request"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found", "type": "invalid_request"}})
                return
            reply = fake._next(body, {k.lower(): v for k, v in self.headers.items()})
            fake._sleep(reply.delay)
            try:
                if reply.status != 200:
                    self._json(
                        reply.status,
                        {
                            "error": {
                                "message": reply.content or "server error",
                                "type": "server_error",
                            }
                        },
                    )
                elif body.get("stream"):
                    self._sse(reply, body.get("model", fake.model))
                else:
                    self._json(200, _completion(reply.content, body.get("model", fake.model)))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): expected in timeout tests

        def _json(self, status: int, data: dict) -> None:
            raw = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _sse(self, reply: Reply, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            pieces = reply.chunks
            if pieces is None:
                pieces = [reply.content[i : i + 4] for i in range(0, len(reply.content), 4)]
            self._event(_chunk(model, {"role": "assistant", "content": ""}))
            for piece in pieces:
                self._event(_chunk(model, {"content": piece}))
            if reply.stall:
                fake._sleep(reply.stall)
            self._event(_chunk(model, {}, finish="stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, data: dict) -> None:
            self.wfile.write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

    return Handler


def _completion(content: str, model: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def system_and_user(body: dict) -> tuple[str, str]:
    """The system and user message texts of a recorded chat request."""
    by_role = {m["role"]: m["content"] for m in body["messages"]}
    return by_role.get("system", ""), by_role.get("user", "")


_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', re.DOTALL)
_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.DOTALL)


def quote_best_source(body: dict) -> Reply | str:
    """A well-behaved model for whole eval runs in LLM mode: it quotes the source sentence that
    covers most of the question's words, with its [n]. It cannot rewrite follow-ups, so it
    answers condensing requests with an error (the product then condenses by its rules)."""
    from assistant.text import search_tokens

    _, user = system_and_user(body)
    if "<history>" in user:
        return Reply(status=503, content="fake LLM does not condense")
    question = _QUESTION.search(user)
    asked = question.group(1) if question else ""
    words = {t for t in search_tokens(asked) if len(t) > 1}
    wants_number = bool(re.search(r"多少|几", asked))
    best, best_score = "", 0.0
    for n, text in _SOURCE.findall(user):
        for sentence in re.findall(r"[^。！？；\n]+[。！？；]?", text):
            score = sum(w in sentence for w in words) + 0.01 * len(_pairs(asked) & _pairs(sentence))
            score += 0.5 * (wants_number and bool(re.search(r"\d", sentence)))
            score -= 0.5 * (len(sentence) < 20)  # a bare heading answers nothing
            if score > best_score:
                best, best_score = f"{sentence.strip()}[{n}]", score
    return best or "已收录的政策文件中没有找到相关内容。"


def _pairs(text: str) -> set[str]:
    text = re.sub(r"[\W_]+", "", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}
