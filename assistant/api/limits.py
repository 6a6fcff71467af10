"""Pure ASGI guards that run before any route reads a request body.

``BodyLimitMiddleware`` caps every request body: a declared ``Content-Length`` over the limit is
answered 413 at once, and the bytes of the ``http.request`` messages are counted as they arrive,
so a chunked body is cut off the moment it passes the limit — nothing is buffered or parsed
first. Uploads (the documents route and Gradio's file routes) have the upload limit; every other
route the JSON limit (``PA_MAX_BODY_KB``).

``RefusalPacing`` holds back refusals of what a request carries (400, 411, 413, 415, 422, 431)
past the ``RefusalPacer``'s rate, so a client that keeps sending what is refused is refused at
that pace; nothing else waits.

``UploadGuard`` closes Gradio's own file-writing routes (``/ui/gradio_api/upload`` …) to anyone
without the admin key, sent as ``Authorization: Bearer`` or as the cookie the documents tab sets
from its key field, and to cross-origin pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..errors import AssistantError
from .deps import check_admin_key
from .handlers import ApiError, error_response, status_for
from .throttle import AuthThrottle, RefusalPacer, TooManyAttempts

log = logging.getLogger("assistant.api")

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around an uploaded file
KEY_COOKIE = "pa_admin_key"  # set by the UI's documents tab from its admin-key field
GRADIO_FILE_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording")


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, f"请求体过大（上限 {_size(limit)}）", "body_too_large")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


async def _send_error(scope: Scope, send: Send, exc: ApiError) -> None:
    response = error_response(scope["path"], exc.status_code, exc.detail, exc.code, exc.headers)
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


class BodyLimitMiddleware:
    """``limit_for(scope)`` gives the limit and whether to refuse an over-limit declared length
    here; a route that checks its key first and the declared length after (the documents upload)
    gets only the counting, so a caller without a key learns nothing about sizes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], tuple[int, bool]]):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, check_declared = self.limit_for(scope)
        declared = Headers(scope=scope).get("content-length") if check_declared else None
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _send_error(scope, send, BodyTooLarge(limit))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # raised into whoever reads: FastAPI answers it as a 413
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge as exc:  # nobody inside turned it into a response
            if started:
                raise
            await _send_error(scope, send, exc)


# Refusals of what the request carries: the body's size, syntax, type, text or headers.
PACED_STATUSES = frozenset({400, 411, 413, 415, 422, 431})


class RefusalPacing:
    """Waits for the pacer before a paced refusal's first byte is sent (the middleware's own 413s
    included: it sits outside ``BodyLimitMiddleware``)."""

    def __init__(self, app: ASGIApp, pacer: RefusalPacer):
        self.app = app
        self.pacer = pacer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def paced(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in PACED_STATUSES:
                await self.pacer.wait()
            await send(message)

        await self.app(scope, receive, paced)


UPLOAD_ROUTE = "/v1/documents"  # checks the admin key, then the declared length, itself


def body_limits(settings: Settings, ui_path: str = "/ui") -> Callable[[Scope], tuple[int, bool]]:
    """The limit for one request: the upload limit for file routes, else ``PA_MAX_BODY_KB``."""
    upload = settings.max_upload_mb * 1024 * 1024 + MULTIPART_OVERHEAD
    default = settings.max_body_kb * 1024
    gradio_files = frozenset(ui_path + r for r in GRADIO_FILE_ROUTES)

    def limit_for(scope: Scope) -> tuple[int, bool]:
        path = scope["path"].rstrip("/")
        if path == UPLOAD_ROUTE:
            return upload, False
        return (upload if path in gradio_files else default), True

    return limit_for


class UploadGuard:
    """Refuses Gradio's file-writing routes without the admin key (401, or 429 after too many
    wrong keys) and from another origin (403): uploads are only for the documents tab."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        throttle: AuthThrottle | None,
        ui_path: str = "/ui",
    ):
        self.app = app
        self.settings = settings
        self.throttle = throttle
        self.paths = frozenset(ui_path + r for r in GRADIO_FILE_ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _same_origin(headers):
            log.warning("refused a Gradio upload from origin %r", headers.get("origin"))
            await _send_error(scope, send, ApiError(403, "不允许跨站上传文件", "forbidden"))
            return
        client = scope.get("client")
        try:
            check_admin_key(
                self.settings,
                _presented_key(headers),
                client=client[0] if client else None,
                throttle=self.throttle,
            )
        except AssistantError as exc:
            status, code = status_for(exc)
            extra = (
                {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
            )
            await _send_error(scope, send, ApiError(status, f"上传被拒绝：{exc}", code, extra))
            return
        await self.app(scope, receive, send)


def _presented_key(headers: Headers) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    cookie = cookie_parser(headers.get("cookie", "")).get(KEY_COOKIE)
    return unquote(cookie) if cookie else None


def _same_origin(headers: Headers) -> bool:
    """No ``Origin`` (not a browser, or a same-origin GET) or one naming this very host."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()
