"""Chat messages as HTML, and the same answers as plain text (for copying and for screen readers).

Everything a user or a document supplied is escaped here — HTML *and* Markdown: the chat renders
Markdown, so a question such as ``[点击领取](https://phish.example)`` or ``<img src=…>`` must
arrive as entities, never as syntax. Each message is one HTML block without blank lines, so the
Markdown renderer leaves it whole. The only links are the ones made here: ``[n]`` markers and
source entries pointing at the served document view (``doc/{doc_id}?start=…&end=…``).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from assistant.models import Answer, Citation

ABSTAIN_HEADLINE = "⚠️ 未找到明确依据"
RELATED_MARK = "\n相关内容"  # where an abstention's explanation ends and its snippets begin

# every character Markdown, HTML or the chat's math rendering could read as syntax
_SYNTAX = {c: f"&#{ord(c)};" for c in "&<>\"'[]()*_`~$!#|\\{}+-=^:"}
_SYNTAX["\r"] = ""


def text(value: str) -> str:
    """``value`` as inert text inside an HTML block: no tag, no Markdown, no math."""
    return "".join(_SYNTAX.get(ch, ch) for ch in value)


def lines(value: str) -> str:
    """Inert text with its line breaks kept as ``<br>`` (a blank line would end the block)."""
    return "<br>".join(text(line) for line in value.strip().splitlines() if line.strip())


def attr(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "&#10;")


def doc_href(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The document view, relative to the page (``/ui/``), so a reverse-proxy prefix still works."""
    href = f"doc/{quote(doc_id, safe='')}"
    if start is not None and end is not None:
        href += f"?start={start}&end={end}#pa-hit"
    return href


def _ref(c: Citation, label: str | None = None) -> str:
    return (
        f'<a class="pa-ref" href="{attr(doc_href(c.doc_id, c.start, c.end))}" target="_blank"'
        f' rel="noopener" aria-label="查看出处 {c.id}：《{attr(c.title)}》"'
        f">{text(label or f'[{c.id}]')}</a>"
    )


_MARKER = re.compile(r"\[(\d{1,2})\]")


def answer_body(answer: Answer) -> str:
    """The answer text with each ``[n]`` that names a citation made a link to its clause."""
    by_id = {c.id: c for c in answer.citations}

    def one_line(line: str) -> str:
        out, pos = [], 0
        for m in _MARKER.finditer(line):
            cite = by_id.get(int(m.group(1)))
            if cite is not None:
                out += [text(line[pos : m.start()]), _ref(cite)]
                pos = m.end()
        return "".join([*out, text(line[pos:])])

    return "<br>".join(one_line(ln) for ln in answer.answer.strip().splitlines() if ln.strip())


def _source(c: Citation, shown: str = "") -> str:
    # a quote the answer already prints word for word (a ledger answer's 原文) is not repeated
    quote_ = (
        ""
        if c.text.strip() and c.text.strip() in shown
        else (f'<blockquote class="pa-cite-text">{lines(c.text)}</blockquote>')
    )
    return (
        f'<div class="pa-cite"><div class="pa-cite-doc">{_ref(c)} 《{text(c.title)}》</div>'
        f'<div class="pa-cite-section">{text(c.where) or "（正文）"}</div>{quote_}'
        f'<a class="pa-open" href="{attr(doc_href(c.doc_id, c.start, c.end))}" target="_blank"'
        f' rel="noopener">在原文中查看</a></div>'
    )


def render_citations(answer: Answer) -> str:
    if not answer.citations:
        return ""
    items = "".join(_source(c, answer.answer) for c in answer.citations)
    return (
        f'<details class="pa-cites"><summary>出处（{len(answer.citations)} 条）</summary>'
        f"{items}</details>"
    )


def _related(answer: Answer) -> str:
    items = "".join(_source(c) for c in answer.related)
    return f'<div class="pa-related"><div class="pa-related-title">相关内容（仅供参考）</div>{items}</div>'


def _actions(answer: Answer) -> str:
    # the chat's sanitiser drops data-* attributes: the plain text rides in a hidden element,
    # its line breaks as entities (a raw blank line would end the HTML block)
    plain = text(plain_text(answer)).replace("\n", "&#10;")
    return (
        '<div class="pa-actions">'
        '<button type="button" class="pa-copy">复制</button>'
        f'<span class="pa-plain">{plain}</span></div>'
    )


def render_answer(answer: Answer) -> str:
    if answer.abstained:
        explanation = answer.answer
        if answer.related and RELATED_MARK in explanation:
            explanation = explanation.split(RELATED_MARK, 1)[0]  # the snippets are shown whole
        related = _related(answer) if answer.related else ""
        return (
            '<div class="pa-msg pa-final pa-abstain">'
            f'<div class="pa-abstain-title">{ABSTAIN_HEADLINE}</div>'
            f'<div class="pa-abstain-text">{lines(explanation)}</div>{related}{_actions(answer)}'
            "</div>"
        )
    note = f'<div class="pa-note">说明：{text(answer.note)}</div>' if answer.note else ""
    return (
        f'<div class="pa-msg pa-final"><div class="pa-answer">{answer_body(answer)}</div>{note}'
        f"{render_citations(answer)}{_actions(answer)}</div>"
    )


def render_draft(value: str) -> str:
    return f'<div class="pa-msg pa-draft"><div class="pa-answer">{lines(value)} ▍</div></div>'


def render_error(message: str) -> str:
    return f'<div class="pa-msg pa-final pa-error">⚠️ {text(message)}</div>'


def render_question(question: str) -> str:
    return f'<div class="pa-q">{lines(question)}</div>'


def plain_text(answer: Answer) -> str:
    """What "复制" puts on the clipboard: the answer, then its sources as numbered lines."""
    parts = [ABSTAIN_HEADLINE.removeprefix("⚠️ ") + "。\n" if answer.abstained else ""]
    parts.append(answer.answer.strip())
    if answer.citations:
        parts.append("\n\n来源：")
        parts += [f"\n[{c.id}] 《{c.title}》{c.where}" for c in answer.citations]
    if answer.note:
        parts.append(f"\n\n说明：{answer.note}")
    return "".join(parts)
