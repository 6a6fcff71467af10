"""A real uvicorn server with the UI mounted at /ui, and a headless Debian Chromium driven by
Playwright (never ``playwright install``: the browser comes from apt)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.api.live_server import ADMIN_KEY, LiveServer
from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def ui_server(seed_settings, assistant):
    from assistant.api.app import create_app

    settings = seed_settings.model_copy(update={"api_key": ADMIN_KEY})
    with LiveServer(create_app(settings, assistant), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; any request that would leave 127.0.0.1 is blocked and fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    outside: list[str] = []

    def guard(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in (
            "127.0.0.1",
            "localhost",
        ):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
    assert outside == [], f"the UI tried to reach the network: {outside}"
