"""Dependencies shared by the routes, as ``Annotated`` aliases: the assistant, settings, metrics,
and the two key checks (admin key for document changes, optional keys for the OpenAI endpoint).

Every one is ``async def``: none blocks, and FastAPI runs a plain ``def`` dependency in its
thread pool — two hops per request that a request refused for its body paid too, and, under
load, a GIL hand-over each way that a normal question waited for (measured in
``tests/api/load.py``)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import partial
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..config import Settings
from ..errors import AuthError
from ..service import Assistant
from .metrics import Metrics
from .throttle import AuthThrottle

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <密钥>")


async def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


T = TypeVar("T")


class Workers:
    """Runs the CPU-bound answering off the event loop, at most ``size`` at a time.

    On a small machine, letting every waiting request into its own thread makes them fight over
    the cores (and the GIL) and finishes fewer per second; queueing them here keeps throughput at
    the sequential rate. The limiter is created inside the running loop (anyio requires it)."""

    def __init__(self, size: int):
        self.size = size
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self._limiter)


async def get_workers(request: Request) -> Workers:
    return request.app.state.workers


def get_throttle(request: Request) -> AuthThrottle | None:
    return getattr(request.app.state, "auth_throttle", None)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
WorkersDep = Annotated[Workers, Depends(get_workers)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _matches(presented: str, expected: str) -> bool:
    # bytes, so a non-ASCII guess cannot raise; constant time, so timing reveals nothing
    return hmac.compare_digest(presented.encode(), expected.encode())


def check_admin_key(
    settings: Settings,
    presented: str | None,
    *,
    client: str | None = None,
    throttle: AuthThrottle | None = None,
) -> None:
    """Raise ``AuthError`` unless ``presented`` is the admin key (``PA_API_KEY``); with a
    ``throttle``, ``TooManyAttempts`` while ``client`` has guessed wrong too often.
    Shared by the API, the UI's document tab and the guard on Gradio's upload route."""
    if not settings.api_key:
        raise AuthError("服务未配置管理密钥（PA_API_KEY），上传和删除功能已停用")
    if throttle is not None:
        throttle.check(client)
    if not presented:
        raise AuthError("缺少管理密钥：请在请求头中提供 Authorization: Bearer <PA_API_KEY>")
    if not _matches(presented, settings.api_key):
        if throttle is not None:
            throttle.failed(client)
        raise AuthError("管理密钥错误")


def openai_keys(settings: Settings) -> list[str]:
    return [k.strip() for k in (settings.openai_keys or "").split(",") if k.strip()]


async def require_admin(request: Request, settings: SettingsDep, credentials: Credentials) -> None:
    check_admin_key(
        settings,
        credentials.credentials if credentials else None,
        client=client_address(request),
        throttle=get_throttle(request),
    )


async def require_openai_key(
    request: Request, settings: SettingsDep, credentials: Credentials
) -> None:
    """Open when ``PA_OPENAI_KEYS`` is unset; otherwise the bearer key must be one of them."""
    keys = openai_keys(settings)
    if not keys:
        return
    throttle, client = get_throttle(request), client_address(request)
    if throttle is not None:
        throttle.check(client)
    if credentials is None:
        raise AuthError("缺少 API 密钥：请提供 Authorization: Bearer <密钥>")
    # compare with every key (no early exit) so timing does not tell which one was close
    if not any([_matches(credentials.credentials, k) for k in keys]):  # noqa: C419
        if throttle is not None:
            throttle.failed(client)
        raise AuthError("API 密钥无效")


AdminKey = Depends(require_admin)
OpenAIKey = Depends(require_openai_key)
