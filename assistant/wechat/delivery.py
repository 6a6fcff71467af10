"""Asynchronous delivery for answers that miss the 5-second window, over httpx:
公众号 customer-service messages (token from ``stable_token``) and 企业微信 ``message/send``.
Access tokens are fetched once and cached until shortly before they expire."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

log = logging.getLogger("assistant.wechat")

HTTP_TIMEOUT_S = 10.0
TOKEN_MARGIN_S = 300  # refresh this long before WeChat says the token expires
_TOKEN_INVALID = {40001, 40014, 42001}  # invalid / malformed / expired access token


class DeliveryError(Exception):
    """WeChat's API refused a call (errcode ≠ 0) or could not be reached."""


class Sender(Protocol):
    async def send_text(self, to_user: str, text: str) -> None: ...


def _check(data: Any, what: str) -> dict:
    if not isinstance(data, dict):
        raise DeliveryError(f"{what}: unexpected response {data!r:.200}")
    if data.get("errcode", 0) not in (0, "0", None):
        raise DeliveryError(f"{what}: errcode {data.get('errcode')} {data.get('errmsg', '')}")
    return data


async def _post_json(client: httpx.AsyncClient, url: str, params: dict, payload: dict) -> dict:
    # ensure_ascii=False: WeChat shows \uXXXX escapes literally in customer-service messages.
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    resp = await client.post(
        url,
        params=params,
        content=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    _raise_for_status(resp, url)
    return resp.json()


def _raise_for_status(resp: httpx.Response, what: str) -> None:
    """Like ``raise_for_status`` but without the URL, whose query carries the access token or
    the corpsecret — the message ends up in logs."""
    if resp.is_error:
        path = what.split("?", 1)[0]
        raise DeliveryError(f"{path}: HTTP {resp.status_code}")


class TokenCache:
    """One access token, fetched on first use and reused until ``TOKEN_MARGIN_S`` before expiry.
    Concurrent callers share one fetch."""

    def __init__(self, fetch: Callable[[httpx.AsyncClient, bool], Awaitable[tuple[str, int]]]):
        self._fetch = fetch  # (client, force_refresh) → (token, expires_in)
        self._token: str | None = None
        self._force = False
        self._deadline = 0.0
        self._lock = asyncio.Lock()

    async def get(self, client: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._deadline:
                token, expires_in = await self._fetch(client, self._force)
                self._token, self._force = token, False
                self._deadline = time.monotonic() + max(int(expires_in) - TOKEN_MARGIN_S, 60)
            return self._token

    def invalidate(self, token: str) -> None:
        """WeChat refused ``token``: the next ``get`` fetches a fresh one (forcing a refresh)."""
        if self._token == token:
            self._token = None
            self._force = True


class _ApiSender:
    """Shared send loop: get a token, send, and on a token error refetch once and resend."""

    send_path = ""

    def __init__(self, api_base: str):
        self.api_base = api_base.rstrip("/")
        self.tokens = TokenCache(self._fetch_token)

    async def _fetch_token(self, client: httpx.AsyncClient, force: bool) -> tuple[str, int]:
        raise NotImplementedError

    def _payload(self, to_user: str, text: str) -> dict:
        raise NotImplementedError

    async def send_text(self, to_user: str, text: str) -> None:
        payload = self._payload(to_user, text)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            for attempt in (1, 2):
                token = await self.tokens.get(client)
                data = await _post_json(
                    client, self.api_base + self.send_path, {"access_token": token}, payload
                )
                if (
                    attempt == 1
                    and isinstance(data, dict)
                    and data.get("errcode") in _TOKEN_INVALID
                ):
                    self.tokens.invalidate(token)
                    continue
                _check(data, self.send_path)
                return


class MpSender(_ApiSender):
    """公众号 customer-service text message (客服消息), within 48 h of the user's message."""

    send_path = "/cgi-bin/message/custom/send"

    def __init__(self, api_base: str, appid: str, secret: str):
        super().__init__(api_base)
        self.appid = appid
        self.secret = secret

    async def _fetch_token(self, client: httpx.AsyncClient, force: bool) -> tuple[str, int]:
        data = _check(
            await _post_json(
                client,
                self.api_base + "/cgi-bin/stable_token",
                {},
                {
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                    "force_refresh": force,
                },
            ),
            "stable_token",
        )
        log.info("wechat/mp: fetched an access token (expires in %ss)", data.get("expires_in"))
        return data["access_token"], int(data.get("expires_in", 7200))

    def _payload(self, to_user: str, text: str) -> dict:
        return {"touser": to_user, "msgtype": "text", "text": {"content": text}}


class WecomSender(_ApiSender):
    """企业微信 application message (应用消息) to one member."""

    send_path = "/cgi-bin/message/send"

    def __init__(self, api_base: str, corpid: str, secret: str, agent_id: str):
        super().__init__(api_base)
        self.corpid = corpid
        self.secret = secret
        self.agent_id = int(agent_id)

    async def _fetch_token(self, client: httpx.AsyncClient, force: bool) -> tuple[str, int]:
        resp = await client.get(
            self.api_base + "/cgi-bin/gettoken",
            params={"corpid": self.corpid, "corpsecret": self.secret},
        )
        _raise_for_status(resp, "/cgi-bin/gettoken")
        data = _check(resp.json(), "gettoken")
        log.info("wechat/work: fetched an access token (expires in %ss)", data.get("expires_in"))
        return data["access_token"], int(data.get("expires_in", 7200))

    def _payload(self, to_user: str, text: str) -> dict:
        return {
            "touser": to_user,
            "msgtype": "text",
            "agentid": self.agent_id,
            "text": {"content": text},
            "safe": 0,
        }
