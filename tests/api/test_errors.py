"""Text is made valid at the edge, and every error body — the framework's own included — is
Chinese and in the documented shape: ``{"detail", "code"}``, or ``{"error": {...}}`` on the
OpenAI-compatible routes."""

from __future__ import annotations

import re

import pytest

from tests.api.live_server import ADMIN_KEY

CJK = re.compile(r"[\u4e00-\u9fff]")
SURROGATE = '"\\ud800鲁科贷"'  # JSON text: the escape reaches the server as six characters
CHAT = "/v1/chat/completions"


def _post_json(http, path: str, raw: str, headers: dict | None = None):
    return http.post(
        path, content=raw.encode(), headers={"content-type": "application/json", **(headers or {})}
    )


def _assert_documented(r, status: int, code: str | None = None) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    if r.request.url.path.startswith(("/v1/chat", "/v1/models")):
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
        message, got = body["error"]["message"], body["error"]["code"]
    else:
        assert set(body) == {"detail", "code"}, body
        message, got = body["detail"], body["code"]
    assert isinstance(message, str) and CJK.search(message), message
    if code is not None:
        assert got == code
    return message


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/ask", '{"question": @}'),
        ("/v1/ask", '{"question": "鲁科贷", "history": [{"role": "user", "content": @}]}'),
        ("/v1/search", '{"query": @}'),
        ("/v1/search", '{"query": "鲁科贷", "doc_ids": [@]}'),
        (CHAT, '{"messages": [{"role": "user", "content": @}]}'),
        (CHAT, '{"messages": [{"role": "user", "content": @}], "stream": true}'),
        (CHAT, '{"messages": [{"role": "user", "content": [{"type": "text", "text": @}]}]}'),
    ],
    ids=["ask", "ask-history", "search", "search-doc-ids", "chat", "chat-stream", "chat-parts"],
)
def test_a_lone_surrogate_is_422_naming_the_problem(http, path, raw):
    raw = raw.replace("@", SURROGATE)
    message = _assert_documented(_post_json(http, path, raw), 422, "invalid_request")
    assert "代理项" in message and "U+D800" in message


def test_a_surrogate_encoded_as_utf8_bytes_is_422_too(http):
    """Python's JSON decoder lets CESU-8 bytes (a surrogate written as UTF-8) through."""
    raw = b'{"messages": [{"role": "user", "content": "\xed\xa0\x80"}]}'
    r = http.post(CHAT, content=raw, headers={"content-type": "application/json"})
    assert "代理项" in _assert_documented(r, 422, "invalid_request")


def test_a_lone_surrogate_in_a_query_string_is_harmless(http):
    r = http.get("/v1/targets", params={"q": "\ud800鲁科贷".encode("utf-8", "surrogatepass")})
    assert r.status_code == 200


def test_the_service_refuses_a_lone_surrogate_from_any_shell(assistant):
    from assistant.errors import InvalidQuestionError

    with pytest.raises(InvalidQuestionError, match="代理项"):
        assistant.ask("\ud800鲁科贷")
    with pytest.raises(InvalidQuestionError, match="代理项"):
        list(assistant.stream("鲁科贷\udfff"))
    # an earlier turn is only context: cleaned, not refused
    answer = assistant.ask(
        "今年目标是多少？", history=[{"role": "user", "content": "鲁科贷\ud800是什么？"}]
    )
    assert answer.question == "今年目标是多少？"


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/ask", b'{"question": "\xff\xfe\xb2\x81"}'),
        ("/v1/ask", b"[" * 100_000 + b"]" * 100_000),
        ("/v1/ask", b'{"question": "q", "history": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"),
        ("/v1/search", b'{"query": "\xc0\xaf"}'),
        (CHAT, b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ],
    ids=["not-utf8", "nested", "nested-history", "overlong-utf8", "chat-nested"],
)
def test_undecodable_and_deeply_nested_bodies_are_chinese_422(http, path, raw):
    r = http.post(path, content=raw, headers={"content-type": "application/json"})
    message = _assert_documented(r, 422, "invalid_request")
    assert "JSON" in message


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/no-such-route", 404, "not_found"),
        ("GET", "/v1/ask", 405, "method_not_allowed"),
        ("PUT", "/v1/documents", 405, "method_not_allowed"),
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
    ],
    ids=["unknown-route", "ask-get", "documents-put", "chat-get", "healthz-delete"],
)
def test_routing_errors_are_chinese_in_the_documented_shape(http, method, path, status, code):
    _assert_documented(http.request(method, path), status, code)


def test_a_multipart_error_is_chinese(http):
    """Starlette's multipart parser refuses two files with an English 400."""
    files = [("file", ("a.txt", b"x")), ("file", ("b.txt", b"y"))]
    r = http.post("/v1/documents", files=files, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    _assert_documented(r, 400, "bad_request")


def test_a_wrong_body_type_is_chinese(http):
    r = http.post("/v1/ask", content=b"question=x", headers={"content-type": "text/plain"})
    _assert_documented(r, 422, "invalid_request")


def test_a_field_named_like_a_location_is_still_named(http):
    r = http.post("/v1/search", json={})
    assert "缺少字段 query" in _assert_documented(r, 422, "invalid_request")
