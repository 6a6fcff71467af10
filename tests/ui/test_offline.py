"""The served app makes no outbound connection of its own (Gradio analytics, version checks, web
fonts): every socket it opens while starting and serving the UI goes to 127.0.0.1."""

from __future__ import annotations

import socket


def test_serving_the_ui_opens_no_outbound_connection(seed_settings, assistant, monkeypatch):
    from fastapi.testclient import TestClient

    from assistant.api.app import create_app

    lookups: list[str] = []
    connects: list[object] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)

    app = create_app(seed_settings, assistant)
    with TestClient(app) as client:
        page = client.get("/ui/")
        assert page.status_code == 200
        assert "fonts.googleapis" not in page.text and "fonts.gstatic" not in page.text
        config = client.get("/ui/config")
        assert config.status_code == 200
        theme = client.get("/ui/theme.css")
        assert theme.status_code == 200 and "Noto Sans CJK SC" in theme.text  # system fonts
        assert "@font-face" not in theme.text and "googleapis" not in theme.text
    outside = [h for h in lookups if h not in ("127.0.0.1", "localhost", "::1", "testserver")]
    assert outside == [] and connects == []
