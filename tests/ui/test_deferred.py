"""``serve`` mounts the web UI after the API is healthy (``create_app(defer_ui=True)``): until
the UI is built ``/ui`` answers a self-refreshing starting page and ``/healthz`` says
``ui: starting``; then the real UI answers at the same path; a UI that fails to build leaves
the API answering."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.api.deferred_ui import DeferredUI
from tests.api.live_server import LiveServer
from tests.conftest import free_port
from tests.ui.test_browser import _ask, _wait_for_answers

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _wait_ui(url: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/healthz", timeout=10).json()
        if health["ui"] != "starting":
            return health
        time.sleep(0.2)
    raise AssertionError("the UI never left the starting state")


def test_until_built_the_ui_path_answers_a_starting_page_and_the_api_answers(assistant):
    # no lifespan (TestClient outside a with-block): the UI is never built
    client = TestClient(create_app(assistant.settings, assistant, defer_ui=True))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["ui"] == "starting"

    page = client.get("/ui/?q=创新券", headers=HTML)
    assert page.status_code == 503 and page.headers["retry-after"] == "2"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-type"].startswith("text/html")
    assert "网页界面正在启动" in page.text and 'http-equiv="refresh"' in page.text
    assert "创新券" not in page.text  # the query string is not echoed into the page

    api = client.get("/ui/gradio_api/info")  # a client of the UI's own API gets JSON
    assert api.status_code == 503 and api.json()["code"] == "ui_starting"
    assert client.get("/ui/doc/whatever", headers=HTML).status_code == 503

    answer = client.post("/v1/ask", json={"question": "今年计划给多少家企业发放鲁科贷？"})
    assert answer.status_code == 200 and "500家" in answer.json()["answer"]
    assert client.get("/", follow_redirects=False).headers["location"].startswith("ui/")


def test_the_ui_mounted_after_the_start_answers_in_a_browser(assistant, page):
    app = create_app(assistant.settings, assistant, defer_ui=True)
    with LiveServer(app, free_port()) as server:
        assert _wait_ui(server.url)["ui"] == "ready"
        page.goto(f"{server.url}/ui/")
        _ask(page, "今年计划给多少家企业发放鲁科贷？")  # needs Gradio's queue, started late
        answer = _wait_for_answers(page, 1)
        assert "500家" in answer.locator(".pa-answer").inner_text()

        doc = httpx.get(f"{server.url}/ui/doc/2025年全市科技工作要点.txt", headers=HTML)
        assert doc.status_code == 200 and "鲁科贷" in doc.text
        paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
        assert "/ui/doc/{doc_id}" in paths  # the schema is rebuilt once the UI joined


def _app_building(deferred: DeferredUI, build) -> FastAPI:
    """A bare app whose start begins building a UI with ``build``, as ``create_app`` does."""

    @asynccontextmanager
    async def lifespan(app):
        deferred.start(app, build)
        yield
        await deferred.stop()

    app = FastAPI(lifespan=lifespan)
    app.router.routes.append(deferred.route)
    return app


def test_a_ui_that_fails_to_build_is_reported_and_the_rest_keeps_answering():
    deferred = DeferredUI("/ui")

    def build():
        raise RuntimeError("no UI here")

    app = _app_building(deferred, build)

    @app.get("/ping")
    def ping() -> dict:
        return {"state": deferred.state}

    with LiveServer(app, free_port()) as server:
        deadline = time.monotonic() + 30
        while deferred.state == "starting" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{server.url}/ping").json() == {"state": "failed"}
        page = httpx.get(f"{server.url}/ui/", headers=HTML)
        assert page.status_code == 500 and "启动失败" in page.text
        assert "retry-after" not in page.headers


def test_a_server_stopping_while_the_ui_builds_does_not_start_it():
    import threading
    from types import SimpleNamespace

    deferred = DeferredUI("/ui")
    release, started = threading.Event(), []

    @asynccontextmanager
    async def gradio_lifespan(app):
        started.append("lifespan")
        yield

    def build():
        release.wait(30)
        return SimpleNamespace(router=SimpleNamespace(lifespan_context=gradio_lifespan))

    server = LiveServer(_app_building(deferred, build), free_port())
    with server:
        assert httpx.get(f"{server.url}/ui/", headers=HTML).status_code == 503
        threading.Timer(1.0, release.set).start()  # the build ends while the server stops
    assert started == [] and deferred.state == "starting"
