"""DOCX → ``Parsed``: the body in document order, headings with levels, automatic list numbers
written back into the text, and each table row as its own citable block.

- Order: the body's children (``w:p``, ``w:tbl``, and the contents of ``w:sdt`` content
  controls) are read as they come, so a table stays between the paragraphs around it. Page
  headers and footers live in their own parts and are never read.
- Headings: style "Title"/"标题" is level 1 and gives ``Parsed.title`` (the first one).
  "Heading N"/"标题 N" is level N, shifted down by one when the document has a Title so the
  title stays on top; a paragraph with no heading style but an outline level (``w:outlineLvl``
  on itself or its style chain) is a heading of that level, shifted the same way.
- Numbering: Word stores list numbers outside the text (``w:numPr`` → numbering part). They are
  rendered as Word would — ``lvlText`` such as "%1." or "（%1）" with each level's ``numFmt``
  (decimal, chineseCounting → 一、二…, roman, letters, ①…) — and put in front of the text and in
  ``label``. Counters are kept per (numId, ilvl), start at ``start``/``startOverride``, and a
  deeper level restarts when a shallower one advances. Two lists restart only where the file
  says so (a new ``w:num``), exactly as Word shows them. Bullets become list items with no
  number. Numbered headings keep their heading kind, with the number in front.
- Lists: ``level`` is ilvl + 1; ``lead_in`` is the nearest paragraph before the item ending in
  "：" or ":" (for a nested item, its parent item if that one ends so).
- Tables: one ``table_row`` per data row, headers from the first row (tables of one row or one
  column have no headers); a merged cell is read once per row, not once per grid column.
- ``fields["title"]`` is the core-properties title when the file sets one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import LoadError
from .archive import check_archive
from .blocks import Parsed, TextBuilder, squeeze, table_row_text

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title", "标题"})
_COLONS = ("：", ":")


def _w(path: str) -> str:
    """ "pPr/numPr" → the Clark-notation path lxml's ``find`` wants."""
    return "/".join(_W + part for part in path.split("/"))


def _val(el: Any, path: str) -> str | None:
    node = el.find(_w(path)) if el is not None else None
    return node.get(_W + "val") if node is not None else None


def read_docx(data: bytes, name: str) -> Parsed:
    import docx

    check_archive(data, name)  # sizes and ratios from the zip directory, before inflating
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(name, f"DOCX 文件损坏或格式不正确（{type(exc).__name__}）") from exc

    items = list(_iter_body(document))
    has_title = any(_is_title(p.style) for _, p in items if _is_paragraph(p))
    offset = 1 if has_title else 0
    numbering = _Numbering(document)
    builder = TextBuilder()
    title: str | None = None
    intro: str | None = None  # the latest paragraph, a possible lead-in of the list after it
    parents: dict[int, str] = {}  # list level → text of the latest item at that level

    for el, item in items:
        if not _is_paragraph(item):
            _add_table(builder, item)
            intro, parents = None, {}
            continue
        style = item.style
        raw = item.text
        num = numbering.number(el, style)
        label = num.label if num else ""
        text = _join(label, raw, num.suffix) if num else raw
        level = _heading_level(el, style, offset)
        if level is not None:
            builder.add("heading", text, level=level, label=label)
            if title is None and _is_title(style) and squeeze(raw):
                title = squeeze(raw)
            intro, parents = None, {}
        elif num is not None:
            depth = num.ilvl + 1
            parent = parents.get(depth - 1, "")
            lead = parent if depth > 1 and parent.endswith(_COLONS) else intro
            block = builder.add("list_item", text, level=depth, label=label, lead_in=lead)
            if block is not None:
                parents = {k: v for k, v in parents.items() if k < depth}
                parents[depth] = builder.parts[-1]  # the text just added
        elif builder.add("paragraph", text) is not None:
            body = builder.parts[-1]
            intro = body if body.endswith(_COLONS) else None

    if not builder.blocks:
        raise LoadError(name, "没有可提取的文字")
    fields: dict[str, str] = {}
    if core_title := squeeze(document.core_properties.title or ""):
        fields["title"] = core_title
    return Parsed.from_builder(builder, fields=fields, title=title)


def _is_paragraph(item: Any) -> bool:
    from docx.text.paragraph import Paragraph

    return isinstance(item, Paragraph)


def _iter_body(document: Any) -> Iterator[tuple[Any, Any]]:
    """(element, Paragraph | Table) for each body child in order, content controls opened."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(parent: Any) -> Iterator[tuple[Any, Any]]:
        for child in parent.iterchildren():
            if child.tag == _W + "p":
                yield child, Paragraph(child, document)
            elif child.tag == _W + "tbl":
                yield child, Table(child, document)
            elif child.tag == _W + "sdt" and (content := child.find(_w("sdtContent"))) is not None:
                yield from walk(content)

    yield from walk(document.element.body)


# -- headings ------------------------------------------------------------------------------


def _is_title(style: Any) -> bool:
    return style is not None and (style.name or "").strip().lower() in _TITLE_STYLES


def _style_chain(style: Any) -> Iterator[Any]:
    seen = 0
    while style is not None and seen < 20:  # basedOn loops exist in the wild
        yield style
        style, seen = style.base_style, seen + 1


def _heading_level(el: Any, style: Any, offset: int) -> int | None:
    if _is_title(style):
        return 1
    if style is not None and (m := _HEADING_STYLE.match((style.name or "").strip())):
        return int(m.group(1)) + offset
    outline = _val(el, "pPr/outlineLvl")
    for s in _style_chain(style):
        if outline is not None:
            break
        outline = _val(s.element, "pPr/outlineLvl")
    if outline is not None and outline.isdigit() and int(outline) < 9:  # 9 = body text
        return int(outline) + 1 + offset
    return None


# -- list numbering ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Num:
    ilvl: int
    label: str  # "" for bullets
    suffix: str  # what follows the number: "tab" (default), "space" or "nothing"


class _Numbering:
    """The numbering part, and the running counters that turn it into visible numbers."""

    def __init__(self, document: Any):
        try:
            root = document.part.numbering_part.element
        except Exception:  # no numbering part: nothing is numbered
            root = None
        found = root.iterfind if root is not None else (lambda _path: iter(()))
        self._abstract = {a.get(_W + "abstractNumId"): a for a in found(_w("abstractNum"))}
        self._nums = {n.get(_W + "numId"): n for n in found(_w("num"))}
        self._styles = document.styles.element
        self._counters: dict[str, dict[int, int]] = {}

    def number(self, p: Any, style: Any) -> _Num | None:
        """The paragraph's rendered number, advancing the counters; None if not in a list."""
        num_id, ilvl = _val(p, "pPr/numPr/numId"), _val(p, "pPr/numPr/ilvl")
        for s in _style_chain(style):
            if num_id is not None and ilvl is not None:
                break
            num_id = num_id or _val(s.element, "pPr/numPr/numId")
            ilvl = ilvl if ilvl is not None else _val(s.element, "pPr/numPr/ilvl")
        if num_id is None or num_id == "0" or num_id not in self._nums:
            return None
        level = int(ilvl) if ilvl and ilvl.isdigit() else 0
        lvl = self._level(num_id, level)
        if lvl is None:
            return None
        suffix = _val(lvl, "suff") or "tab"
        fmt = _val(lvl, "numFmt") or "decimal"
        counters = self._counters.setdefault(num_id, {})
        counters[level] = counters[level] + 1 if level in counters else self._start(num_id, level)
        for deeper in [k for k in counters if k > level]:
            del counters[deeper]
        if fmt in ("bullet", "none"):
            return _Num(level, "", suffix)
        legal = lvl.find(_w("isLgl")) is not None

        def render(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            other = self._level(num_id, k)
            value = counters.get(k, self._start(num_id, k))
            k_fmt = "decimal" if legal else (_val(other, "numFmt") or "decimal")
            return _format(value, k_fmt)

        label = re.sub(r"%([1-9])", render, _val(lvl, "lvlText") or "")
        return _Num(level, squeeze(label), suffix)

    def _abstract_of(self, num_id: str) -> Any:
        for _ in range(5):  # follow numStyleLink → style → num → abstractNum
            abstract = self._abstract.get(_val(self._nums.get(num_id), "abstractNumId"))
            link = _val(abstract, "numStyleLink")
            if link is None:
                return abstract
            style = next(
                (s for s in self._styles.iterfind(_w("style")) if s.get(_W + "styleId") == link),
                None,
            )
            num_id = _val(style, "pPr/numPr/numId") or ""
        return None

    def _override(self, num_id: str, ilvl: int) -> Any:
        for o in self._nums[num_id].iterfind(_w("lvlOverride")):
            if o.get(_W + "ilvl") == str(ilvl):
                return o
        return None

    def _level(self, num_id: str, ilvl: int) -> Any:
        override = self._override(num_id, ilvl)
        if override is not None and (lvl := override.find(_w("lvl"))) is not None:
            return lvl
        abstract = self._abstract_of(num_id)
        if abstract is None:
            return None
        for lvl in abstract.iterfind(_w("lvl")):
            if lvl.get(_W + "ilvl") == str(ilvl):
                return lvl
        return None

    def _start(self, num_id: str, ilvl: int) -> int:
        start = _val(self._override(num_id, ilvl), "startOverride")
        if start is None:
            start = _val(self._level(num_id, ilvl), "start")
        return int(start) if start and start.lstrip("-").isdigit() else 1


def _join(label: str, text: str, suffix: str) -> str:
    """Number and text: no space before Chinese text ("1.在本市注册"), one before Latin."""
    if not label:
        return text
    body = text.lstrip()
    spaced = suffix != "nothing" and body[:1].isascii() and body[:1].isalnum()
    return f"{label} {body}" if spaced else f"{label}{body}"


_CN = "零一二三四五六七八九"
_CN_LEGAL = "零壹贰叁肆伍陆柒捌玖"
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ENCLOSED = {"decimalEnclosedCircle": 0x2460, "decimalEnclosedCircleChinese": 0x2460}
_ENCLOSED |= {"decimalEnclosedParen": 0x2474, "decimalEnclosedFullstop": 0x2488}
_CYCLES = {
    "ideographTraditional": "甲乙丙丁戊己庚辛壬癸",
    "ideographZodiac": "子丑寅卯辰巳午未申酉戌亥",
}
_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"))
_ROMAN += ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _chinese(n: int, digits: str = _CN, units: str = " 十百千") -> str:
    if not 0 < n < 10000:
        return str(n)
    out, zero = "", False
    s = str(n)
    for pos, ch in enumerate(s):
        d, unit = int(ch), units[len(s) - 1 - pos].strip()
        if d == 0:
            zero = True
            continue
        out += (digits[0] if zero and out else "") + digits[d] + unit
        zero = False
    return out[1:] if digits is _CN and 10 <= n < 20 else out  # 十一, not 一十一


def _format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting"):
        return _chinese(n)
    if fmt in ("taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese(n)
    if fmt in ("chineseLegalSimplified", "ideographLegalTraditional"):
        return _chinese(n, _CN_LEGAL, " 拾佰仟")
    if fmt == "ideographDigital":
        return "".join("〇" if c == "0" else _CN[int(c)] for c in str(n))
    if fmt in _CYCLES:
        cycle = _CYCLES[fmt]
        return cycle[(n - 1) % len(cycle)] if n > 0 else str(n)
    if fmt in _ENCLOSED and 1 <= n <= 20:
        return chr(_ENCLOSED[fmt] + n - 1)
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return str(n).translate(_FULLWIDTH)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("upperRoman", "lowerRoman") and 0 < n < 4000:
        roman = ""
        for value, letters in _ROMAN:
            count, n = divmod(n, value)
            roman += letters * count
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt in ("upperLetter", "lowerLetter") and n > 0:
        letter = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    return str(n)


# -- tables --------------------------------------------------------------------------------


def _add_table(builder: TextBuilder, table: Any) -> None:
    grid: list[list[tuple[str, Any] | None]] = []
    for row in table.rows:
        before: list[tuple[str, Any] | None] = [None] * (getattr(row, "grid_cols_before", 0) or 0)
        grid.append(before + [(cell.text, cell._tc) for cell in row.cells])
    columns = max((len(r) for r in grid), default=0)
    head = grid[0] if len(grid) > 1 and columns > 1 else []
    header_texts = [squeeze(c[0]) if c else "" for c in head]
    if not any(header_texts):
        head, header_texts = [], []
    for row in grid[1:] if head else grid:
        headers: list[str] = []
        cells: list[str] = []
        previous = None
        for i, cell in enumerate(row):
            if cell is None or cell[1] is previous:  # a merged cell spans several grid columns
                continue
            previous = cell[1]
            cells.append(squeeze(cell[0]))
            headers.append(header_texts[i] if i < len(header_texts) else "")
        builder.add(
            "table_row",
            table_row_text(headers, cells),
            headers=tuple(headers) if head else (),
            cells=tuple(cells),
        )
