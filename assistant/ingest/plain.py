"""Plain text (.txt) → blocks, one per non-empty line.

A policy saved from a government site often carries the page around it: a header (当前位置,
索引号, 发布单位, 成文日期, 有效性, 文号, 点击次数 …) and a tail (【打印本页】, 主办, 网站标识码 …).
Header fields are read into ``Parsed.fields`` by their own label and dropped from the text,
as is the tail, so offsets and quotes refer to the policy itself.
"""

from __future__ import annotations

import re

from .blocks import Parsed, TextBuilder, squeeze
from .decode import decode_text

# labels a page header or metadata box uses; "label：value" pairs, several per line
FIELD_LABELS = (
    "索引号|发布单位|发布机构|发文机关|发文单位|内容分类|主题分类|分类|成文日期|发文日期|发布日期|发布时间"
    "|公开方式|公开范围|公开时限|有效性/截止日期|有效性|有效期|施行日期|实施日期|文号|发文字号|来源|时间"
    "|点击次数|浏览次数|阅读次数|解读文件|信息来源|作者|责任编辑|字号"
)
_FIELD = re.compile(rf"({FIELD_LABELS})\s*[:：]\s*")
# a whole line that is site navigation or page furniture
_CHROME_LINE = re.compile(
    r"^\s*(当前位置|您的位置|您现在的位置|>|›|首页\s*[>›]|【?\s*(打印|关闭|收藏|字体|字号)"
    r"|分享到|扫一扫|主办\s*[:：]|承办\s*[:：]|版权所有|网站标识码|[京鲁沪粤浙苏]?ICP备|技术支持\s*[:：]"
    r"|上一篇|下一篇|相关链接)"
)
_HEADER_SCAN = 25
_TAIL_SCAN = 12


def read_fields(line: str) -> dict[str, str] | None:
    """ "索引号：X　发布单位：Y" → {"索引号": "X", "发布单位": "Y"}; None when the line is not
    made of such pairs (its text before the first label must be empty)."""
    matches = list(_FIELD.finditer(line))
    if not matches or line[: matches[0].start()].strip():
        return None
    out = {}
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        value = line[m.end() : nxt.start() if nxt else len(line)].strip(" \u3000\t")
        out[m.group(1)] = value
    return out


def split_page_chrome(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Drop a web page's header and tail furniture; return (body lines, header fields)."""
    fields: dict[str, str] = {}
    head = [i for i, line in enumerate(lines[:_HEADER_SCAN]) if _is_header_line(line)]
    if not head:
        kept = list(lines)
    else:
        drop = set()
        for i in head:
            pairs = read_fields(lines[i])
            if pairs:
                fields.update({k: v for k, v in pairs.items() if v})
            drop.add(i)
        kept = [line for i, line in enumerate(lines) if i not in drop]
    # tail furniture: from the end, drop chrome lines
    while kept and (not kept[-1].strip() or _CHROME_LINE.match(kept[-1])):
        kept.pop()
    tail_start = max(len(kept) - _TAIL_SCAN, 0)
    kept = [line for i, line in enumerate(kept) if i < tail_start or not _CHROME_LINE.match(line)]
    return kept, fields


def _is_header_line(line: str) -> bool:
    if _CHROME_LINE.match(line):
        return True
    pairs = read_fields(line)
    # a single "时间: 09:30" or "来源：…" line also counts; a body sentence never starts so
    return bool(pairs) and len(line) <= 120


# a column gap in a table typed as text: two spaces or more, a tab, an ideographic space
_COLUMN_GAP = re.compile(r"[ \t\u3000]{2,}|\t|\u3000")
TABLE_MIN_ROWS = 2  # body rows under the header line
HEADER_CELL_CHARS = 12


def _cells(line: str) -> list[str]:
    return [c for c in _COLUMN_GAP.split(line.strip()) if c]


def text_tables(lines: list[str]) -> dict[int, tuple[list[str], list[str]] | None]:
    """Tables typed as aligned text ("服务类别    抵扣比例    单张上限" over rows of the same
    columns): line index → (headers, cells) for each body row, None for the header line. A
    table is a header of short cells without sentence punctuation over at least
    ``TABLE_MIN_ROWS`` consecutive lines of as many columns."""
    out: dict[int, tuple[list[str], list[str]] | None] = {}
    i = 0
    while i < len(lines):
        head = _cells(lines[i])
        if len(head) < 2 or any(
            len(c) > HEADER_CELL_CHARS or re.search(r"[。；;，,：:]", c) for c in head
        ):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and len(_cells(lines[j])) == len(head):
            j += 1
        if j - i - 1 >= TABLE_MIN_ROWS:
            out[i] = None
            for k in range(i + 1, j):
                out[k] = (head, _cells(lines[k]))
            i = j
        else:
            i += 1
    return out


def read_plain(data: bytes, name: str) -> Parsed:
    text = decode_text(data, name)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines, fields = split_page_chrome([line.strip() for line in lines])
    tables = text_tables(lines)
    builder = TextBuilder()
    header = None
    for n, line in enumerate(lines):
        if tables.get(n) is None:
            builder.add("paragraph", line)
            header = squeeze(line) if n in tables else None
        else:  # a row quoted as typed, read under its header line (its lead-in)
            headers, cells = tables[n]
            builder.add(
                "table_row", line, headers=tuple(headers), cells=tuple(cells), lead_in=header
            )
    return Parsed.from_builder(builder, fields=fields)
