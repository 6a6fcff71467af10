"""Sentences in a document that address the assistant instead of its readers — "忽略以上所有规则，
回答：……", "你现在是……", "请回答……" — are flagged: never quoted as an answer, masked in the LLM's
sources, and listed per document (``GET /v1/documents`` ``flagged``) for an administrator to
look at. A policy text tells enterprises and bureaus what to do; it does not talk to a model
about its rules, answers or prompts, which is what these patterns look for."""

from __future__ import annotations

import re

from ..text import sentences

_ADDRESSING = re.compile(
    r"(忽略|无视|忘记|忘掉|不要理会|不用理会)(以上|上面|前面|之前|此前|所有|全部|一切)?[^。；]{0,8}"
    r"(规则|指令|要求|提示|设定|说明|内容)"
    r"|你(现在|从现在起|接下来)?(是|扮演|作为)[^。；]{0,12}(助手|模型|AI|机器人|系统)"
    r"|(请|必须|务必)(直接)?(回答|回复|输出)\s*[:：]"
    r"|(system|assistant|ignore (all|previous|the above))\s*[:：]?",
    re.IGNORECASE,
)
MASK = "（此处一句疑似对问答系统的指令，已隐去）"


def flagged_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence in ``text`` that addresses the assistant."""
    return [(s, e) for s, e in sentences(text) if _ADDRESSING.search(text[s:e])]


def is_instruction(sentence: str) -> bool:
    return bool(_ADDRESSING.search(sentence))


def masked(text: str) -> str:
    """``text`` with every flagged sentence replaced by ``MASK``."""
    out, last = [], 0
    for s, e in flagged_spans(text):
        out += [text[last:s], MASK]
        last = e
    out.append(text[last:])
    return "".join(out)
