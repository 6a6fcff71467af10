"""Numbering → structure, the same for every format.

Readers give headings, list items and table rows where their markup says so, and paragraphs
otherwise. This pass reads the numbering Chinese policy texts use and decides what each
paragraph is:

- 第X编/章/节 → heading; 一、 and （一） lines that are short titles → headings;
- 第X条 → an article (paragraph labelled 第X条; its body follows on the same line or below);
- an enumeration（一）/1./（1）/① after a lead-in ending with "：" → list items carrying that
  lead-in, until a paragraph of another kind ends the list;
- 问：… followed by 答：… → one ``qa`` block.
"""

from __future__ import annotations

import re

from .blocks import Block, Parsed, TextBuilder

_CN = "一二三四五六七八九十百零〇两"
PATTERNS: dict[str, re.Pattern] = {
    "part": re.compile(rf"^第[{_CN}\d]+编"),
    "chapter": re.compile(rf"^第[{_CN}\d]+章"),
    "section": re.compile(rf"^第[{_CN}\d]+节"),
    "article": re.compile(rf"^第[{_CN}\d]+条"),
    "cn": re.compile(r"^[一二三四五六七八九十]+、"),
    "cn_paren": re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
    "arabic": re.compile(r"^\d{1,3}\s*[.．、](?!\d)"),
    "arabic_paren": re.compile(r"^[（(]\d{1,3}[）)]"),
    "circled": re.compile(r"^[①-⑳]"),
}
# heading depth of each numbering kind, shallow to deep
RANK = {
    "part": 0,
    "chapter": 1,
    "section": 2,
    "cn": 3,
    "cn_paren": 4,
    "arabic": 5,
    "arabic_paren": 6,
    "circled": 7,
}
ARTICLE_RANK = 8  # an article sits under whatever chapters and sections it is in
ENUMERATIONS = ("cn_paren", "arabic", "arabic_paren", "circled")
_QUESTION = re.compile(r"^(问|Q)\s*\d*\s*[:：.、]\s*")
_ANSWER = re.compile(r"^(答|A)\s*\d*\s*[:：.、]\s*")
_SENTENCE_END = re.compile(r"[。！？；!?;]")
_LEAD_IN_END = ("：", ":")


def numbering(text: str) -> tuple[str | None, str]:
    """(kind, label) of a paragraph's leading number: ("article", "第五条"), (None, "")."""
    for kind, pattern in PATTERNS.items():
        if m := pattern.match(text):
            return kind, m.group(0).strip()
    return None, ""


def _is_title_line(text: str) -> bool:
    return len(text) <= 40 and not _SENTENCE_END.search(text)


def refine(parsed: Parsed) -> Parsed:
    """Reclassify ``parsed``'s blocks by numbering, attach lead-ins, pair 问/答. Text is rebuilt
    from the same block texts (one per line), so offsets stay exact."""
    src = parsed.text
    out = TextBuilder()
    lead: str | None = None  # the open list's lead-in
    list_kind: str | None = None  # numbering kind of the open list's items
    blocks = parsed.blocks
    i = 0
    while i < len(blocks):
        b = blocks[i]
        text = src[b.start : b.end]
        attrs = {"page": b.page, "low_confidence": b.low_confidence}
        if b.kind in ("table_row",):
            out.add(
                "table_row",
                text,
                headers=b.headers,
                cells=b.cells,
                label=b.label,
                lead_in=b.lead_in,
                **attrs,
            )
            lead = list_kind = None
            i += 1
            continue
        if b.kind == "heading":
            kind, label = numbering(text)
            level = RANK.get(kind, None) if kind else None
            if level is None:
                level = max((b.level or 1) - 1, 0)
            out.add("heading", text, level=level, label=_short(text), **attrs)
            lead = list_kind = None
            i += 1
            continue
        if _QUESTION.match(text):
            # 问 … 答 …: one unit (the answer may follow on the next paragraph)
            parts = [text]
            j = i + 1
            if not _ANSWER.search(text) and j < len(blocks):
                nxt = src[blocks[j].start : blocks[j].end]
                if _ANSWER.match(nxt):
                    parts.append(nxt)
                    j += 1
            out.add("qa", "".join(parts), label="问答", **attrs)
            lead = list_kind = None
            i = j
            continue
        kind, label = numbering(text)
        # an enumeration without a lead-in still shows itself: items ending in "；", and the
        # items of the same numbering that follow them
        in_list = kind in ENUMERATIONS and (
            lead is not None or text.endswith(("；", ";")) or (list_kind == kind)
        )
        if b.kind == "list_item" or in_list:
            list_kind = list_kind or kind or "markup"
            depth = b.level or (1 if kind in (list_kind, None) else 2)
            out.add("list_item", text, level=depth, label=label, lead_in=lead or b.lead_in, **attrs)
            i += 1
            continue
        lead = list_kind = None
        if kind in ("part", "chapter", "section"):
            out.add("heading", text, level=RANK[kind], label=_short(text), **attrs)
        elif kind in ("cn", "cn_paren") and _is_title_line(text):
            out.add("heading", text, level=RANK[kind], label=_short(text), **attrs)
        elif kind == "article":
            out.add("paragraph", text, level=ARTICLE_RANK, label=label, **attrs)
        elif kind is not None:
            out.add("paragraph", text, level=RANK[kind], label=_short(text), **attrs)
        else:
            out.add("paragraph", text, **attrs)
        if text.endswith(_LEAD_IN_END):
            lead = text
        i += 1
    return Parsed(text=out.text, blocks=out.blocks, fields=parsed.fields, title=parsed.title)


def _short(text: str) -> str:
    """A heading's label for the section path: up to its first sentence end, and a long
    section title shortened at its first comma ("五、强化全链条科技服务…")."""
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    for mark in ",，":
        idx = first.find(mark)
        if idx != -1:
            return first[:idx] + "…"
    return first if len(first) <= 40 else first[:40] + "…"


def block_text(parsed: Parsed, block: Block) -> str:
    return parsed.text[block.start : block.end]
