"""Two real uvicorn servers for the API tests.

``api_server`` serves the shared session index (read-only use). ``private_server`` has a corpus and
index of its own, so uploads and deletes cannot disturb other tests; it also requires OpenAI keys.
"""

from __future__ import annotations

import pytest

from tests.api.live_server import ADMIN_KEY, OPENAI_KEYS, LiveServer
from tests.conftest import copy_seed_corpus, free_port, make_settings


@pytest.fixture(scope="session")
def api_server(seed_settings, assistant):
    from assistant.api.app import create_app

    settings = seed_settings.model_copy(update={"api_key": ADMIN_KEY})
    with LiveServer(create_app(settings, assistant), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def private_settings(tmp_path_factory):
    from assistant.service import Assistant

    tmp = tmp_path_factory.mktemp("private")
    copy_seed_corpus(tmp / "corpus")
    settings = make_settings(tmp, api_key=ADMIN_KEY, openai_keys=",".join(OPENAI_KEYS))
    Assistant(settings).build_index()
    return settings


@pytest.fixture(scope="session")
def private_server(private_settings):
    from assistant.api.app import create_app

    with LiveServer(create_app(private_settings), free_port()) as server:
        yield server


@pytest.fixture
def http(api_server):
    import httpx

    with httpx.Client(base_url=api_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def private_http(private_server):
    import httpx

    with httpx.Client(base_url=private_server.url, timeout=120) as client:
        yield client
