"""Scanned pages made here: a document's blocks laid out on A4 with a CJK font (Pillow), as page
images, an image-only PDF (no text layer) or a PNG, plus the exact text drawn on each page.

Used by ``tests/ingest/test_ocr.py`` and by ``evals/bench.py``. The font is Noto Serif CJK SC
(Debian ``fonts-noto-cjk``, which ``.ci/run`` installs), or WenQuanYi Micro Hei
(``fonts-wqy-microhei``) where Noto is missing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"),
)
A4_INCHES = (8.27, 11.69)


def cjk_font_path() -> tuple[str, int]:
    """(path, face index) of the first installed CJK font; fails loudly when there is none."""
    for path, family in FONTS:
        if not Path(path).is_file():
            continue
        for index in range(16):
            try:
                face = ImageFont.truetype(path, 12, index=index)
            except OSError:
                break
            if face.getname()[0] == family:
                return path, index
    raise RuntimeError(
        "no CJK font for the scan fixtures: apt-get install -y fonts-noto-cjk "
        "(or fonts-wqy-microhei)"
    )


@dataclass
class Page:
    image: Image.Image
    lines: list[str] = field(default_factory=list)  # the text drawn, top to bottom

    @property
    def text(self) -> str:
        return "".join("".join(line.split()) for line in self.lines)


def layout(
    items: list[tuple[str, object]],
    *,
    dpi: int = 150,
    body_pt: float = 12,
    footer: str | None = "- {n} -",
    max_pages: int | None = None,
) -> list[Page]:
    """Lay ``items`` — ("title", text) centred at 1.5× size, ("para", text) wrapped with a
    two-character indent, ("table", rows of cells) ruled, one line per cell — over A4 pages;
    ``footer`` ({n} = page number) at the bottom."""
    path, index = cjk_font_path()
    px = dpi / 72
    body = ImageFont.truetype(path, round(body_pt * px), index=index)
    big = ImageFont.truetype(path, round(body_pt * 1.5 * px), index=index)
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    left, right, top, bottom = round(dpi), width - round(dpi), round(dpi), height - round(dpi)
    pages: list[Page] = []

    def new_page() -> tuple[Page, ImageDraw.ImageDraw]:
        page = Page(Image.new("L", (width, height), 255))
        pages.append(page)
        return page, ImageDraw.Draw(page.image)

    page, draw = new_page()
    y = top
    for kind, text in items:
        if kind == "table":  # a ruled table of one-line cells, kept on one page
            rows = text
            pad = round(0.6 * body.size)
            widths = [
                max(draw.textlength(r[i], font=body) for r in rows) + 2 * pad
                for i in range(len(rows[0]))
            ]
            step = round(body.size * 2.2)
            if y + step * len(rows) > bottom:
                page, draw = new_page()
                y = top
            x_edges = [left + sum(widths[:i]) for i in range(len(widths) + 1)]
            for row in rows:
                for i, cell in enumerate(row):
                    draw.text(
                        (x_edges[i] + pad, y + (step - body.size) // 2), cell, font=body, fill=0
                    )
                draw.line([(x_edges[0], y), (x_edges[-1], y)], fill=0, width=2)
                page.lines.append("".join(row))
                y += step
            draw.line([(x_edges[0], y), (x_edges[-1], y)], fill=0, width=2)
            top_y = y - step * len(rows)
            for x in x_edges:
                draw.line([(x, top_y), (x, y)], fill=0, width=2)
            y += step // 2
            continue
        font = big if kind == "title" else body
        step = round(font.size * 1.75)
        lines: list[str] = []
        cur = "\u3000\u3000" if kind == "para" else ""
        for ch in text:
            if cur.strip() and draw.textlength(cur + ch, font=font) > right - left:
                lines.append(cur)
                cur = ""
            cur += ch
        lines.append(cur)
        for line in lines:
            if y + step > bottom:
                if max_pages and len(pages) >= max_pages:
                    return _finish(pages, footer, body, width, height, dpi)
                page, draw = new_page()
                y = top
            x = left
            if kind == "title":
                x = left + (right - left - draw.textlength(line, font=font)) / 2
            draw.text((x, y), line, font=font, fill=0)
            page.lines.append(line)
            y += step
    return _finish(pages, footer, body, width, height, dpi)


def _finish(pages, footer, font, width, height, dpi) -> list[Page]:
    for n, page in enumerate(pages, 1):
        if footer:
            draw = ImageDraw.Draw(page.image)
            text = footer.format(n=n)
            x = (width - draw.textlength(text, font=font)) / 2
            draw.text((x, height - round(0.7 * dpi)), text, font=font, fill=0)
    return pages


def items_of(document) -> list[tuple[str, str]]:
    """A loaded document's blocks as layout items (headings as titles)."""
    return [
        ("title" if b.kind == "heading" else "para", document.block_text(b))
        for b in document.blocks
        if b.kind != "metadata"
    ]


def image_pdf(images: list[Image.Image], dpi: int = 150) -> bytes:
    """An image-only PDF: one page per image, no text layer."""
    buf = io.BytesIO()
    first, *rest = [im.convert("RGB") for im in images]
    first.save(buf, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return buf.getvalue()


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _last_row(a: str, b: str, free_start: bool) -> np.ndarray:
    """The last row of the Levenshtein table of ``a`` against ``b``: entry j is the distance
    from all of ``a`` to ``b[:j]`` (to any stretch of ``b`` ending at j when ``free_start``).
    One numpy pass per character of ``a``; insertions are a running minimum."""
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    prev = np.zeros(len(b) + 1, dtype=np.int64) if free_start else steps.copy()
    for i, ch in enumerate(a, 1):
        cost = (codes != ord(ch)).astype(np.int64)
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(cur - steps) + steps
    return prev


def char_accuracy(got: str, want: str) -> float:
    """1 − Levenshtein distance / len(want), whitespace ignored on both sides."""
    a, b = "".join(got.split()), "".join(want.split())
    return 1 - int(_last_row(a, b, free_start=False)[-1]) / max(1, len(b))


def match_distance(got: str, source: str) -> int:
    """Edit distance from ``got`` to its best-matching stretch of ``source`` (whitespace
    ignored): how far a chunk is from the text it was read from."""
    a, b = "".join(got.split()), "".join(source.split())
    return int(_last_row(a, b, free_start=True).min())
