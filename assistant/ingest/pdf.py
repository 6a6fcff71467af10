"""Read a PDF's text layer into paragraphs: running headers, footers and page numbers removed,
wrapped lines rejoined, each paragraph a ``Block`` with the page it starts on.

Lines come from pypdf's ``extract_text()``; a visitor records each line's font size (the Tf
size scaled by the text and graphics matrices), which tells title lines from body text.

Page chrome. Only lines at the edges of a page (its first and last ``EDGE`` lines in reading
order) can be chrome. An edge line is dropped when the same line, with digits masked and at the
same size, sits at the edge of at least two pages (and of at least 30% of them), so "— 第 2 页
共 3 页 —" matches "— 第 3 页 共 3 页 —" and a running header matches itself; or when it is a
bare page number ("- 2 -", "第2页", "第 1 页 共 1 页", "2/9", "Page 2 of 9"), which also covers
one-page documents. Size is part of the key, so a title that reappears as a smaller running
header on later pages keeps its first-page line.

Reflow. Lines of all pages, chrome removed, are read as one stream, so a paragraph crosses page
breaks freely and takes the page of its first line. Between two lines the paragraph ends when:
- their font sizes differ (a title against body text) — unless the first is a full body line
  stopping mid-sentence, which wraps into the next whatever size that one is read at (pypdf
  can misread the first line of a page, after its running header);
- the next line opens a numbered unit: 第X章/节/条 followed by a space, 一、, （一）/(一),
  1. / 1、, （1）, ①, 问：/答：;
- the line ends with 。！？ (closing quotes or brackets may follow);
- it ends with ；：or an ASCII . ; : ! ? and is visibly shorter than a full line (a full line
  may just have wrapped there);
- either line is title-like: much shorter than a full line and free of sentence punctuation
  (a centred heading, a document number, a signature, a date).
Consecutive lines in the same larger-than-body font are one title wrapped over several lines.
Joined lines get no space between them, except between two Latin or digit characters.

Line widths are estimated from the characters (a CJK or full-width character is one em, anything
else half an em) times the font size; "a full line" is the 90th percentile of body lines.

Scanned pages. A page whose text layer has fewer than ``MIN_TEXT_CHARS`` characters and whose
images cover at least ``MIN_IMAGE_COVER`` of it is a scan: with OCR on (``PA_OCR``, see
``assistant.ingest.ocr``) it is rendered with pypdfium2 and recognised, and its lines join the
same stream as text lines. OCR lines also know their indent and slack (em from the text margins),
so in them a paragraph also starts at an indented line and ends at a line that stops well short
of the right margin, and a run of rows split into aligned cells is a table; their sizes (width
per em, a little different on every line) are snapped to a few levels, so that body text is one
size and titles another. With OCR off an image-only PDF is rejected as needing OCR.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from assistant.errors import LoadError
from assistant.ingest.blocks import Parsed, TextBuilder, table_row_text

ENCRYPTED = "PDF 已加密，无法读取（请提供未加密的版本）"
NO_TEXT = "PDF 没有文字层（可能是扫描件），需要 OCR 识别后才能收录"
OCR_OFF = "（OCR 已关闭：PA_OCR=off）"
OCR_EMPTY = "PDF 是扫描件，但 OCR 没有识别出文字（空白页或图像过于模糊）"
MIN_TEXT_CHARS = 20  # a page with fewer characters in its text layer may be a scan
MIN_IMAGE_COVER = 0.3  # ... when images cover this share of it

EDGE = 3  # lines at the top and at the bottom of a page that may be header or footer
HARD_END = "。！？"
SOFT_END = "；：.;:!?"
CLOSERS = "”’」』）)》】〕\"'"
_CN_NUM = "一二三四五六七八九十百千零〇两"

_NUMBERED = re.compile(
    rf"^(?:第[{_CN_NUM}\d]+[编章节条款](?:\s|$)"
    rf"|[{_CN_NUM}]+[、．.]"
    rf"|[（(][{_CN_NUM}]+[）)]"
    r"|\d{1,2}(?:[、．]|\.(?!\d))"
    r"|[（(]\d{1,2}[）)]"
    r"|[①-⑳]"
    r"|[问答]\s*\d*\s*[:：])"
)
_DASHES = r"[\s\-—–－―‐·•|]*"
_PAGE_NO = re.compile(
    rf"^{_DASHES}(?:第\s*[\d{_CN_NUM}]+\s*页(?:\s*[,，/／]?\s*共\s*\d+\s*页)?"
    r"|共\s*\d+\s*页\s*[,，]?\s*第\s*\d+\s*页"
    r"|page\s*\d+(?:\s*(?:of|/)\s*\d+)?"
    rf"|\d+(?:\s*[/／]\s*\d+)?){_DASHES}$",
    re.IGNORECASE,
)
_SENTENCE_PUNCT = re.compile(r"[，。；！？,;!?]")
_DOC_TYPE = re.compile(
    r"(办法|规定|细则|通知|意见|方案|决定|公告|通告|指南|要点|条例|规划|措施|政策|解读|批复|计划|制度|规则|纲要)$"
)


@dataclass
class Line:
    text: str
    size: float  # effective font size in points; 1.0 when unknown
    page: int  # 1-based
    # OCR lines only: em from the page's left text margin to the line's start, and from its end
    # to the right margin; and whether the recogniser was unsure of it
    indent: float | None = None
    slack: float | None = None
    low: bool = False
    cells: tuple[str, ...] = ()  # a scanned table row's cells (its run's first row: the headers)


def read_pdf(data: bytes, name: str) -> Parsed:
    """Parse a PDF into paragraph blocks (title lines as level-1 headings); scanned pages are
    recognised by OCR when it is on."""
    from assistant.ingest.ocr import current_options

    pages, meta_title = _extract(data, name)
    scanned = _scanned_pages(data, pages)
    options = current_options()
    if scanned and options.enabled:
        for number, lines in _ocr(data, name, scanned, options).items():
            pages[number - 1] = lines
        empty = OCR_EMPTY if len(scanned) == len(pages) else NO_TEXT
    else:
        empty = NO_TEXT + (OCR_OFF if scanned else "")
    return parse_lines(pages, meta_title, name, empty)


def parse_lines(
    pages: list[list[Line]], meta_title: str | None, name: str, empty: str = NO_TEXT
) -> Parsed:
    """Pages of lines (text layer or OCR) → paragraph blocks; ``LoadError(empty)`` if none."""
    _snap_sizes([line for page in pages for line in page if line.indent is not None])
    lines = _strip_chrome(pages)
    if not lines:
        raise LoadError(name, empty)
    builder = TextBuilder()
    headings: list[str] = []
    headers: tuple[str, ...] = ()
    for para, is_title in _reflow(lines):
        text = _join(para)
        flags = {"page": para[0].page, "low_confidence": any(line.low for line in para)}
        cells = para[0].cells
        if cells and len(cells) == len(headers):
            row = table_row_text(headers, cells)
            builder.add("table_row", row, headers=headers, cells=cells, **flags)
            continue
        headers = cells  # a table's first row (kept as a paragraph), or no table
        if is_title:
            block = builder.add("heading", text, level=1, **flags)
            if block is not None:
                headings.append(builder.text[block.start : block.end])
        else:
            builder.add("paragraph", text, **flags)
    if not builder.blocks:
        raise LoadError(name, empty)
    parsed = Parsed.from_builder(builder)
    parsed.title = _pick_title(headings, meta_title, parsed)
    return parsed


# --- scanned pages ----------------------------------------------------------------------------


def _scanned_pages(data: bytes, pages: list[list[Line]]) -> list[int]:
    """1-based numbers of the pages that are images of text: (almost) no text layer, mostly
    covered by images. Pages with neither text nor images are blank, not scans."""
    candidates = [
        n
        for n, page in enumerate(pages, 1)
        if sum(len("".join(line.text.split())) for line in page) < MIN_TEXT_CHARS
    ]
    if not candidates:
        return []
    try:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        doc = pdfium.PdfDocument(data)
    except Exception:  # pypdf read it, pdfium cannot (or is missing): no page is taken for a scan
        return []
    scanned = []
    try:
        for n in candidates:
            page = doc[n - 1]
            width, height = page.get_size()
            covered = 0.0
            for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
                left, bottom, right, top = obj.get_bounds()
                w = max(0.0, min(right, width) - max(left, 0.0))
                h = max(0.0, min(top, height) - max(bottom, 0.0))
                covered += w * h
            if width * height and covered / (width * height) >= MIN_IMAGE_COVER:
                scanned.append(n)
    finally:
        doc.close()
    return scanned


def _ocr(data: bytes, name: str, numbers: list[int], options) -> dict[int, list[Line]]:
    import pypdfium2 as pdfium

    from assistant.ingest.ocr import LONG_SIDE, read_pages

    try:
        doc = pdfium.PdfDocument(data)
    except Exception as exc:
        raise LoadError(name, f"PDF 页面无法渲染（{type(exc).__name__}）") from exc
    try:

        def renderer(n: int):
            def render():
                page = doc[n - 1]
                scale = LONG_SIDE / max(page.get_size())
                return page.render(scale=scale, grayscale=True).to_pil()

            return render

        jobs = ((n, renderer(n), max(doc[n - 1].get_size())) for n in numbers)
        return read_pages(jobs, len(numbers), name, options)
    finally:
        doc.close()


def _snap_sizes(lines: list[Line]) -> None:
    """OCR sizes are measured per line and differ a little on every one: sizes that follow each
    other within 8% form one level (its median), so body text is one size and titles another."""
    if not lines:
        return
    ordered = sorted(lines, key=lambda line: line.size)
    groups: list[list[Line]] = [[ordered[0]]]
    for prev, line in zip(ordered, ordered[1:], strict=False):
        if line.size > prev.size * 1.08:
            groups.append([])
        groups[-1].append(line)
    for group in groups:
        level = group[len(group) // 2].size
        for line in group:
            line.size = level


# --- extraction -------------------------------------------------------------------------------


def _extract(data: bytes, name: str) -> tuple[list[list[Line]], str | None]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password still allows reading; anything else we cannot open.
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise LoadError(name, ENCRYPTED) from exc
            if not opened:
                raise LoadError(name, ENCRYPTED)
        pages = [_page_lines(page, n) for n, page in enumerate(reader.pages, 1)]
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises a wide range of types on hostile input
        raise LoadError(name, f"PDF 文件损坏或格式不正确（{type(exc).__name__}）") from exc
    return pages, _meta_title(reader)


def _page_lines(page, number: int) -> list[Line]:
    """The page's non-empty lines with the dominant font size of each."""
    lines: list[Line] = []
    chunks: list[str] = []
    parts: list[str] = []
    sizes: Counter[float] = Counter()

    def close() -> None:
        text = "".join(parts).strip()
        if text:
            lines.append(Line(text, sizes.most_common(1)[0][0] if sizes else 1.0, number))
        parts.clear()
        sizes.clear()

    def visit(text: str, cm, tm, font_dict, font_size) -> None:
        chunks.append(text)
        size = _effective_size(font_size, cm, tm)
        for i, segment in enumerate(text.split("\n")):
            if i:
                close()
            parts.append(segment)
            if segment.strip() and size:
                sizes[size] += len(segment.strip())

    result = page.extract_text(visitor_text=visit) or ""
    close()
    if "".join(chunks) != result:  # the visitor missed something: keep the text, lose sizes
        lines = [Line(t.strip(), 1.0, number) for t in result.splitlines() if t.strip()]
    return lines


def _effective_size(font_size, cm, tm) -> float:
    try:
        det = (tm[0] * tm[3] - tm[1] * tm[2]) * (cm[0] * cm[3] - cm[1] * cm[2])
        return round(float(font_size) * math.sqrt(abs(det)), 1)
    except (TypeError, ValueError, IndexError):
        return 0.0


def _meta_title(reader) -> str | None:
    try:
        raw = (reader.metadata or {}).get("/Title")
    except Exception:  # a broken info dictionary is no reason to reject the text
        return None
    title = " ".join(str(raw or "").split())
    junk = re.search(r"(?i)^(untitled|无标题|microsoft\s+word)|\.(docx?|wps|pdf|txt)$", title)
    if not title or junk or not re.search(r"[\u4e00-\u9fff]", title):
        return None
    return title


# --- page chrome ------------------------------------------------------------------------------


def _chrome_key(line: Line) -> tuple[str, int]:
    return re.sub(r"\d+", "#", "".join(line.text.split())), round(line.size)


def _strip_chrome(pages: list[list[Line]]) -> list[Line]:
    """All pages' lines in order, without running headers, footers and page numbers."""
    seen: Counter[tuple[str, int]] = Counter()
    for page in pages:
        seen.update({_chrome_key(line) for line in page[:EDGE] + page[-EDGE:]})
    need = max(2, math.ceil(0.3 * len(pages)))
    repeated = {key for key, count in seen.items() if count >= need}

    def is_chrome(line: Line) -> bool:
        return _chrome_key(line) in repeated or bool(_PAGE_NO.match(line.text))

    kept: list[Line] = []
    for page in pages:
        lo, hi = 0, len(page)
        while lo < min(hi, EDGE) and is_chrome(page[lo]):
            lo += 1
        while hi > max(lo, len(page) - EDGE) and is_chrome(page[hi - 1]):
            hi -= 1
        kept.extend(page[lo:hi])
    return kept


# --- reflow -----------------------------------------------------------------------------------


def _em(text: str) -> float:
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.5 for ch in text)


def _ends_with(text: str, chars: str) -> bool:
    text = text.rstrip(CLOSERS)
    return bool(text) and text[-1] in chars


def _reflow(lines: list[Line]) -> list[tuple[list[Line], bool]]:
    """Group lines into paragraphs; each comes with whether it is a title (big, unnumbered)."""
    weights: Counter[float] = Counter()
    for line in lines:
        weights[line.size] += len(line.text)
    body = weights.most_common(1)[0][0]
    widths = sorted(_em(line.text) * line.size for line in lines if line.size == body)
    measure = widths[round(0.9 * (len(widths) - 1))]

    def width(line: Line) -> float:
        return _em(line.text) * line.size

    def big(line: Line) -> bool:
        return line.size >= body * 1.15

    def title_like(line: Line) -> bool:
        return (
            width(line) <= 0.75 * measure
            and not _SENTENCE_PUNCT.search(line.text)
            and line.text[-1] not in "、：:"
        )

    def wraps(a: Line, b: Line) -> bool:
        """A full body line stopping mid-sentence goes on in the next line, even when that
        line's size is misread smaller (the first line of a page, after its running header)."""
        return (
            a.size == body
            and b.size <= body
            and width(a) > 0.75 * measure  # not title-like: a heading is shorter
            and not _ends_with(a.text, HARD_END + SOFT_END)
            and not _NUMBERED.match(b.text)
        )

    def ends_paragraph(a: Line, b: Line) -> bool:
        if a.cells or b.cells:
            return True  # a table row is a block of its own
        if wraps(a, b):
            return False
        if abs(a.size - b.size) > 0.1 * max(a.size, b.size):
            return True
        if _NUMBERED.match(b.text) or _ends_with(a.text, HARD_END):
            return True
        if big(a) and big(b):
            return False  # one title wrapped over several lines
        if b.indent is not None and b.indent >= 1.5:
            return True  # a scanned paragraph's indented first line
        if a.slack is not None and a.slack >= 2:
            return True  # a scanned line that stops well short of the margin ends its paragraph
        if _ends_with(a.text, SOFT_END) and width(a) < measure - 2 * a.size:
            return True
        return title_like(a) or title_like(b)

    paragraphs: list[list[Line]] = [[lines[0]]]
    for prev, line in zip(lines, lines[1:], strict=False):
        if ends_paragraph(prev, line):
            paragraphs.append([])
        paragraphs[-1].append(line)
    return [(p, big(p[0]) and not _NUMBERED.match(p[0].text)) for p in paragraphs]


def _join(lines: list[Line]) -> str:
    """Rejoin wrapped lines: no space in Chinese, one space between Latin/digit words."""
    out = lines[0].text
    for line in lines[1:]:
        a, b = out[-1], line.text[0]
        latin = a.isascii() and b.isascii() and b.isalnum()
        out += (" " if latin and (a.isalnum() or a in ",.;:!?)%") else "") + line.text
    return out


# --- title ------------------------------------------------------------------------------------


def _pick_title(headings: list[str], meta_title: str | None, parsed: Parsed) -> str | None:
    """The document's own title: a title line (the one the metadata names, or the document a
    印发/转发 notice carries, or the first); failing that a metadata title found in the text, or
    an early standalone line ending in a document type (办法, 通知 …). None if unsure."""

    def norm(s: str) -> str:
        return "".join(s.split())

    if headings:
        by_norm = {norm(h): h for h in headings}
        if meta_title and norm(meta_title) in by_norm:
            return by_norm[norm(meta_title)]
        for heading in headings:
            carried = re.search(r"(?:印发|转发|公布)《(.+?)》", heading)
            if carried and norm(carried.group(1)) in by_norm:
                return by_norm[norm(carried.group(1))]
        return headings[0]
    if meta_title and norm(meta_title) in norm(parsed.text):
        return meta_title
    for block in parsed.blocks[:5]:
        text = parsed.text[block.start : block.end]
        if len(text) <= 40 and not _SENTENCE_PUNCT.search(text) and _DOC_TYPE.search(text):
            return text
    return None
