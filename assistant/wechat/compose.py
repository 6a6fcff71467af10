"""What a WeChat user reads: an ``Answer`` squeezed into one ≤ 2,048-byte text message."""

from __future__ import annotations

import re
from urllib.parse import quote

from ..models import Answer

MAX_REPLY_BYTES = 2048  # WeChat's limit for a text message (passive reply or send API)
MAX_LINK_BYTES = 400
MAX_SOURCE_BYTES = 300
ELLIPSIS = "…"

WELCOME = (
    "欢迎使用威海科技政策问答助手！直接发送文字问题即可，回答均引自已收录的政策文件。例如：\n"
    "1. 今年计划给多少家企业发放鲁科贷？\n"
    "2. 技术经理人培训的目标是多少人次？\n"
    "3. 今年要实施多少个科技创新重点项目？"
)
TEXT_ONLY = "暂只支持文字提问"
PENDING = "问题还在查询中，请过几秒再发送一次同样的问题，即可收到答案。"
FAILED = "抱歉，系统暂时无法回答，请稍后再试。"
NOT_FOUND = "已收录的政策文件中没有找到这个问题的答案。"

_MARKER = re.compile(r"[ \t]*\[\d+(?:\s*[,，]\s*\d+)*\]")


def strip_markers(text: str) -> str:
    """Drop the `` [1]`` citation markers: WeChat has no footnotes to point them at."""
    return _MARKER.sub("", text).strip()


def clip_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``limit`` bytes."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: max(limit, 0)].decode("utf-8", "ignore")


def source_line(answer: Answer) -> str | None:
    """``来源：文件 · 条目`` from the first citation (the last step of its section path)."""
    if not answer.citations:
        return None
    first = answer.citations[0]
    item = first.section.split(" › ")[-1].strip()
    line = f"来源：{first.title} · {item}" if item else f"来源：{first.title}"
    return clip_bytes(line, MAX_SOURCE_BYTES)


def full_answer_link(public_url: str, question: str) -> str:
    """A link that opens the question in the web UI; the question is cut to keep it short."""
    base = f"{public_url.rstrip('/')}/ui?q="
    budget = MAX_LINK_BYTES - len(base.encode("utf-8"))
    encoded = ""
    for ch in question:
        piece = quote(ch, safe="")
        if len(encoded) + len(piece) > budget:
            break
        encoded += piece
    return base + encoded


def answer_text(answer: Answer, public_url: str | None = None) -> str:
    """The WeChat text for ``answer``: body, then one source line; trimmed with "…" (and a link
    to the full answer when ``public_url`` is set) if the whole would exceed 2,048 bytes."""
    body = strip_markers(answer.answer)
    if answer.abstained and "没有找到" not in body and "没有写明" not in body:
        body = f"{NOT_FOUND}\n{body}".strip()  # say plainly that the documents do not answer
    body = body or NOT_FOUND
    source = None if answer.abstained else source_line(answer)
    tail = f"\n\n{source}" if source else ""
    text = body + tail
    if len(text.encode("utf-8")) <= MAX_REPLY_BYTES:
        return text
    link = f"\n完整回答：{full_answer_link(public_url, answer.question)}" if public_url else ""
    room = MAX_REPLY_BYTES - len((ELLIPSIS + link + tail).encode("utf-8"))
    return clip_bytes(body, room).rstrip() + ELLIPSIS + link + tail


def notice_text(message: str) -> str:
    """A short notice (an error message meant for users) clipped to the WeChat limit."""
    if len(message.encode("utf-8")) <= MAX_REPLY_BYTES:
        return message
    return clip_bytes(message, MAX_REPLY_BYTES - len(ELLIPSIS.encode())) + ELLIPSIS
