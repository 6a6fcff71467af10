"""Inbound WeChat XML → ``Inbound``; outbound passive replies rendered by hand with safe CDATA."""

from __future__ import annotations

import re
import time
from xml.parsers.expat import ExpatError

import xmltodict
from pydantic import BaseModel, ConfigDict

_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


class MalformedMessage(ValueError):
    """The XML is not a WeChat message (syntax error, missing field, repeated field)."""


class Inbound(BaseModel):
    """One decrypted WeChat / WeCom callback message."""

    model_config = ConfigDict(frozen=True)

    to_user: str  # our account: 公众号 original id, or the WeCom corpid
    from_user: str  # the user's openid (公众号) or UserID (企业微信)
    create_time: str
    msg_type: str  # text | image | voice | video | location | link | event | …
    content: str = ""
    msg_id: str | None = None
    event: str | None = None
    agent_id: str | None = None

    @property
    def dedup_key(self) -> str:
        """WeChat retries a message with the same MsgId; events carry none, so sender + time."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.from_user}:{self.create_time}:{self.event or ''}"


def parse_message(xml: str) -> Inbound:
    try:
        doc = xmltodict.parse(xml, disable_entities=True)
    except (ExpatError, ValueError) as err:
        raise MalformedMessage(f"not well-formed XML: {err}") from err
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise MalformedMessage("root element <xml> missing")

    def field(name: str) -> str | None:
        value = root.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise MalformedMessage(f"<{name}> is repeated or nested")
        return value

    missing = [name for name in _REQUIRED if not field(name)]
    if missing:
        raise MalformedMessage(f"missing {', '.join(missing)}")
    return Inbound(
        to_user=field("ToUserName"),
        from_user=field("FromUserName"),
        create_time=field("CreateTime"),
        msg_type=field("MsgType").strip().lower(),
        content=field("Content") or "",
        msg_id=field("MsgId") or None,
        event=(field("Event") or "").strip().lower() or None,
        agent_id=field("AgentID"),
    )


def cdata(text: str) -> str:
    """A CDATA section that holds ``text`` exactly: ``]]>`` is split across two sections."""
    text = _XML_INVALID.sub("", text)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(msg: Inbound, content: str, now: float | None = None) -> str:
    """The passive text reply to ``msg`` (addresses swapped)."""
    created = int(time.time() if now is None else now)
    return (
        "<xml>"
        f"<ToUserName>{cdata(msg.from_user)}</ToUserName>"
        f"<FromUserName>{cdata(msg.to_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )
