"""Markdown → ``Parsed`` by walking markdown-it's token stream (CommonMark + tables).

- ``#``…``######`` are headings of that level; the first ``#`` is ``Parsed.title``.
- Paragraphs, block quotes, code and raw HTML blocks (tags stripped) are paragraphs.
- List items are ``list_item`` blocks: ``level`` is the nesting depth, an ordered item keeps
  its number as written ("1." / "3)") in front of the text and in ``label``, a bullet item has
  no marker. ``lead_in`` is the paragraph just before the list when it ends in "：" or ":" (for
  a nested list, its parent item when that one ends so). An item is emitted before the items
  nested in it; a paragraph of the item that comes after a nested list is a plain paragraph.
- Inline markup is dropped, its text kept: **bold**, *em*, `code`, link text; images and
  inline HTML tags go.
- Tables: one ``table_row`` per body row, headers from the header row.
- Fields: a front list at the top (before the first heading below the title) whose items read
  "**Label**：value" (label up to 12 characters) fills ``Parsed.fields`` {label: value}; the
  items stay in the text as well, since they are facts a reader may ask about. A YAML front
  matter block (``---`` … ``---``) is read into ``fields`` and left out of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import LoadError
from .blocks import Parsed, TextBuilder, squeeze, table_row_text
from .decode import decode_text

_COLONS = ("：", ":")
_FIELD = re.compile(r"^(\*\*|__)\s*([^*_：:\n]{1,12}?)\s*([：:])?\s*\1\s*(?(3)|[：:])\s*\S")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_YAML_LINE = re.compile(r"^([^\s:#][^:]{0,30}?)\s*:\s*(.+?)\s*$")


@dataclass
class _Item:
    label: str
    level: int
    lead_in: str | None
    parts: list[str] = field(default_factory=list)
    raw: str = ""  # the first inline's source, for the front-list field check
    emitted: str | None = None  # the item's text once it has been added


@dataclass
class _Table:
    headers: list[str] = field(default_factory=list)
    row: list[str] = field(default_factory=list)
    in_head: bool = False
    rows: int = 0


def read_markdown(data: bytes, name: str) -> Parsed:
    from markdown_it import MarkdownIt

    source = decode_text(data, name)
    fields: dict[str, str] = {}
    if (m := _FRONT_MATTER.match(source)) and _is_yaml(m.group(1)):
        fields.update(_yaml_fields(m.group(1)))
        source = source[m.end() :]
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    return _walk(tokens, fields, name)


def _walk(tokens: list[Any], fields: dict[str, str], name: str) -> Parsed:
    builder = TextBuilder()
    title: str | None = None
    heading: int | None = None
    items: list[_Item] = []
    lists: list[tuple[bool, str | None]] = []  # (ordered, lead-in) per open list
    table: _Table | None = None
    front = True  # still at the top, before the body's first heading

    def add_item(item: _Item) -> None:
        if item.emitted is not None:
            return
        text = _join(item.label, "\n".join(item.parts))
        item.emitted = ""
        if builder.add("list_item", text, level=item.level, label=item.label, lead_in=item.lead_in):
            item.emitted = builder.parts[-1]
            if front and item.level == 1 and (m := _FIELD.match(item.raw)):
                value = re.split(r"[：:]", item.emitted, maxsplit=1)[-1]
                fields.setdefault(m.group(2).strip(), value.strip())

    def lead_in() -> str | None:
        if items and items[-1].emitted:
            return items[-1].emitted if items[-1].emitted.endswith(_COLONS) else None
        last = builder.blocks[-1] if builder.blocks else None
        if last is not None and last.kind == "paragraph" and builder.parts[-1].endswith(_COLONS):
            return builder.parts[-1]
        return None

    def add_text(text: str, raw: str = "") -> None:
        if items and items[-1].emitted is None:
            items[-1].parts.append(text)
            items[-1].raw = items[-1].raw or raw
        else:
            builder.add("paragraph", text)

    for tok in tokens:
        kind = tok.type
        if kind == "heading_open":
            heading = int(tok.tag[1])
        elif kind == "heading_close":
            heading = None
        elif kind in ("bullet_list_open", "ordered_list_open"):
            if items:
                add_item(items[-1])  # the parent item reads before its children
            lists.append((kind == "ordered_list_open", lead_in()))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            ordered, lead = lists[-1] if lists else (False, None)
            label = f"{tok.info}{tok.markup}" if ordered and tok.info else ""
            items.append(_Item(label=label, level=len(lists), lead_in=lead))
        elif kind == "list_item_close":
            add_item(items.pop())
        elif kind == "table_open":
            table = _Table()
        elif kind == "table_close" and table is not None:
            if not table.rows and table.headers:  # a header row alone is still text
                builder.add(
                    "table_row", table_row_text([], table.headers), cells=tuple(table.headers)
                )
            table = None
        elif table is not None and kind in ("thead_open", "thead_close"):
            table.in_head = kind == "thead_open"
        elif table is not None and kind == "tr_open":
            table.row = []
        elif table is not None and kind in ("th_open", "td_open"):
            table.row.append("")
        elif table is not None and kind == "tr_close":
            _add_row(builder, table)
        elif kind == "inline":
            text = _inline(tok)
            if table is not None and table.row:
                table.row[-1] = squeeze(text)
            elif heading is not None:
                if heading == 1 and title is None and squeeze(text):
                    title = squeeze(text)
                else:
                    front = False
                builder.add("heading", text, level=heading)
            else:
                add_text(text, tok.content)
        elif kind in ("fence", "code_block"):
            add_text(tok.content)
        elif kind == "html_block":
            add_text(_strip_html(tok.content))

    if not builder.blocks:
        raise LoadError(name, "没有可提取的文字")
    return Parsed.from_builder(builder, fields=fields, title=title or fields.get("title"))


def _add_row(builder: TextBuilder, table: _Table) -> None:
    if table.in_head:
        table.headers = list(table.row)
        return
    headers = [table.headers[i] if i < len(table.headers) else "" for i in range(len(table.row))]
    if builder.add(
        "table_row",
        table_row_text(headers, table.row),
        headers=tuple(headers),
        cells=tuple(table.row),
    ):
        table.rows += 1


def _inline(tok: Any) -> str:
    """An inline token's text without its markup: emphasis, code, links kept as text."""
    out: list[str] = []
    for child in tok.children or ():
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "html_inline" and re.match(r"<br\b", child.content, re.IGNORECASE):
            out.append("\n")
    return "".join(out)


def _strip_html(html: str) -> str:
    html = re.sub(r"<!--.*?-->", "", html, flags=re.DOTALL)
    html = re.sub(r"<br\b[^>]*>|</(?:p|div|li|tr|h[1-6])>", "\n", html, flags=re.IGNORECASE)
    return re.sub(r"<[^>]+>", "", html)


def _join(label: str, text: str) -> str:
    """Number and text: no space before Chinese text ("1.在本市注册"), one before Latin."""
    if not label:
        return text
    text = text.lstrip()
    return f"{label} {text}" if text[:1].isascii() and text[:1].isalnum() else f"{label}{text}"


def _is_yaml(block: str) -> bool:
    """Front matter, not a thematic break followed by text: key lines (or their indented or
    list continuations) from the first line on."""
    lines = block.splitlines()
    return (
        bool(lines)
        and bool(_YAML_LINE.match(lines[0]) or lines[0].rstrip().endswith(":"))
        and all(
            not line.strip() or line[:1].isspace() or line.startswith("- ") or ":" in line
            for line in lines
        )
    )


def _yaml_fields(block: str) -> dict[str, str]:
    """Flat ``key: value`` lines of a front matter block (nested YAML is skipped)."""
    out: dict[str, str] = {}
    for line in block.splitlines():
        if (m := _YAML_LINE.match(line)) and (value := squeeze(m.group(2).strip("'\""))):
            out[m.group(1).strip()] = value
    return out
