"""The cited clause in its document (``/ui/doc/{doc_id}?start=…&end=…``), and follow-up questions
drawn from the cited unit's neighbours.

Both read the index through the assistant's public surface only: ``documents()`` for the 公文
metadata and ``retriever.reader.doc_chunks`` (each document's chunks in order, with offsets into
its loaded text). For text formats the file is loaded again, so the page shows the document's own
text — headings included — and the full heading path; when that text no longer matches the index
(the file changed since), or for PDFs and scans, the page is assembled from the chunks, with pages.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError
from assistant.models import Answer, Chunk, DocumentInfo
from assistant.service import Assistant

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".docx")
SECTION_SEP = " › "
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)


@dataclass(frozen=True)
class DocPage:
    title: str
    body: str  # the HTML page


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


class DocumentView:
    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self._texts: dict[tuple[str, int], str | None] = {}
        self._lock = threading.Lock()

    # -- data ------------------------------------------------------------------------------

    def chunks(self, doc_id: str) -> list[Chunk]:
        return list(self.assistant.retriever.reader.doc_chunks.get(doc_id) or [])

    def info(self, doc_id: str) -> DocumentInfo | None:
        return next((d for d in self.assistant.documents() if d.doc_id == doc_id), None)

    def text(self, info: DocumentInfo, chunks: list[Chunk]) -> str | None:
        """The document's loaded text, when it is a text format and still matches the index."""
        if not info.source.lower().endswith(TEXT_SUFFIXES):
            return None
        path = Path(self.assistant.settings.corpus_dir) / info.source
        try:
            key = (info.source, path.stat().st_mtime_ns)
        except OSError:
            return None
        with self._lock:
            if key in self._texts:
                return self._texts[key]
        from assistant.load import load_file  # the indexer's own loader: the same offsets

        try:
            loaded = load_file(path, Path(self.assistant.settings.corpus_dir)).text
        except (AssistantError, OSError):
            loaded = None
        if loaded is not None and any(loaded[c.start : c.end] != c.text for c in chunks):
            loaded = None
        with self._lock:
            self._texts = {k: v for k, v in self._texts.items() if k[0] != info.source}
            self._texts[key] = loaded
        return loaded

    # -- the page --------------------------------------------------------------------------

    def render(
        self, doc_id: str, start: int | None = None, end: int | None = None
    ) -> DocPage | None:
        chunks = self.chunks(doc_id)
        info = self.info(doc_id)
        if not chunks or info is None:
            return None
        span = (start, end) if start is not None and end is not None and start < end else None
        unit = _unit_at(chunks, span[0]) if span else None
        full = self.text(info, chunks)
        if span and unit is not None:
            span = (max(span[0], unit.start), min(span[1], unit.end))
        body = (
            _from_text(full, unit, span) if full is not None else _from_chunks(chunks, unit, span)
        )
        where = ""
        if unit is not None:
            path = full_heading_path(unit.section, full)
            page = f"（第{unit.page}页）" if unit.page else ""
            where = (
                '<p class="where"><span class="label">出处</span>'
                f"{_esc(SECTION_SEP.join(path)) or '（正文）'}{_esc(page)}</p>"
            )
        return DocPage(info.title, _page(info, self._titles(), where, body, bool(span)))

    def _titles(self) -> dict[str, str]:
        try:
            return {d.doc_id: d.title for d in self.assistant.documents()}
        except AssistantError:
            return {}

    def with_full_sections(self, answer: Answer) -> Answer:
        """The answer with each citation's heading path whole ("一、全面强化…" completed from
        the document), so the sources panel and the copied text name the section in full."""

        def full(c):
            try:
                info = self.info(c.doc_id)
                text = self.text(info, self.chunks(c.doc_id)) if info else None
            except AssistantError:
                return c
            path = SECTION_SEP.join(full_heading_path(c.section, text))
            return c if path == c.section else c.model_copy(update={"section": path})

        return answer.model_copy(
            update={
                "citations": [full(c) for c in answer.citations],
                "related": [full(c) for c in answer.related],
            }
        )

    # -- follow-ups ------------------------------------------------------------------------

    def suggestions(self, answer: Answer, limit: int = 3) -> list[str]:
        """Questions about the units next to the one cited (or, for an abstention, to the
        related passages): "“优化科技成果转化服务”有哪些措施？". No LLM: the document's own
        headings, in reading order around the cited unit."""
        sources = answer.citations or answer.related
        if not sources:
            return []
        cited = sources[0]
        chunks = self.chunks(cited.doc_id)
        unit = _unit_at(chunks, cited.start)
        if unit is None:
            return []
        asked = {_topic(c.section) for c in sources}
        topics: list[str] = []
        sections = list(dict.fromkeys(c.section for c in chunks if c.section))
        if unit.section in sections:
            i = sections.index(unit.section)
            # nearest first, alternating after/before: the next item is the likelier follow-up
            order = [j for k in range(1, len(sections)) for j in (i + k, i - k)]
            for j in order:
                if 0 <= j < len(sections):
                    topic = _topic(sections[j])
                    if topic and topic not in asked and topic not in topics:
                        topics.append(topic)
                if len(topics) >= limit:
                    break
        return [f"“{t}”有哪些措施？" for t in topics[:limit]]


_NUMBERING = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[.．、]|第[一二三四五六七八九十百\d]+[条章节])\s*"
)


def _topic(section: str) -> str:
    last = section.split(SECTION_SEP)[-1].strip().rstrip("…").strip()
    last = _NUMBERING.sub("", last).strip("。；;，, ")
    return last if 2 <= len(last) <= 30 else ""


def _unit_at(chunks: list[Chunk], offset: int) -> Chunk | None:
    for c in chunks:
        if c.start <= offset < c.end:
            return c
    return None


def full_heading_path(section: str, full: str | None) -> list[str]:
    """The section path with each heading cut short ("一、全面强化…") completed from the text."""
    parts = [p for p in section.split(SECTION_SEP) if p]
    if full is None:
        return parts
    out = []
    for part in parts:
        if part.endswith("…"):
            prefix = part[:-1]
            m = re.search(rf"^\s*{re.escape(prefix)}[^\n]*", full, re.MULTILINE)
            if m:
                part = m.group(0).strip()
        out.append(part)
    return out


def _marked(value: str, span: tuple[int, int] | None, offset: int) -> str:
    if span is None:
        return _esc(value)
    s, e = span[0] - offset, span[1] - offset
    return f'{_esc(value[:s])}<mark id="pa-hit">{_esc(value[s:e])}</mark>{_esc(value[e:])}'


def _from_text(full: str, unit: Chunk | None, span: tuple[int, int] | None) -> str:
    if unit is None:
        return f'<div class="doc">{_esc(full)}</div>'
    return (
        f'<div class="doc">{_esc(full[: unit.start])}'
        f'<span class="unit">{_marked(full[unit.start : unit.end], span, unit.start)}</span>'
        f"{_esc(full[unit.end :])}</div>"
    )


def _from_chunks(chunks: list[Chunk], unit: Chunk | None, span: tuple[int, int] | None) -> str:
    out, section, page = [], None, None
    for c in chunks:
        if c.page and c.page != page:
            page = c.page
            out.append(f'<div class="page">第{c.page}页</div>')
        if c.section and c.section != section:
            section = c.section
            out.append(f"<h2>{_esc(c.section)}</h2>")
        if unit is not None and c.chunk_id == unit.chunk_id:
            out.append(f'<p class="unit">{_marked(c.text, span, c.start)}</p>')
        else:
            out.append(f"<p>{_esc(c.text)}</p>")
    return '<div class="doc doc-chunks">' + "".join(out) + "</div>"


def _validity(info: DocumentInfo, titles: dict[str, str]) -> str:
    if info.superseded_by:
        return f"已废止（已被《{titles.get(info.superseded_by, info.superseded_by)}》废止）"
    return info.status + (f"（有效期至{info.effective_to}）" if info.effective_to else "")


def _page(info: DocumentInfo, titles: dict[str, str], where: str, body: str, hit: bool) -> str:
    facts = [
        ("文号", info.doc_no),
        ("发文机关", info.issuer),
        ("成文日期", info.date),
        ("发布日期", info.published),
        ("施行日期", info.effective_from),
        ("有效性", _validity(info, titles)),
        ("文件", info.source),
    ]
    meta = "".join(f"<dt>{k}</dt><dd>{_esc(v)}</dd>" for k, v in facts if v)
    note = (
        '<p class="hint">高亮部分为回答引用的原文；浅色底为所在条目。</p>'
        if hit
        else '<p class="hint">未指定引用位置，显示全文。</p>'
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>{_esc(info.title)} · 原文 · 威海科技政策问答助手</title>
<style>{PAGE_CSS}</style></head>
<body><header><h1>《{_esc(info.title)}》</h1><dl>{meta}</dl>{where}{note}</header>
<main>{body}</main></body></html>"""


PAGE_CSS = """
body { margin: 0; font: 16px/1.8 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
       "WenQuanYi Micro Hei", system-ui, sans-serif; color: #1f2937; background: #ffffff; }
header { padding: 12px 16px; border-bottom: 1px solid #d1d5db; background: #f8fafc; }
h1 { font-size: 1.15em; margin: 0 0 6px; }
h2 { font-size: 1em; margin: 1.2em 0 .3em; color: #1e3a8a; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dt { color: #4b5563; } dd { margin: 0; }
.where { margin: 8px 0 0; font-weight: 600; color: #1e3a8a; }
.label { display: inline-block; margin-right: 8px; padding: 0 6px; border-radius: 4px;
         background: #1d4ed8; color: #ffffff; font-weight: 600; }
.hint { margin: 6px 0 0; color: #4b5563; font-size: .9em; }
main { padding: 12px 16px 40vh; }
.doc { white-space: pre-wrap; overflow-wrap: anywhere; }
.doc-chunks { white-space: normal; }
.unit { background: #eff6ff; }
mark { background: #fde68a; color: #111827; padding: 1px 0; scroll-margin-top: 30vh; }
.page { margin: 1em 0 .2em; color: #4b5563; font-size: .85em; border-top: 1px dashed #9ca3af; }
@media (prefers-color-scheme: dark) {
  body { color: #e5e7eb; background: #111827; }
  header { background: #1f2937; border-color: #374151; }
  h2, .where { color: #93c5fd; } dt, .hint, .page { color: #9ca3af; }
  .unit { background: #1e293b; }
  mark { background: #facc15; color: #111827; }
}
"""
