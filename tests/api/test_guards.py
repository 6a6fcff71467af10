"""Gradio's own upload route is closed to anyone without the admin key, no origin is reflected
with credentials, and wrong keys are throttled per client address (429 + Retry-After)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.api.live_server import ADMIN_KEY, LiveServer
from tests.conftest import free_port

CJK = re.compile(r"[\u4e00-\u9fff]")
UPLOAD = "/ui/gradio_api/upload"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
FILE = {"files": ("政策.txt", "威海市科技特派员工作方案。".encode(), "text/plain")}
MAX_FAILURES = 3


def _server(seed_settings, assistant, **overrides):
    from assistant.api.app import create_app

    settings = seed_settings.model_copy(update={"api_key": ADMIN_KEY, **overrides})
    return LiveServer(create_app(settings, assistant), free_port())


@pytest.fixture(scope="module")
def guarded(seed_settings, assistant):
    with _server(seed_settings, assistant) as server:
        yield server


@pytest.fixture
def ui(guarded):
    with httpx.Client(base_url=guarded.url, timeout=60) as client:
        yield client


def _gradio_upload_dir(server) -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Cookie": "pa_admin_key=wrong"}],
    ids=["anonymous", "wrong-bearer", "wrong-cookie"],
)
def test_gradio_upload_route_refuses_writes_without_the_admin_key(guarded, ui, headers):
    folder = _gradio_upload_dir(guarded)
    before = _files_under(folder)
    r = ui.post(UPLOAD, files=FILE, headers=headers)
    assert r.status_code == 401, r.text
    body = r.json()
    assert set(body) == {"detail", "code"} and CJK.search(body["detail"])
    assert "上传被拒绝" in body["detail"]
    assert _files_under(folder) == before


@pytest.mark.parametrize(
    "headers",
    [AUTH, {"Cookie": f"pa_admin_key={quote(ADMIN_KEY)}"}],
    ids=["bearer", "cookie-from-the-documents-tab"],
)
def test_gradio_upload_route_takes_files_from_the_admin(ui, headers):
    r = ui.post(UPLOAD, files=FILE, headers=headers)
    assert r.status_code == 200, r.text
    (path,) = r.json()
    Path(path).unlink(missing_ok=True)


def test_gradio_upload_from_another_origin_is_refused_even_with_the_key(ui):
    cookie = {"Cookie": f"pa_admin_key={quote(ADMIN_KEY)}"}
    for origin in ("http://localhost:6666", "http://127.0.0.1:1", "null", "https://evil.example"):
        r = ui.post(UPLOAD, files=FILE, headers={**cookie, "Origin": origin})
        assert r.status_code == 403, (origin, r.text)
        assert "跨站" in r.json()["detail"]


def test_gradio_upload_is_size_limited_after_the_key(guarded, ui):
    import socket
    from urllib.parse import urlparse

    url = urlparse(guarded.url)

    def head(extra: str) -> str:
        request = (
            f"POST {UPLOAD} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {60 * 1024 * 1024}\r\n{extra}\r\n"
        )
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(request.encode())
            return sock.recv(4096).decode("utf-8", "replace")

    assert head("").startswith("HTTP/1.1 401")  # no key: nothing about sizes is told
    reply = head(f"Authorization: Bearer {ADMIN_KEY}\r\n")
    assert reply.startswith("HTTP/1.1 413") and "请求体过大" in reply


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/ui/"), ("GET", "/ui/config"), ("POST", "/v1/ask"), ("GET", "/v1/documents")],
)
@pytest.mark.parametrize("origin", ["http://localhost:6666", "https://evil.example"])
def test_no_origin_is_reflected_with_credentials(ui, method, path, origin):
    headers = {"Origin": origin}
    r = ui.request(method, path, headers=headers, json={"question": "鲁科贷"})
    assert "access-control-allow-origin" not in r.headers, dict(r.headers)
    pre = ui.options(
        path,
        headers={**headers, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers, dict(pre.headers)


def test_a_configured_origin_is_allowed(seed_settings, assistant):
    allowed = "https://zc.example.cn"
    with _server(seed_settings, assistant, cors_origins=allowed) as server:
        r = httpx.get(f"{server.url}/v1/documents", headers={"Origin": allowed}, timeout=60)
        assert r.headers["access-control-allow-origin"] == allowed
        other = httpx.get(f"{server.url}/ui/", headers={"Origin": "http://localhost:1"})
        assert "access-control-allow-origin" not in other.headers


def test_wrong_admin_keys_are_throttled_per_client_with_retry_after(seed_settings, assistant):
    with (
        _server(
            seed_settings, assistant, auth_max_failures=MAX_FAILURES, auth_window_s=120
        ) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        wrong = {"Authorization": "Bearer guess"}
        for _ in range(MAX_FAILURES):
            assert client.delete("/v1/documents/x.txt", headers=wrong).status_code == 401
        r = client.delete("/v1/documents/x.txt", headers=wrong)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 120
        assert r.json()["code"] == "too_many_attempts" and "秒后再试" in r.json()["detail"]
        # locked out: the right key from the same address waits too, on every key check
        assert client.delete("/v1/documents/x.txt", headers=AUTH).status_code == 429
        up = client.post(UPLOAD, files=FILE, headers=AUTH)
        assert up.status_code == 429 and "retry-after" in up.headers
        # reading needs no key and is not throttled
        assert client.get("/v1/documents").status_code == 200


def test_the_throttle_counts_per_address_and_forgets_after_the_window():
    from assistant.api.throttle import AuthThrottle, TooManyAttempts

    now = [1000.0]
    throttle = AuthThrottle(2, 60, clock=lambda: now[0])
    throttle.failed("10.0.0.1")
    throttle.failed("10.0.0.1")
    with pytest.raises(TooManyAttempts) as caught:
        throttle.check("10.0.0.1")
    assert caught.value.retry_after == 60
    throttle.check("10.0.0.2")  # another address is not affected
    now[0] += 61
    throttle.check("10.0.0.1")


def test_key_comparison_is_constant_time():
    """Keys are compared with hmac.compare_digest (bytes, so a non-ASCII guess cannot raise)."""
    import inspect

    from assistant.api import deps

    assert "compare_digest" in inspect.getsource(deps._matches)
    assert deps._matches("密钥", "密钥") and not deps._matches("密钥", "key")
