"""Request bodies are capped on every route while they are read, before anything parses them;
history is cut to the turns that are read before each turn is validated."""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import urlparse

import httpx
import pytest

from assistant.service import MAX_HISTORY_TURNS

CJK = re.compile(r"[\u4e00-\u9fff]")
LIMIT = 512 * 1024  # the default PA_MAX_BODY_KB
LUKEDAI = "今年计划给多少家企业发放鲁科贷？"


def _big_ask() -> bytes:
    body = {"question": LUKEDAI, "history": [{"role": "user", "content": "鲁" * 1000}] * 400}
    data = json.dumps(body, ensure_ascii=False).encode()
    assert len(data) > 2 * LIMIT
    return data


def _head_only(server, path: str, length: int, content_type: str) -> str:
    """Send a request head that announces ``length`` bytes, and none of them."""
    url = urlparse(server.url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536).decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/ask", "application/json"),
        ("/v1/search", "application/json"),
        ("/v1/chat/completions", "application/json"),
        ("/v1/ask", "application/x-www-form-urlencoded"),
        ("/ui/gradio_api/queue/join", "application/json"),
        ("/wechat/mp", "text/xml"),
    ],
    ids=["ask", "search", "chat", "form", "gradio-queue", "wechat"],
)
def test_a_declared_oversized_body_is_413_before_a_byte_is_read(api_server, path, content_type):
    reply = _head_only(api_server, path, 100 * 1024 * 1024, content_type)
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    body = json.loads(reply.split("\r\n\r\n", 1)[1])
    if path == "/v1/chat/completions":
        assert body["error"]["code"] == "body_too_large" and "512 KB" in body["error"]["message"]
    else:
        assert body == {"detail": "请求体过大（上限 512 KB）", "code": "body_too_large"}


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/search", "/v1/chat/completions"])
def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(api_server, path):
    sent = 0

    def chunks():  # no Content-Length: only counting the bytes as they arrive can stop it
        nonlocal sent
        yield b'{"question": "' + b"a" * 1000
        for _ in range(4000):  # 4 MB if nobody stops reading
            sent += 1024
            yield b"a" * 1024

    try:
        r = httpx.post(
            api_server.url + path,
            content=chunks(),
            headers={"content-type": "application/json"},
            timeout=30,
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pytest.fail("the server dropped the connection instead of answering 413")
    assert r.status_code == 413, r.text
    assert CJK.search(r.text) and "body_too_large" in r.text


def test_a_large_body_is_refused_and_a_normal_question_still_answers(http):
    r = http.post("/v1/ask", content=_big_ask(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"
    ok = http.post("/v1/ask", json={"question": LUKEDAI})
    assert ok.status_code == 200 and "500家" in ok.json()["answer"]


def test_history_is_cut_to_the_last_turns_before_each_turn_is_validated(http):
    """Turns that are never read are not validated: 10,000 malformed early turns followed by
    the real conversation is answered like the real conversation alone."""
    junk = [{"role": "nobody", "content": 1}] * 10_000
    real = [
        *[{"role": "user", "content": "你好"}, {"role": "assistant", "content": "您好"}] * 4,
        {"role": "user", "content": "鲁科贷是什么？"},
        {"role": "assistant", "content": "用好“鲁科贷”政策……"},
    ]
    assert len(real) == MAX_HISTORY_TURNS
    r = http.post("/v1/ask", json={"question": "今年目标是多少？", "history": junk + real})
    assert r.status_code == 200, r.text
    assert r.json()["abstained"] is False and "500家" in r.json()["answer"]


def test_chat_messages_are_cut_before_each_is_validated(http):
    junk = [{"role": "nobody", "content": 1}] * 10_000
    chat = [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "您好"}]
    messages = [*junk, *chat * MAX_HISTORY_TURNS, {"role": "user", "content": LUKEDAI}]
    r = http.post("/v1/chat/completions", json={"model": "policy-assistant", "messages": messages})
    assert r.status_code == 200, r.text
    assert "500家" in r.json()["choices"][0]["message"]["content"]
