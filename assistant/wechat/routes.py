"""``/wechat/mp`` (公众号) and ``/wechat/work`` (企业微信 self-built app).

Order of work for every POST, so that nothing unauthenticated is ever parsed:
size cap → signature (constant time) + timestamp freshness → DOCTYPE/ENTITY refusal →
decrypt → parse → the (timestamp, nonce) pair not seen with another message → answer →
passive reply (encrypted when the request was).
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy.crypto import WeChatCrypto as MpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto
from wechatpy.exceptions import WeChatException

from ..config import Settings
from .dispatch import Responder
from .messages import Inbound, MalformedMessage, parse_message, text_reply
from .security import ReplayGuard, extract_encrypt, fresh, has_dtd, read_capped, signature_ok

log = logging.getLogger("assistant.wechat")

SUCCESS = "success"  # WeChat's "received, no passive reply"
# What decrypting a validly signed but undecryptable value raises: wrong appid/corpid, a wrong
# EncodingAESKey (bad padding, length or UTF-8), or a value that is not base64 at all.
_DECRYPT_ERRORS = (WeChatException, ValueError, struct.error, IndexError)


def _reject(status: int, name: str, why: str) -> HTTPException:
    log.warning("%s: rejected (%s): %s", name, status, why)
    detail = {400: "bad request", 403: "forbidden", 413: "body too large"}.get(status, "error")
    return HTTPException(status, detail)


def _check_request(
    name: str, query, *extra: str, token: str, signature_param: str
) -> tuple[str, str]:
    """Signature and freshness; returns (timestamp, nonce). 403 on any failure."""
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    if not signature_ok(query.get(signature_param), token, timestamp, nonce, *extra):
        raise _reject(403, name, f"bad {signature_param}")
    if not fresh(timestamp):
        raise _reject(403, name, f"timestamp {timestamp!r} is more than 300 s from now")
    return timestamp, nonce


def _decrypt(name: str, crypto, encrypt: str, query, timestamp: str, nonce: str) -> str:
    try:
        xml = crypto.decrypt_message(
            {"Encrypt": encrypt}, query.get("msg_signature", ""), timestamp, nonce
        )
    except _DECRYPT_ERRORS as err:
        raise _reject(
            400, name, f"cannot decrypt ({type(err).__name__}): check the AES key and id"
        ) from None
    if has_dtd(xml):
        raise _reject(400, name, "DOCTYPE/ENTITY in the decrypted message")
    return xml


def _parse(name: str, xml: str, replays: ReplayGuard, timestamp: str, nonce: str) -> Inbound:
    try:
        msg = parse_message(xml)
    except MalformedMessage as err:
        raise _reject(400, name, str(err)) from None
    if not replays.admit(timestamp, nonce, msg.model_dump_json()):
        raise _reject(
            403, name, f"timestamp/nonce {timestamp}/{nonce} replayed with another message"
        )
    return msg


def _xml(body: str) -> Response:
    return Response(body, media_type="application/xml; charset=utf-8")


@dataclass
class MpEndpoint:
    """公众号: plain mode (signature only), compatible and safe modes (``encrypt_type=aes``)."""

    token: str
    crypto: MpCrypto | None
    responder: Responder
    name: str = "wechat/mp"
    replays: ReplayGuard = field(default_factory=ReplayGuard)

    def verify(self, request: Request) -> PlainTextResponse:
        query = request.query_params
        _check_request(self.name, query, token=self.token, signature_param="signature")
        return PlainTextResponse(query.get("echostr", ""))

    async def receive(self, request: Request) -> Response:
        body = await read_capped(request)
        query = request.query_params
        timestamp, nonce = _check_request(
            self.name, query, token=self.token, signature_param="signature"
        )
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            if self.crypto is None:
                raise _reject(400, self.name, "encrypted message but PA_WECHAT_AES_KEY is not set")
            encrypt = extract_encrypt(body)
            if encrypt is None:
                raise _reject(400, self.name, "no single <Encrypt> element")
            _check_request(
                self.name, query, encrypt, token=self.token, signature_param="msg_signature"
            )
        if has_dtd(body):
            raise _reject(400, self.name, "DOCTYPE/ENTITY in the body")
        if encrypted:
            xml = _decrypt(self.name, self.crypto, encrypt, query, timestamp, nonce)
        else:
            try:
                xml = body.decode("utf-8")
            except UnicodeDecodeError:
                raise _reject(400, self.name, "body is not UTF-8") from None
        msg = _parse(self.name, xml, self.replays, timestamp, nonce)
        text = await self.responder.respond(msg)
        if text is None:
            return PlainTextResponse(SUCCESS)
        reply = text_reply(msg, text)
        if encrypted:
            reply = self.crypto.encrypt_message(reply, nonce, str(int(time.time())))
        return _xml(reply)


@dataclass
class WorkEndpoint:
    """企业微信 self-built app: always encrypted, receive id = corpid."""

    token: str
    crypto: WorkCrypto
    responder: Responder
    name: str = "wechat/work"
    replays: ReplayGuard = field(default_factory=ReplayGuard)

    def verify(self, request: Request) -> PlainTextResponse:
        query = request.query_params
        # A '+' that reached us unescaped became a space; base64 has no spaces.
        echostr = query.get("echostr", "").replace(" ", "+")
        timestamp, nonce = _check_request(
            self.name, query, echostr, token=self.token, signature_param="msg_signature"
        )
        try:
            plain = self.crypto.check_signature(
                query.get("msg_signature", ""), timestamp, nonce, echostr
            )
        except _DECRYPT_ERRORS as err:
            raise _reject(
                400, self.name, f"cannot decrypt echostr ({type(err).__name__})"
            ) from None
        return PlainTextResponse(plain)

    async def receive(self, request: Request) -> Response:
        body = await read_capped(request)
        query = request.query_params
        encrypt = extract_encrypt(body)
        if encrypt is None:
            raise _reject(400, self.name, "no single <Encrypt> element")
        timestamp, nonce = _check_request(
            self.name, query, encrypt, token=self.token, signature_param="msg_signature"
        )
        if has_dtd(body):
            raise _reject(400, self.name, "DOCTYPE/ENTITY in the body")
        xml = _decrypt(self.name, self.crypto, encrypt, query, timestamp, nonce)
        msg = _parse(self.name, xml, self.replays, timestamp, nonce)
        text = await self.responder.respond(msg)
        if text is None:
            return PlainTextResponse(SUCCESS)
        return _xml(
            self.crypto.encrypt_message(text_reply(msg, text), nonce, str(int(time.time())))
        )


def _aes_problem(key: str, setting: str) -> str | None:
    try:
        ok = len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except binascii.Error:
        ok = False
    return None if ok else f"{setting} must be the 43-character EncodingAESKey from the console"


def mp_endpoint(settings: Settings, responder_for) -> tuple[MpEndpoint | None, str]:
    """The 公众号 endpoint, or None and the reason it is off."""
    s = settings
    if not s.wechat_token:
        return None, "PA_WECHAT_TOKEN is not set"
    crypto = None
    if s.wechat_aes_key:
        if not s.wechat_appid:
            return None, "PA_WECHAT_AES_KEY is set but PA_WECHAT_APPID is not"
        if problem := _aes_problem(s.wechat_aes_key, "PA_WECHAT_AES_KEY"):
            return None, problem
        crypto = MpCrypto(s.wechat_token, s.wechat_aes_key, s.wechat_appid)
    sender = None
    if s.wechat_appid and s.wechat_secret:
        from .delivery import MpSender

        sender = MpSender(s.wechat_api_base, s.wechat_appid, s.wechat_secret)
    modes = "plain, compatible and safe modes" if crypto else "plain mode only"
    late = (
        "customer-service message API"
        if sender
        else "off (set PA_WECHAT_APPID and PA_WECHAT_SECRET)"
    )
    return MpEndpoint(s.wechat_token, crypto, responder_for("wechat/mp", sender)), (
        f"{modes}; late answers: {late}"
    )


def work_endpoint(settings: Settings, responder_for) -> tuple[WorkEndpoint | None, str]:
    """The 企业微信 endpoint, or None and the reason it is off."""
    s = settings
    missing = [
        env
        for env, value in (
            ("PA_WECOM_TOKEN", s.wecom_token),
            ("PA_WECOM_AES_KEY", s.wecom_aes_key),
            ("PA_WECOM_CORPID", s.wecom_corpid),
        )
        if not value
    ]
    if missing:
        return None, f"{', '.join(missing)} not set"
    if problem := _aes_problem(s.wecom_aes_key, "PA_WECOM_AES_KEY"):
        return None, problem
    sender = None
    if s.wecom_secret and s.wecom_agent_id and s.wecom_agent_id.strip().isdigit():
        from .delivery import WecomSender

        sender = WecomSender(s.wecom_api_base, s.wecom_corpid, s.wecom_secret, s.wecom_agent_id)
    late = (
        "message/send API"
        if sender
        else "off (set PA_WECOM_SECRET and a numeric PA_WECOM_AGENT_ID)"
    )
    crypto = WorkCrypto(s.wecom_token, s.wecom_aes_key, s.wecom_corpid)
    return WorkEndpoint(s.wecom_token, crypto, responder_for("wechat/work", sender)), (
        f"late answers: {late}"
    )
