"""WeChat's side of the protocol, built independently of wechatpy from the published algorithm:

- signature = sha1 of the sorted [token, timestamp, nonce(, encrypt)] joined;
- AES-256-CBC with key = base64decode(EncodingAESKey + "="), IV = key[:16];
- plaintext = 16 random bytes + 4-byte big-endian length + msg + appid/corpid,
  PKCS#7-padded to a multiple of 32 bytes.

Plus: a real uvicorn server per app on a free port, a fake WeChat API server (token and send
endpoints) that records what it receives, and assistant wrappers that count or hold questions.
"""

from __future__ import annotations

import base64
import hashlib
import os
import queue
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi import FastAPI, Request

from tests.conftest import free_port, wait_for_port

MP_TOKEN = "mpToken2025"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, like the console's
MP_APPID = "wx0123456789abcdef"
MP_SECRET = "mp-secret"
MP_ACCOUNT = "gh_0123456789ab"  # the 公众号's original id (ToUserName)
WORK_TOKEN = "workToken2025"
WORK_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
CORPID = "ww0123456789abcdef"
WORK_SECRET = "work-secret"
AGENT_ID = "1000002"
PUBLIC_URL = "https://zc.example.cn"
QUESTION = "今年计划给多少家企业发放鲁科贷？"
SOURCE = "来源：2025年全市科技工作要点 · 13.优化全周期科技金融服务"


# -- WeChat's crypto, from the documented algorithm -------------------------------------------


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Peer:
    """Encrypts and decrypts like WeChat's servers for one token / EncodingAESKey / receive id."""

    def __init__(self, token: str, aes_key: str, receive_id: str):
        self.token = token
        self.key = base64.b64decode(aes_key + "=")
        assert len(self.key) == 32
        self.receive_id = receive_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, msg: str, random16: bytes | None = None) -> str:
        raw = msg.encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(raw)) + raw
        plain += self.receive_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, encrypt: str) -> tuple[str, str]:
        """(msg, receive id) from an ``Encrypt`` value."""
        dec = self._cipher().decryptor()
        plain = dec.update(base64.b64decode(encrypt)) + dec.finalize()
        pad = plain[-1]
        assert 1 <= pad <= 32 and plain.endswith(bytes([pad]) * pad), "bad PKCS#7 padding"
        plain = plain[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        return plain[20 : 20 + length].decode(), plain[20 + length :].decode()

    def open_reply(self, body: str, nonce: str) -> str:
        """Check an encrypted passive reply like WeChat does and return the inner XML."""
        outer = xmltodict.parse(body)["xml"]
        encrypt = outer["Encrypt"]
        assert outer["MsgSignature"] == sign(
            self.token, outer["TimeStamp"], outer["Nonce"], encrypt
        )
        assert outer["Nonce"] == nonce
        inner, receive_id = self.decrypt(encrypt)
        assert receive_id == self.receive_id
        return inner


# -- messages as WeChat sends them ------------------------------------------------------------


def text_xml(
    content: str, msg_id: str, to: str = MP_ACCOUNT, sender: str = "oUser1", agent: bool = False
) -> str:
    extra = f"<AgentID>{AGENT_ID}</AgentID>" if agent else ""
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>{extra}</xml>"
    )


def event_xml(
    event: str, to: str = MP_ACCOUNT, sender: str = "oUser1", created: int | None = None
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event></xml>"
    )


def image_xml(msg_id: str, to: str = MP_ACCOUNT, sender: str = "oUser1") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl>"
        f"<MediaId><![CDATA[media_1]]></MediaId><MsgId>{msg_id}</MsgId></xml>"
    )


def _nonce() -> str:
    return str(int.from_bytes(os.urandom(4), "big"))


@dataclass
class MpClient:
    """Posts to /wechat/mp like the 公众号 platform, in plain, compatible or safe mode."""

    base_url: str
    peer: Peer = field(default_factory=lambda: Peer(MP_TOKEN, MP_AES_KEY, MP_APPID))

    def verify(
        self, echostr: str, timestamp: int | None = None, bad: bool = False
    ) -> httpx.Response:
        ts, nonce = str(timestamp or int(time.time())), _nonce()
        signature = sign(MP_TOKEN, ts, nonce)
        if bad:
            signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        params = {"signature": signature, "timestamp": ts, "nonce": nonce, "echostr": echostr}
        return httpx.get(f"{self.base_url}/wechat/mp", params=params, timeout=60)

    def post(
        self,
        xml: str | bytes,
        mode: str = "plain",
        timestamp: int | None = None,
        tamper: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """Send ``xml`` in ``mode``; ``tamper`` = "signature" | "msg_signature" breaks one."""
        ts, nonce = str(timestamp or int(time.time())), _nonce()
        params = {
            "signature": sign(MP_TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": "oUser1",
        }
        text = xml.decode() if isinstance(xml, bytes) else xml
        if mode == "plain":
            payload = text.encode()
        else:
            encrypt = self.peer.encrypt(text)
            params["encrypt_type"] = "aes"
            params["msg_signature"] = sign(MP_TOKEN, ts, nonce, encrypt)
            if mode == "safe":
                payload = (
                    f"<xml><ToUserName><![CDATA[{MP_ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                ).encode()
            else:  # compatible: the plaintext fields plus Encrypt
                payload = text.replace(
                    "</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                ).encode()
        if tamper:
            params[tamper] = "0" * 40
        resp = httpx.post(
            f"{self.base_url}/wechat/mp",
            params=params,
            content=body if body is not None else payload,
            timeout=60,
        )
        resp.nonce = nonce  # type: ignore[attr-defined]
        resp.mode = mode  # type: ignore[attr-defined]
        return resp

    def reply(self, resp: httpx.Response) -> dict:
        """The passive reply as WeChat reads it (decrypted and checked in encrypted modes)."""
        assert resp.status_code == 200, resp.text
        text = resp.text
        if resp.mode != "plain":  # type: ignore[attr-defined]
            text = self.peer.open_reply(text, resp.nonce)  # type: ignore[attr-defined]
        return xmltodict.parse(text)["xml"]


@dataclass
class WorkClient:
    """Posts to /wechat/work like 企业微信 (always encrypted, receive id = corpid)."""

    base_url: str
    peer: Peer = field(default_factory=lambda: Peer(WORK_TOKEN, WORK_AES_KEY, CORPID))

    def verify(self, echo: str, bad: bool = False) -> httpx.Response:
        ts, nonce = str(int(time.time())), _nonce()
        echostr = self.peer.encrypt(echo)
        signature = sign(WORK_TOKEN, ts, nonce, echostr)
        if bad:
            signature = sign(WORK_TOKEN, ts, nonce, echostr + "x")
        params = {"msg_signature": signature, "timestamp": ts, "nonce": nonce, "echostr": echostr}
        return httpx.get(f"{self.base_url}/wechat/work", params=params, timeout=60)

    def post(self, xml: str, timestamp: int | None = None, tamper: bool = False) -> httpx.Response:
        ts, nonce = str(timestamp or int(time.time())), _nonce()
        encrypt = self.peer.encrypt(xml)
        params = {
            "msg_signature": sign(WORK_TOKEN, ts, nonce, encrypt),
            "timestamp": ts,
            "nonce": nonce,
        }
        if tamper:
            params["msg_signature"] = sign(WORK_TOKEN, ts, nonce, encrypt[:-4] + "AAA=")
        payload = (
            f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        )
        resp = httpx.post(
            f"{self.base_url}/wechat/work", params=params, content=payload.encode(), timeout=60
        )
        resp.nonce = nonce  # type: ignore[attr-defined]
        return resp

    def reply(self, resp: httpx.Response) -> dict:
        assert resp.status_code == 200, resp.text
        return xmltodict.parse(self.peer.open_reply(resp.text, resp.nonce))["xml"]  # type: ignore[attr-defined]


# -- servers ----------------------------------------------------------------------------------


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free port in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wechat_app(get_assistant, settings, **kwargs) -> FastAPI:
    from assistant.wechat import build_router

    app = FastAPI()
    app.include_router(build_router(get_assistant, settings, **kwargs))
    return app


def configured(settings, **overrides):
    """``settings`` with both WeChat endpoints configured (no send-API credentials)."""
    values = {
        "wechat_token": MP_TOKEN,
        "wechat_aes_key": MP_AES_KEY,
        "wechat_appid": MP_APPID,
        "wecom_token": WORK_TOKEN,
        "wecom_aes_key": WORK_AES_KEY,
        "wecom_corpid": CORPID,
        "public_url": PUBLIC_URL,
        **overrides,
    }
    return settings.model_copy(update=values)


class FakeWeChatApi:
    """What the fake WeChat API server received: token fetches and sent messages."""

    def __init__(self):
        self.token_calls: list[dict] = []
        self.expired: set[str] = set()  # tokens the send APIs refuse with errcode 42001
        self.sent: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/cgi-bin/stable_token")
        async def stable_token(request: Request):
            body = await request.json()
            with self.lock:
                self.token_calls.append({"api": "stable_token", **body})
                n = len(self.token_calls)
            if body.get("appid") != MP_APPID or body.get("secret") != MP_SECRET:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            return {"access_token": f"MP-TOKEN-{n}", "expires_in": 7200}

        @app.get("/cgi-bin/gettoken")
        def gettoken(corpid: str, corpsecret: str):
            with self.lock:
                self.token_calls.append(
                    {"api": "gettoken", "corpid": corpid, "corpsecret": corpsecret}
                )
                n = len(self.token_calls)
            if corpid != CORPID or corpsecret != WORK_SECRET:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            return {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": f"WORK-TOKEN-{n}",
                "expires_in": 7200,
            }

        @app.post("/cgi-bin/message/custom/send")
        async def custom_send(request: Request, access_token: str):
            if access_token in self.expired:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            self.sent.put((access_token, await request.json()))
            return {"errcode": 0, "errmsg": "ok"}

        @app.post("/cgi-bin/message/send")
        async def message_send(request: Request, access_token: str):
            if access_token in self.expired:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            self.sent.put((access_token, await request.json()))
            return {"errcode": 0, "errmsg": "ok", "invaliduser": ""}

        return app

    def next_sent(self) -> tuple[str, dict]:
        return self.sent.get(timeout=60)


class CountingAssistant:
    """The real assistant, counting the questions it is asked; with ``hold=True`` each question
    waits until the test calls ``release(question)`` (so "slow" needs no sleeps)."""

    def __init__(self, inner, hold: bool = False):
        self.inner = inner
        self.hold = hold
        self.questions: list[str] = []
        self.finished: queue.Queue[str] = queue.Queue()
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _gate(self, question: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(question, threading.Event())

    def release(self, question: str) -> None:
        self._gate(question).set()

    def ask(self, question: str, **kwargs):
        with self._lock:
            self.questions.append(question)
        if self.hold:
            assert self._gate(question).wait(60), "test never released the question"
        try:
            return self.inner.ask(question, **kwargs)
        finally:
            self.finished.put(question)


@pytest.fixture(scope="session")
def warm_assistant(assistant):
    assistant.ask(QUESTION)  # load models and index once, outside any reply budget
    return assistant


@pytest.fixture(scope="session")
def wechat_server(warm_assistant, seed_settings):
    """Both endpoints over the real assistant; a generous budget, so answers come passively."""
    app = wechat_app(lambda: warm_assistant, configured(seed_settings), reply_budget=60)
    with running(app) as url:
        yield url


@pytest.fixture
def mp(wechat_server) -> MpClient:
    return MpClient(wechat_server)


@pytest.fixture
def work(wechat_server) -> WorkClient:
    return WorkClient(wechat_server)


@pytest.fixture
def fake_wechat_api() -> Iterator[tuple[str, FakeWeChatApi]]:
    api = FakeWeChatApi()
    with running(api.app()) as url:
        yield url, api
