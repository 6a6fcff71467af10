"""WeChat shell: 公众号 and 企业微信 callbacks answered by the one ``Assistant``.

``build_router(get_assistant, settings)`` returns an ``APIRouter`` with ``/wechat/mp`` and
``/wechat/work``. An endpoint whose settings are missing answers 404 and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request

from ..api.openapi import errors
from ..config import Settings
from .dispatch import REPLY_BUDGET_S, Answerer, Responder
from .routes import mp_endpoint, work_endpoint

if TYPE_CHECKING:
    from ..service import Assistant

__all__ = ["REPLY_BUDGET_S", "build_router"]

log = logging.getLogger("assistant.wechat")


def build_router(
    get_assistant: Callable[[], Assistant],
    settings: Settings,
    *,
    reply_budget: float | None = None,
) -> APIRouter:
    """Routes for both WeChat callbacks. ``reply_budget`` (seconds to wait for an answer before
    replying ``success`` and sending it later) defaults to ``settings.wechat_reply_budget`` if
    that exists, else ``REPLY_BUDGET_S``."""
    if reply_budget is None:
        reply_budget = float(getattr(settings, "wechat_reply_budget", REPLY_BUDGET_S))
    answerer = Answerer(get_assistant, settings.public_url)

    def responder_for(name: str, sender) -> Responder:
        return Responder(name, answerer, sender, reply_budget)

    mp, mp_note = mp_endpoint(settings, responder_for)
    work, work_note = work_endpoint(settings, responder_for)
    for name, endpoint, note in (("wechat/mp", mp, mp_note), ("wechat/work", work, work_note)):
        log.info("%s %s: %s", name, "on" if endpoint else "off", note)

    router = APIRouter(tags=["wechat"])
    verify_doc = {
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "echostr"},
        **errors(400, 403, 404, 413),
    }
    receive_doc = {
        200: {
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
            "description": "被动回复 XML，或 success",
        },
        **errors(400, 403, 404, 413),
    }

    def require(endpoint, name: str, note: str):
        if endpoint is None:
            log.warning("%s answered 404: %s", name, note)
            raise HTTPException(404, "Not Found")
        return endpoint

    @router.get("/wechat/mp", summary="公众号 server URL verification", responses=verify_doc)
    def mp_verify(request: Request):
        return require(mp, "wechat/mp", mp_note).verify(request)

    @router.post("/wechat/mp", summary="公众号 message callback", responses=receive_doc)
    async def mp_receive(request: Request):
        return await require(mp, "wechat/mp", mp_note).receive(request)

    @router.get("/wechat/work", summary="企业微信 callback URL verification", responses=verify_doc)
    def work_verify(request: Request):
        return require(work, "wechat/work", work_note).verify(request)

    @router.post("/wechat/work", summary="企业微信 message callback", responses=receive_doc)
    async def work_receive(request: Request):
        return await require(work, "wechat/work", work_note).receive(request)

    return router
