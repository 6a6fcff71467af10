"""A real uvicorn server in a background thread on a free port (the pattern of httpx's tests).

Shared by ``tests/api`` and ``tests/ui``. In-process, so a server can reuse the session's loaded
index; the requests still go through real sockets, HTTP parsing and the ASGI stack."""

from __future__ import annotations

import threading
import time
from typing import Self

import uvicorn

ADMIN_KEY = "admin-key-for-tests"
OPENAI_KEYS = ("sk-first-key", "sk-second-key")


class LiveServer:
    def __init__(self, app, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.app = app
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=f"uvicorn-{port}", daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
