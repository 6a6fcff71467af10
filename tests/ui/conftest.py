"""A real uvicorn server with the UI mounted at /ui, and a headless Debian Chromium driven by
Playwright (never ``playwright install``: the browser comes from apt).

``open_page(viewport, scheme)`` gives a fresh page at a phone (390×844, touch) or desktop
(1366×800) size in the light or dark colour scheme; every page blocks and records any request
that would leave 127.0.0.1, and the test fails if there was one. Screenshots go to ``shots``
(``PA_UI_SHOTS`` if set, else a temporary folder), named by test and viewport."""

from __future__ import annotations

import os
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
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1366, "height": 800}},
}
LOOKS = [
    pytest.param("phone", "light", id="phone-light"),
    pytest.param("phone", "dark", id="phone-dark"),
    pytest.param("desktop", "light", id="desktop-light"),
    pytest.param("desktop", "dark", id="desktop-dark"),
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


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("PA_UI_SHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("ui-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def open_page(browser):
    contexts, outside = [], []

    def guard(route):
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlparse(url).hostname in (
            "127.0.0.1",
            "localhost",
        ):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    def make(kind: str = "desktop", scheme: str = "light", locale: str = "zh-CN"):
        context = browser.new_context(
            **VIEWPORTS[kind], locale=locale, color_scheme=scheme, device_scale_factor=1
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        context.route("**/*", guard)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert outside == [], f"the UI tried to reach the network: {outside}"


@pytest.fixture
def page(open_page):
    """A fresh desktop page in the light scheme."""
    return open_page("desktop", "light")
