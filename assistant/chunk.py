"""Structure-aware, jieba-aware chunking.

Numbering gives the heading path: 第X章 › 一、 › （一） › 1. / 第X条. A numbered item's first
sentence is its heading ("16.优化科技成果转化服务"); a top-level heading is shortened at its
first comma ("五、强化全链条科技服务…"). Each item becomes one chunk when it fits; a longer item is
packed from whole sentences (。！？；), and a sentence that alone exceeds the limit is cut at a
clause mark or, failing that, a jieba token boundary — never inside a word or a number+unit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from langchain_core.documents import Document

from .models import Chunk
from .text import sentences, token_boundaries

CHUNKER_VERSION = "structure-v2"
MAX_CHARS = 320
SEP = " › "

# (level, pattern). Lower level = higher in the tree.
_HEADINGS = [
    (0, re.compile(r"^第[一二三四五六七八九十百零〇\d]+[章编]")),
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]+[）)]")),
    (3, re.compile(r"^第[一二三四五六七八九十百零〇\d]+条")),
    (3, re.compile(r"^\d{1,3}[.．、](?!\d)")),
]


@dataclass(frozen=True)
class Block:
    """A paragraph with its place in the numbering tree."""

    start: int
    end: int
    level: int | None  # None: body paragraph
    label: str  # short heading for the path


def _heading_label(para: str, level: int) -> str:
    first = para
    for mark in "。；;！？":
        idx = first.find(mark)
        if idx != -1:
            first = first[:idx]
    if level <= 2:  # section titles: shorten at the first comma, keep the numbering
        for mark in ",，":
            idx = first.find(mark)
            if idx != -1:
                return first[:idx] + "…"
    if len(first) > 40:
        cut = first[:40]
        return cut + "…"
    return first


def _classify(para: str) -> tuple[int | None, str]:
    for level, pattern in _HEADINGS:
        if pattern.match(para):
            return level, _heading_label(para, level)
    return None, ""


def parse_blocks(text: str) -> list[Block]:
    blocks = []
    for m in re.finditer(r"[^\n]+", text):
        para = m.group(0)
        if not para.strip():
            continue
        level, label = _classify(para)
        blocks.append(Block(m.start(), m.end(), level, label))
    return blocks


def _split_long(text: str, base: int, limit: int) -> list[tuple[int, int]]:
    """Split ``text`` (starting at ``base`` in the document) into spans of at most ``limit``."""
    spans: list[tuple[int, int]] = []
    pieces: list[tuple[int, int]] = []
    for s, e in sentences(text):
        if e - s <= limit:
            pieces.append((s, e))
            continue
        pieces.extend(_hard_cut(text, s, e, limit))
    cur_s, cur_e = None, None
    for s, e in pieces:
        if cur_s is None:
            cur_s, cur_e = s, e
        elif e - cur_s <= limit:
            cur_e = e
        else:
            spans.append((cur_s, cur_e))
            cur_s, cur_e = s, e
    if cur_s is not None:
        spans.append((cur_s, cur_e))
    return [(base + s, base + e) for s, e in spans]


def _hard_cut(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence: prefer clause marks, else jieba token boundaries."""
    out = []
    while end - start > limit:
        window = text[start : start + limit]
        clause = max(window.rfind(c) for c in ",，、：:")
        if clause > limit // 3:
            cut = start + clause + 1
        else:
            bounds = [b for b in token_boundaries(window) if limit // 3 < b < len(window)]
            cut = start + (bounds[-1] if bounds else limit)
        out.append((start, cut))
        start = cut
    if end > start:
        out.append((start, end))
    return out


def _chunk_id(doc_id: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha1(f"{doc_id}\x00{text}".encode()).hexdigest()[:12]
    return f"{doc_id}#{ordinal}-{digest}"


def chunk_document(doc: Document, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunk one loaded document; offsets index ``doc.page_content``."""
    text = doc.page_content
    meta = doc.metadata
    doc_id, title, year = meta["doc_id"], meta.get("title", meta["doc_id"]), meta.get("year")
    path: dict[int, str] = {}
    chunks: list[Chunk] = []

    def emit(s: int, e: int, section: str) -> None:
        body = text[s:e]
        chunks.append(
            Chunk(
                chunk_id=_chunk_id(doc_id, len(chunks), body),
                doc_id=doc_id,
                title=title,
                section=section,
                text=body,
                start=s,
                end=e,
                ordinal=len(chunks),
                year=year,
            )
        )

    # Group consecutive body paragraphs under the same heading path into one unit.
    units: list[tuple[int, int, str]] = []
    for block in parse_blocks(text):
        if block.level is not None:
            path = {lvl: lab for lvl, lab in path.items() if lvl < block.level}
            path[block.level] = block.label
            section = SEP.join(path[k] for k in sorted(path))
            para = text[block.start : block.end]
            # A bare heading line ("一、…" with nothing after its label) carries no text to answer
            # from; it lives on in the path of the chunks below it.
            if block.level <= 2 and len(para) <= 60 and not re.search(r"[。！？；]", para):
                continue
            units.append((block.start, block.end, section))
        else:
            if not units and text[block.start : block.end].strip() == title:
                continue  # the document's own title line says nothing to answer from
            section = SEP.join(path[k] for k in sorted(path))
            if units and units[-1][2] == section and block.start - units[-1][1] <= 2:
                prev = units.pop()
                if block.end - prev[0] <= max_chars:
                    units.append((prev[0], block.end, section))
                    continue
                units.append(prev)
            units.append((block.start, block.end, section))

    for s, e, section in units:
        if e - s <= max_chars:
            emit(s, e, section)
        else:
            for cs, ce in _split_long(text[s:e], s, max_chars):
                emit(cs, ce, section)
    return chunks
