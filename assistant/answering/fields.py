"""Questions about a document's 公文 metadata — 文号, 发文机关, 成文/发布/施行日期, 有效期,
有效性, 索引号, the document a 解读 explains — answered from the fields the loader read, each
quoted where the document states it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import Chunk

# (field, pattern asking for it, label). General 公文 vocabulary, not corpus words.
FIELDS: tuple[tuple[str, re.Pattern, str], ...] = (
    ("doc_no", re.compile(r"文号|发文字号|字号是"), "文号"),
    (
        "issuers",
        re.compile(
            r"发布机构|发文机关|发布单位|发文单位|哪个(部门|单位|机关)(发布|印发|制定|出台|发的)|谁发布|谁印发"
            r"|哪(几)?[个些家](部门|单位|机关)(联合)?(发|出|印发|发布|制定|出台)的"
        ),
        "发文机关",
    ),
    (
        "date",
        re.compile(
            r"成文日期|发文日期|印发日期|(哪天|什么时候|何时|哪一天|几号)印发|印发(时间|日期|于)"
            r"|(什么时候|啥时候|哪天|何时)(发|出|出台)的"
        ),
        "成文日期",
    ),
    ("published", re.compile(r"发布日期|发布时间|(哪天|什么时候|何时)发布"), "发布日期"),
    (
        "effective_from",
        re.compile(
            r"(施行|实施|生效)(日期|时间)|(什么时候|何时|哪天|从哪天|从什么时候)(开始)?(施行|实施|生效|执行)|起施行|开始施行"
        ),
        "施行日期",
    ),
    (
        "effective_to",
        re.compile(r"有效期|(管|有效|用|执行|适用)到(哪年|哪天|什么时候|啥时候|何时|哪一年)"),
        "有效期",
    ),
    ("index_no", re.compile(r"索引号"), "索引号"),
    ("interprets", re.compile(r"解读(的是)?(哪个|哪份|什么)(文件|政策|办法)|解读的是"), "解读文件"),
    (
        "status",
        re.compile(
            r"(还|是否|现在|目前|仍然|依然)(有效|适用|执行)|有效性|失效了|废止了|还能用吗|还在用"
        ),
        "有效性",
    ),
)


def asked_fields(text: str) -> list[str]:
    return [name for name, pattern, _ in FIELDS if pattern.search(text)]


def label(field: str) -> str:
    return next(lab for name, _, lab in FIELDS if name == field)


def _date_forms(iso: str) -> list[str]:
    y, m, d = iso.split("-")
    return [iso, f"{y}年{int(m)}月{int(d)}日", f"{y}.{int(m)}.{int(d)}", f"{y}/{int(m)}/{int(d)}"]


# the words that say what a date field's date is the date of
_DATED_EVENT = {
    "date": re.compile(r"印发|成文|发文"),
    "published": re.compile(r"发布"),
    "effective_from": re.compile(r"施行|实施|生效"),
}


@dataclass(frozen=True)
class Located:
    chunk: Chunk
    start: int  # offsets in chunk text
    end: int


def _sentence_with(chunk: Chunk, needles: list[str]) -> Located | None:
    from ..text import sentences

    for s, e in sentences(chunk.text):
        piece = chunk.text[s:e]
        if any(n and n in piece for n in needles):
            return Located(chunk, s, e)
    return None


def locate(field: str, meta: dict, chunks: list[Chunk]) -> Located | None:
    """Where the document states ``field``: the sentence (or metadata block) that holds it."""
    value = meta.get(field)
    needles: list[str] = []
    if field in ("date", "published", "effective_from") and value:
        needles = _date_forms(value)
    elif field == "effective_to":
        needles = [*(_date_forms(value) if value else []), "有效期"]
    elif field == "issuers" and value:
        needles = list(value)
    elif field == "status":
        needles = ["有效性", "废止", "失效"]
    elif field == "interprets" and value:
        needles = [value]
    elif value:
        needles = [str(value)]
    if not needles:
        return None
    ordered = sorted(chunks, key=lambda c: (c.kind != "metadata", c.ordinal))
    if event := _DATED_EVENT.get(field):
        # a date quoted with what it dates ("自……起施行", "……2025年2月10日印发") over the
        # same date standing alone or elsewhere
        for c in ordered:
            for s, e in _spans(c):
                piece = c.text[s:e]
                if any(n in piece for n in needles) and event.search(piece):
                    return Located(c, s, e)
    for c in ordered:
        if found := _sentence_with(c, needles):
            return found
    return None


def _spans(chunk: Chunk):
    from ..text import sentences

    return sentences(chunk.text)
