"""HTML reader: a (government) web page → its article as blocks, its metadata box as fields.

Two passes, each doing what it is good at:

- **Structure and chrome: our own walk of the DOM** (BeautifulSoup + lxml). Dropped outright:
  script, style, noscript, iframe, svg, inputs … and hidden elements. Dropped unless they hold
  the page's ``<h1>`` or most of its text (an ASP.NET page wraps everything in one ``<form>``):
  nav/header/footer/aside/form elements and elements whose class, id or role names chrome (nav,
  menu, breadcrumb, crumb, footer, share, toolbar, tools, sidebar, related, copyright, logo,
  search …). Dropped by their text: breadcrumbs (当前位置 …), footers (版权所有, 网站标识码,
  ICP备, 主办单位：…地址), toolbars (打印本页, 关闭窗口, 字体大中小, 分享到) and counters (点击次数).
  A metadata table (label cells 索引号, 发布机构, 文号 …) and "label：value" lines
  ("发布时间：… 来源：…") go to ``Parsed.fields``, never into the text.
- **Where the article starts and ends: trafilatura.** The walked blocks are cut to the span from
  the first to the last block trafilatura also extracted, widened backwards over the heading(s)
  just before it (the article title, which trafilatura moves to its metadata) and forwards over
  trailing 附件 lines. Trafilatura's own output is not used as the text: on these pages it drops
  the ``<h1>`` and link-only paragraphs (the 附件 names), and on short pages it degrades to one
  flat blob with the navigation in it.

The whole walked page (the fallback) is used instead when trafilatura returns nothing, fails,
shares no block with the walk, or extracts less than half as much text as the walk keeps.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from ..errors import LoadError
from .blocks import BlockKind, Parsed, TextBuilder, squeeze, table_row_text
from .decode import decode_text

_DROP_ALWAYS = (
    *("head", "script", "style", "noscript", "iframe", "frame", "svg", "canvas", "template"),
    *("object", "embed", "select", "button", "input", "textarea", "map", "audio", "video"),
)
_DROP_UNLESS_MAIN = ("nav", "header", "footer", "aside", "form")
_CHROME_NAME = re.compile(
    r"(?:^|[\s_-])(?:nav\w*|menu\w*|bread\w*|crumbs?|footer|foot|share\w*|bdshare\w*|toolbar"
    r"|tools?|sidebar|side|related|copyright|top-?bar|header|head|logo|banner|search\w*|login"
    r"|position|location|dqwz|print|qrcode|ewm)(?=$|[\s_\d-])",
    re.I,
)
_CHROME_ROLE = {"navigation", "banner", "contentinfo", "search", "complementary"}
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS = _HEADINGS | set(
    "p div section article main header footer aside nav li ul ol dl dt dd table tr td th tbody"
    " thead tfoot caption blockquote pre center form fieldset figure figcaption address hr br"
    " details summary".split()
)

# Labels of a page's metadata box. Weak ones also occur in body text ("时间：6月1日上午"),
# so a line starting with one counts as metadata only when it carries a second label.
_STRONG_LABELS = (
    *("索引号", "发布机构", "发文机关", "发文单位", "发布单位", "成文日期", "发文日期", "发布日期"),
    *("发布时间", "印发日期", "生效日期", "实施日期", "施行日期", "失效日期", "废止日期", "文号"),
    *("发文字号", "文件编号", "有效性", "时效性", "效力状态", "主题分类", "内容分类", "体裁分类"),
    *("组配分类", "信息分类", "主题词", "公开方式", "公开范围", "公开时限", "信息来源"),
)
_WEAK_LABELS = ("来源", "作者", "时间", "日期", "分类", "标题", "名称", "关键词")
_NOISE_LABELS = (
    *("点击次数", "浏览次数", "阅读次数", "访问次数", "点击量", "浏览量", "阅读量", "访问量"),
    *("点击数", "浏览数", "阅读数", "字体", "字号", "分享到"),
)
_ALL_LABELS = (*_STRONG_LABELS, *_WEAK_LABELS, *_NOISE_LABELS)
_LABEL_ALT = "|".join(
    r"\s*".join(map(re.escape, label)) for label in sorted(_ALL_LABELS, key=len, reverse=True)
)
_LABEL = re.compile(rf"({_LABEL_ALT})\s*[:：]")
_META_START = re.compile(rf"^[\s【\[]*(?:{_LABEL_ALT})\s*[:：]")

_BREADCRUMB = re.compile(
    r"^[\s【\[]*(?:当前位置|您的位置|您现在的位置|您当前的位置|当前的位置|所在位置|现在位置)|^首页\s*[>›»/]"
)
_FOOTER = re.compile(
    r"版权所有|copyright|©|网站标识码|icp\s*备|icp证|公网安备|网站地图"
    r"|^(?:主办|承办)(?:单位)?\s*[:：].*(?:地址|邮编|承办|技术支持|维护)",
    re.I,
)
_TOOLBAR = re.compile(
    r"[【】\[\]|｜/]|打印本页|打印此页|打印|关闭本页|关闭窗口|关闭|返回顶部|返回首页|返回|收藏本页"
    r"|收藏|分享到?[:：]?|微信|微博|扫一扫|手机(?:查看|浏览)|字体[:：]?|字号[:：]?|[大中小]|\s"
)
_ATTACHMENT = re.compile(r"^(?:附件|附表)|\.(?:docx?|xlsx?|pdf|wps|ofd|zip|rar)$", re.I)
_NUMBERED = re.compile(r"^\d{1,2}\s*[.．、]")
_TITLE_SEP = re.compile(r"\s*(?:[_|｜]|(?<![\d—])[-–—](?![\d—]))\s*")


@dataclass
class _Item:
    kind: BlockKind
    text: str
    level: int | None = None  # headings: the tag's number (remapped later); lists: depth
    lead_in: str | None = None
    headers: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return _key("".join(self.cells) if self.cells else self.text)


def _key(text: str) -> str:
    """What is compared with trafilatura's lines: no spaces, no list/table markup."""
    return re.sub(r"[\s|｜\-*#>•·]+", "", text)


def _text(tag: Tag) -> str:
    """A heading's or cell's text: inline markup joins, <br> and nested blocks break lines."""
    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, CDATA, doctype
                parts.append(str(node))
        elif isinstance(node, Tag) and node.name in _BLOCK_TAGS:
            parts.append("\n")
    return squeeze("".join(parts))


def _meta_pairs(text: str) -> list[tuple[str, str]] | None:
    """The (label, value) pairs of a "索引号：… 发布机构：…" line, or None if it is not one."""
    if not _META_START.match(text):
        return None
    hits = list(_LABEL.finditer(text))
    first = re.sub(r"\s", "", hits[0].group(1))
    if len(hits) == 1 and (first in _WEAK_LABELS or len(text) > 50):
        return None
    pairs = []
    for i, hit in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(text)
        pairs.append((re.sub(r"\s", "", hit.group(1)), text[hit.end() : end]))
    return pairs


def _label_cell(text: str) -> str | None:
    """A metadata table's label cell ("索引号：", "文　号") → its label, else None."""
    label = re.sub(r"\s", "", text).rstrip(":：")
    if label in _ALL_LABELS or (text.rstrip().endswith((":", "：")) and 1 <= len(label) <= 10):
        return label
    return None


def _is_chrome(text: str) -> bool:
    if _BREADCRUMB.match(text) or (len(text) <= 150 and _FOOTER.search(text)):
        return True
    return not _TOOLBAR.sub("", text)


def _strip_chrome(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_DROP_ALWAYS):
        tag.decompose()
    body = soup.body or soup
    total = len(body.get_text())
    for el in body.find_all(True):
        if el.decomposed or el.attrs is None:
            continue
        names = " ".join(el.get("class") or []) + " " + str(el.get("id") or "")
        style = str(el.get("style") or "")
        if (
            el.name in _DROP_UNLESS_MAIN
            or _CHROME_NAME.search(names)
            or str(el.get("role") or "").lower() in _CHROME_ROLE
            or _HIDDEN.search(style)
            or el.has_attr("hidden")
        ) and not (el.find("h1") or len(el.get_text()) > 0.4 * total):
            el.decompose()


class _Walker:
    """Turns a cleaned DOM into items (one per block) and fields (the metadata it met)."""

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self.fields: dict[str, str] = {}
        self._buf: list[str] = []
        self._leads: list[str | None] = []  # one per open list
        self._in_li = 0

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):
                    self._buf.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name not in _BLOCK_TAGS:  # inline (span, a, strong, font, o:p …): same paragraph
                self.walk(child)
            elif name in ("br", "hr"):
                if self._in_li:
                    self._buf.append("\n")
                else:
                    self.flush()
            elif self._in_li and name not in ("ul", "ol", "li", "table"):
                self._buf.append("\n")  # a <p> inside an <li> stays in that item
                self.walk(child)
                self._buf.append("\n")
            else:
                self.flush()
                if name in _HEADINGS:
                    self._emit("heading", _text(child), level=int(name[1]))
                elif name in ("ul", "ol"):
                    self._list(child)
                elif name == "li":
                    self._in_li += 1
                    self.walk(child)
                    self.flush()
                    self._in_li -= 1
                elif name == "table":
                    self._table(child)
                else:
                    self.walk(child)
                    self.flush()

    def flush(self) -> None:
        text = squeeze("".join(self._buf))
        self._buf.clear()
        if self._in_li:
            lead = self._leads[-1] if self._leads else None
            self._emit("list_item", text, level=len(self._leads) or 1, lead_in=lead)
        else:
            self._emit("paragraph", text)

    def _emit(self, kind: BlockKind, text: str, **attrs) -> None:
        if not text:
            return
        if (pairs := _meta_pairs(text)) is not None:
            self._store(pairs)
        elif not _is_chrome(text):
            self.items.append(_Item(kind, text, **attrs))

    def _store(self, pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            value = squeeze(value).strip(" 【】[]|｜")
            if value and label not in _NOISE_LABELS:
                self.fields.setdefault(label, value)

    def _list(self, tag: Tag) -> None:
        last = self.items[-1].text if self.items else ""
        if last.endswith(("：", ":")):
            lead: str | None = last
        else:
            lead = self._leads[-1] if self._leads else None
        self._leads.append(lead)
        saved, self._in_li = self._in_li, 0
        self.walk(tag)
        self.flush()
        self._in_li = saved
        self._leads.pop()

    def _table(self, table: Tag) -> None:
        rows = [
            cells
            for tr in table.find_all("tr")
            if tr.find_parent("table") is table
            and (cells := tr.find_all(("td", "th"), recursive=False))
        ]
        texts = [[_text(c) for c in row] for row in rows]
        if (
            table.find("table")
            or max(map(len, rows), default=0) <= 1
            or any(len(t) > 300 for row in texts for t in row)
        ):
            self.walk(table)  # a layout table: its cells are ordinary blocks
            self.flush()
            return
        if self._meta_table(texts):
            return
        caption = table.find("caption")
        if caption and caption.find_parent("table") is table:
            self._emit("paragraph", _text(caption))
        headers: tuple[str, ...] = ()
        if len(rows) > 1:
            headers = tuple(_spread(rows[0], texts[0], repeat=True))
            rows, texts = rows[1:], texts[1:]
        for row, row_texts in zip(rows, texts, strict=True):
            cells = tuple(_spread(row, row_texts, repeat=False))
            if text := table_row_text(headers, cells):
                self.items.append(_Item("table_row", text, headers=headers, cells=cells))

    def _meta_table(self, texts: list[list[str]]) -> bool:
        """Read a metadata table (labels in several rows, or a one-row label strip) into fields."""
        labelled = [
            i
            for i, row in enumerate(texts)
            for t in row
            if re.sub(r"\s", "", t).rstrip(":：") in _ALL_LABELS or _meta_pairs(t)
        ]
        if len(labelled) < 2 or (len(set(labelled)) < 2 and len(texts) > 1):
            return False
        for row in texts:
            i = 0
            while i < len(row):
                pairs = _meta_pairs(row[i])
                if pairs and any(v.strip() for _, v in pairs):
                    self._store(pairs)
                elif (label := _label_cell(row[i])) and i + 1 < len(row):
                    self._store([(label, row[i + 1])])
                    i += 1
                i += 1
        return True


def _spread(cells: list[Tag], texts: list[str], *, repeat: bool) -> list[str]:
    """Cells laid out by colspan: a header repeats over its columns, a data cell is padded."""
    out: list[str] = []
    for cell, text in zip(cells, texts, strict=True):
        try:
            span = max(1, min(int(str(cell.get("colspan") or 1)), 50))
        except ValueError:
            span = 1
        out += [text] + [text if repeat else ""] * (span - 1)
    return out


def _extracted_keys(html: str) -> list[str]:
    """Trafilatura's main-content lines, as keys; [] when it finds nothing or fails."""
    try:
        import trafilatura

        out = trafilatura.extract(
            html,
            output_format="txt",
            include_tables=True,
            include_comments=False,
            favor_recall=True,
        )
    except Exception:  # a third-party extractor on hostile input: fall back, never crash
        return []
    return [k for line in (out or "").splitlines() if (k := _key(line))]


def _main_span(items: list[_Item], lines: list[str]) -> list[_Item]:
    """The items from the first to the last one trafilatura also extracted (see module doc)."""
    keys = [item.key for item in items]
    exact: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        exact.setdefault(k, []).append(i)
    hit: set[int] = set()
    for line in lines:
        if len(line) < 4:
            continue
        if line in exact:
            hit.update(exact[line])
        else:  # a table cell on its own line, or several blocks flattened into one line
            hit.update(i for i, k in enumerate(keys) if line in k or (len(k) >= 6 and k in line))
    if not hit or 2 * sum(map(len, lines)) < sum(map(len, keys)):
        return items
    start, end = min(hit), max(hit)
    while start > 0 and items[start - 1].kind == "heading":
        start -= 1
    attachments = False
    while end + 1 < len(items):
        text = items[end + 1].text
        if not (_ATTACHMENT.search(text) or (attachments and _NUMBERED.match(text))):
            break
        attachments, end = True, end + 1
    return items[start : end + 1]


def _heading_like(text: str) -> bool:
    return (
        4 <= len(text) <= 60
        and not text.endswith(("。", "；", ";", "：", ":", "，", ","))
        and not re.match(
            r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d+[.．、])", text
        )
    )


def _pick_title(
    soup: BeautifulSoup, kept: list[_Item], items: list[_Item], tab: str, meta: list[str]
) -> str | None:
    parts = [p for p in _TITLE_SEP.split(tab) if p]
    tab_title = max(parts, key=len) if parts else ""
    site_names = set(parts) - {tab_title}
    h1s = [it.text for it in (*kept, *items) if it.kind == "heading" and it.level == 1]
    classed = [
        _text(el)
        for el in soup.find_all(True)
        if re.search(r"title", " ".join(el.get("class") or []) + str(el.get("id") or ""), re.I)
    ]
    classed = [t for t in classed if 4 <= len(t) <= 100 and (not tab or t in tab)]
    first = kept[0].text if kept[0].kind == "heading" or _heading_like(kept[0].text) else ""
    for cand in (*h1s, *classed, *meta, first, tab_title):
        if cand and len(cand) <= 120 and cand not in site_names:
            return cand
    return None


def read_html(data: bytes, name: str) -> Parsed:
    """Read one HTML page: its article text as blocks, its metadata box as ``fields``."""
    html = decode_text(data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4's "looks like a URL/filename" on tiny inputs
        soup = BeautifulSoup(html, "lxml")
    tab_tag = soup.find("title")
    tab = squeeze(tab_tag.get_text()) if tab_tag else ""
    meta_tag = soup.find("meta", attrs={"name": re.compile(r"^articletitle$", re.I)})
    meta_title = squeeze(str(meta_tag.get("content") or "")) if isinstance(meta_tag, Tag) else ""

    _strip_chrome(soup)
    walker = _Walker()
    walker.walk(soup.body or soup)
    walker.flush()
    items = [it for it in walker.items if re.search(r"\w", it.text)]  # not just "——" or "***"
    if not items:
        raise LoadError(name, "没有可提取的文字")
    kept = _main_span(items, _extracted_keys(html))

    meta = [meta_title, walker.fields.get("标题", "")]
    title = _pick_title(soup, kept, items, tab, meta)
    ranks = {
        lv: i + 1
        for i, lv in enumerate(sorted({it.level or 1 for it in kept if it.kind == "heading"}))
    }
    builder = TextBuilder()
    for it in kept:
        level = ranks[it.level or 1] if it.kind == "heading" else it.level
        builder.add(
            it.kind, it.text, level=level, lead_in=it.lead_in, headers=it.headers, cells=it.cells
        )
    return Parsed.from_builder(builder, fields=walker.fields, title=title)
