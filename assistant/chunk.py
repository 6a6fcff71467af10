"""Chunking by the document's own units, from its blocks.

Units: an article (第X条 with its body and its enumeration), a numbered item ("1.壮大科技型企业
群体。……"), a lead-in with its list, a 问/答 pair, a table row (with its headers), the metadata
block, and runs of plain paragraphs under one heading. Headings give each unit its section path
(第一章 总则 › 第四条; 一、… › （一）… › 1.…). A unit that fits ``MAX_CHARS`` is one chunk; a
longer one is split between its blocks (a list's later pieces carry its lead-in), and a block
that alone is too long is packed from whole sentences (。！？；), a sentence that alone exceeds
the limit being cut at a clause mark or a jieba token boundary — never inside a word or a
number such as 25亿元.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from langchain_core.documents import Document

from .ingest.blocks import Block
from .models import Chunk
from .text import sentences, token_boundaries

# v3: the title joins the indexed text; v4: defined terms; v7: text tables (rows under their
# header line); v8: the items under a lead-in read as a heading stay one list; v9: PDF lines
# wrapping into a page's misread first line
CHUNKER_VERSION = "blocks-v10"
MAX_CHARS = 320
SEP = " › "
_LEAD_IN_END = ("：", ":")


@dataclass
class _Unit:
    kind: str
    section: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.blocks[0].start

    @property
    def end(self) -> int:
        return self.blocks[-1].end


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


def _is_title(text: str, title: str) -> bool:
    return bool(title) and (text == title or title in text or (len(text) >= 4 and text in title))


def units(doc: Document, max_chars: int = MAX_CHARS) -> list[_Unit]:
    """Group a document's blocks into answerable units with their section paths."""
    text = doc.page_content
    title = doc.metadata.get("title", "")
    blocks: list[Block] = getattr(doc, "blocks", None) or _line_blocks(text)
    path: list[tuple[int, str]] = []
    out: list[_Unit] = []
    open_unit = True  # False right after a heading: the next block starts a new unit
    asking_heading = False  # the last heading is a question ("### 4. 能否合并申报？")

    def section() -> str:
        return SEP.join(label for _, label in path)

    def set_path(level: int, label: str) -> None:
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, label))

    for b in blocks:
        body = text[b.start : b.end]
        cur = out[-1] if out and open_unit else None
        if b.kind == "heading":
            if not _is_title(body, title):
                set_path(b.level if b.level is not None else 9, b.label or body[:40])
                open_unit = False
                asking_heading = body.rstrip().endswith(("？", "?"))
            continue
        open_unit = True
        if b.kind == "paragraph" and b.level is None and body == title:
            continue  # the title line says nothing to answer from
        if b.kind in ("metadata", "qa", "table_row"):
            out.append(_Unit(b.kind, section(), [b]))
        elif b.kind == "list_item":
            lead_open = cur is not None and cur.kind in ("article", "item", "list")
            lead_open = lead_open and cur.section == section()
            # an item of the open list: its lead-in is in the unit, or is the one the unit's
            # items share (a lead-in read as a heading: "（三）申领材料：" over 1. 2. 3.)
            if lead_open and (
                b.lead_in is None
                or b.lead_in in text[cur.start : cur.end]
                or cur.blocks[-1].lead_in == b.lead_in
            ):
                cur.blocks.append(b)
                if cur.kind == "item" and b.lead_in:
                    cur.kind = "list"
            else:
                out.append(_Unit("list", section(), [b]))
        elif b.level is not None:  # a numbered paragraph: 第X条, or "1.壮大……。……"
            set_path(b.level, b.label or body[:20])
            out.append(_Unit("article" if b.label.endswith("条") else "item", section(), [b]))
        else:
            if body.endswith(_LEAD_IN_END) and not (cur and cur.kind == "article"):
                out.append(_Unit("list", section(), [b]))
            elif (
                cur is not None
                and cur.section == section()
                and (
                    cur.kind == "article" or (cur.kind == "text" and b.end - cur.start <= max_chars)
                )
            ):
                cur.blocks.append(b)
            else:
                # the paragraph under a heading that asks ("### 4. 能否合并申报？") answers it
                out.append(_Unit("qa" if asking_heading else "text", section(), [b]))
        asking_heading = False
    return out


def _line_blocks(text: str) -> list[Block]:
    """Blocks for a bare LangChain ``Document`` (no reader ran): one paragraph per line, with
    the numbering structure read as for a text file."""
    from .ingest.blocks import Parsed
    from .ingest.structure import refine

    out, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append(Block(kind="paragraph", start=pos, end=pos + len(line)))
        pos += len(line) + 1
    refined = refine(Parsed(text=text, blocks=out))
    if refined.text != text:  # refine re-joins lines; only trust it when offsets survive
        return out
    return refined.blocks


def chunk_document(doc: Document, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Chunk one loaded document; offsets index ``doc.page_content``."""
    text = doc.page_content
    meta = doc.metadata
    doc_id, title, year = meta["doc_id"], meta.get("title", meta["doc_id"]), meta.get("year")
    status = meta.get("status") or "现行"
    chunks: list[Chunk] = []

    def emit(s: int, e: int, unit: _Unit, page: int | None, lead_in: str | None) -> None:
        body = text[s:e]
        chunks.append(
            Chunk(
                chunk_id=_chunk_id(doc_id, len(chunks), body),
                doc_id=doc_id,
                title=title,
                section=unit.section,
                text=body,
                start=s,
                end=e,
                ordinal=len(chunks),
                year=year,
                kind=unit.kind,
                page=page,
                lead_in=lead_in,
                status=status,
                low_confidence=any(
                    b.low_confidence for b in unit.blocks if b.start < e and s < b.end
                ),
            )
        )

    for unit in units(doc, max_chars):
        if unit.end - unit.start <= max_chars:  # (a text table's row: under its header line)
            lead_in = unit.blocks[0].lead_in if unit.kind == "table_row" else None
            emit(unit.start, unit.end, unit, unit.blocks[0].page, lead_in)
            continue
        # too long: pack whole blocks; a list's later pieces carry its lead-in
        lead = text[unit.blocks[0].start : unit.blocks[0].end]
        carries = unit.kind in ("list", "article") and len(lead) <= max_chars // 2
        group: list[Block] = []
        for b in [*unit.blocks, None]:
            if b is not None and (not group or b.end - group[0].start <= max_chars):
                group.append(b)
                continue
            first = group[0]
            lead_in = lead if carries and first is not unit.blocks[0] else None
            if first.end - first.start <= max_chars or len(group) > 1:
                emit(first.start, group[-1].end, unit, first.page, lead_in)
            else:
                for cs, ce in _split_long(text[first.start : first.end], first.start, max_chars):
                    emit(cs, ce, unit, first.page, lead_in)
            group = [b] if b is not None else []
            if b is not None and b.end - b.start > max_chars:
                for cs, ce in _split_long(text[b.start : b.end], b.start, max_chars):
                    emit(cs, ce, unit, b.page, lead if carries else None)
                group = []
    return chunks
