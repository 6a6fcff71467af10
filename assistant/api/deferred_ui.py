"""The web UI mounted after the service is healthy (``serve``): ``/ui`` answers a self-refreshing
"starting" page (HTTP 503, ``Retry-After``) until Gradio is imported and the UI built, then the
real UI takes the same path without a restart.

Why: importing Gradio and building the UI is about half of a server's start on a small machine,
and neither the API, the OpenAI-compatible endpoint, WeChat nor the health check needs it. The
index and the answering stack are warmed first, so ``/healthz`` turns 200 as soon as questions
can be answered; the UI is built in a worker thread after that, and its Gradio app's own start
(its queue, its cache cleaner) runs inside the running server's event loop.

``/healthz`` says where the UI is (``ui``: ``starting``, ``ready`` or ``failed``); a UI that
fails to build is logged and leaves the API answering.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .handlers import error_response

log = logging.getLogger("assistant.api")

UIState = Literal["starting", "ready", "failed"]
RETRY_S = 2

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}">
<title>威海科技政策问答助手</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;display:flex;
min-height:100vh;align-items:center;justify-content:center;background:#f7f8fa;color:#1f2937}}
main{{max-width:28rem;padding:1.5rem;text-align:center;line-height:1.7}}
h1{{font-size:1.25rem;margin:0 0 .5rem}}p{{margin:.25rem 0}}</style></head>
<body><main><h1>威海科技政策问答助手</h1><p>{message}</p><p>{hint}</p></main></body></html>
"""


class DeferredUI:
    """The ASGI app mounted at the UI's path while the UI is not ready; once the real UI is up
    its mount is removed from the router, so the routes the UI added behind it take over."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.state: UIState = "starting"
        self.route = Mount(path, app=self)
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        if scope["type"] != "http":
            return
        await self._response(scope)(scope, receive, send)

    def _response(self, scope: Scope) -> Response:
        failed = self.state == "failed"
        status = 500 if failed else 503
        headers = {"Cache-Control": "no-store"}
        if not failed:
            headers["Retry-After"] = str(RETRY_S)
        message = (
            "网页界面启动失败，请联系管理员查看服务日志。"
            if failed
            else "网页界面正在启动，请稍候……"
        )
        accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
        if scope.get("method") == "GET" and "text/html" in accept:
            hint = "问答接口已可使用。" if failed else f"页面将在 {RETRY_S} 秒后自动刷新。"
            page = _PAGE.format(
                retry=RETRY_S * 5 if failed else RETRY_S,
                message=html.escape(message),
                hint=html.escape(hint),
            )
            return HTMLResponse(page, status_code=status, headers=headers)
        code = "ui_failed" if failed else "ui_starting"
        return error_response(scope.get("path", ""), status, message, code, headers)

    def start(self, app, build: Callable[[], ASGIApp]) -> None:
        """Build the UI now, in a worker thread (``build`` mounts it on ``app`` behind this
        placeholder and returns its Gradio app), then run that app's start and open it."""
        self._task = asyncio.create_task(self._run(app, build), name="ui-start")

    async def _run(self, app, build: Callable[[], ASGIApp]) -> None:
        try:
            gradio_app = await run_in_threadpool(build)
            if self._stop.is_set():  # the server is stopping: do not start what ends at once
                return
            async with gradio_app.router.lifespan_context(gradio_app):
                blocks = gradio_app.get_blocks()
                blocks.run_startup_events()
                await blocks.run_extra_startup_events()
                # (its public /gradio_api/startup-events would otherwise start the queue again)
                gradio_app.startup_events_triggered = True
                app.router.routes.remove(self.route)
                app.openapi_schema = None  # the UI's document route joins the schema
                self.state = "ready"
                log.info("网页界面已就绪：%s", self.path)
                await self._stop.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.state = "failed"
            log.exception("网页界面启动失败；API 继续服务")

    async def stop(self) -> None:
        """At shutdown: let the UI's Gradio app stop (its queue, its cleaners)."""
        self._stop.set()
        if self._task is not None:
            try:  # a build still running past this is cancelled (its thread ends on its own)
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                pass
