"""Offline OCR of scanned pages into the lines the PDF reader reflows.

Engine: ``rapidocr-onnxruntime`` — PP-OCRv4 Chinese detection and recognition and the
text-direction classifier, as ONNX models inside its wheel (nothing is downloaded), run on
onnxruntime with half the machine's cores, so a server indexing a scan keeps a core for
answering. One recognition at a time per process (a lock); results are cached by the page's
pixels, in memory and, when ``OcrOptions.cache_dir`` is set, on disk — a rebuild re-reads every
file, and a 30-page scan should be recognised once.

A page: grey, contrast stretched, scaled to ``LONG_SIDE`` px → orientation (text boxes mostly
tall: turn the page a quarter; lines mostly upside down: turn it half) → detection → crops →
direction classifier → recognition (text, mean and per-character confidence) → boxes on one row
merged into a line, left to right (a wide gap becomes a space), two-column pages read column by
column → each line with its size (box width per em of text), its indent and its slack (em from
the page's left and right text margins), which the reflow uses to find paragraph starts and
ends. Runs of rows split into the same aligned cells are a table (the first row its headers).
The recogniser's usual confusions in Chinese text are undone: half-width punctuation next to
Chinese, 文号 brackets ([2025] → 〔2025〕), a label glued to its article (第一条为 → 第一条 为).

Confidence. A line whose mean confidence is below ``LOW_CONFIDENCE`` or one of whose characters
is below ``LOW_CHAR`` is kept and marked ``low``; the blocks made of it carry
``low_confidence``. Lines below ``DROP`` are noise and left out, but counted: a page is
unreadable — ``UnreadablePage``, which the readers turn into a ``LoadError`` naming the file
and page — when it shows text boxes yet less than ``MIN_CONFIDENT_SHARE`` of what was
recognised is confident, so garbage is never indexed silently.

Options reach the readers through a context variable, since ``load_bytes(data, name)`` is
called from many places: ``with ocr_options(OcrOptions.from_settings(settings, progress=cb)):``.
Outside such a block OCR follows ``PA_OCR`` (``get_settings().ocr``), without progress and
with the in-memory cache only.

Progress: ``ProgressFn = Callable[[str, int, int], None]``, called as ``progress(name, done,
total)`` with the file's name, the pages recognised so far and the pages to recognise: once
with ``done == 0`` before the first page, then after every page. An exception raised by the
callback (a cancelled upload) stops the work and propagates unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ProgressFn = Callable[[str, int, int], None]

LONG_SIDE = 2000  # px: an A4 page at ~170 dpi, 12pt text ~28 px high
LOW_CONFIDENCE = 0.85  # a line's mean character confidence below this is marked low
LOW_CHAR = 0.5  # ... and so is a line with any character below this
DROP = 0.5  # lines below this mean confidence are noise (counted, not kept)
MIN_CONFIDENT_SHARE = 0.8  # of recognised characters, at least this share must be confident
CELL_GAP = 1.0  # em of blank between two boxes of a row that makes them two table cells
TABLE_ROWS = 3  # a table: its header row and at least two rows of cells
MIN_COLUMN_LINES = 6  # lines on each side of a gutter that make a page two-column
MAX_ASPECT = 4.0  # long side / short side of a page image (A4 is 1.41)
ENGINE_ID = "rapidocr-onnxruntime-1.4/ppocrv4/v1"  # part of every cache key

UNAVAILABLE = (
    "OCR 组件不可用（{detail}），无法识别扫描件；请安装 rapidocr-onnxruntime 或设置 PA_OCR=off"
)
UNREADABLE = (
    "第{page}页扫描图像无法可靠识别（可信文字仅占 {share:.0%}），"
    "为避免收录错误内容已跳过；请提供更清晰的扫描件或带文字层的版本"
)


class UnreadablePage(Exception):
    """A page that shows text but cannot be recognised reliably."""

    def __init__(self, page: int, share: float):
        self.page = page
        self.share = share
        super().__init__(UNREADABLE.format(page=page, share=share))


class OcrUnavailable(Exception):
    pass


class OddShape(Exception):
    """An image too elongated to be a page (the detector would scale it to a huge size)."""

    def __init__(self, width: int, height: int):
        self.size = (width, height)
        super().__init__(f"{width}×{height} 像素")


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrOptions:
    enabled: bool = True
    progress: ProgressFn | None = None
    cache_dir: Path | None = None  # on-disk page cache (e.g. ``index/ocr-cache``)

    @classmethod
    def from_settings(cls, settings, progress: ProgressFn | None = None) -> OcrOptions:
        return cls(
            enabled=settings.ocr,
            progress=progress,
            cache_dir=Path(settings.index_dir) / "ocr-cache",
        )


_OPTIONS: ContextVar[OcrOptions | None] = ContextVar("ocr_options", default=None)


@contextmanager
def ocr_options(options: OcrOptions) -> Iterator[OcrOptions]:
    """Use ``options`` for every PDF or image read inside the block (this thread/task)."""
    token = _OPTIONS.set(options)
    try:
        yield options
    finally:
        _OPTIONS.reset(token)


def current_options() -> OcrOptions:
    options = _OPTIONS.get()
    if options is None:
        from assistant.config import get_settings

        options = OcrOptions(enabled=get_settings().ocr)
    return options


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrLine:
    """One visual line of a page, in pixels of the normalised page image."""

    text: str
    score: float  # mean character confidence
    low: bool  # marked low-confidence (kept)
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class OcrPage:
    lines: list[OcrLine]
    width: int
    height: int
    confident_share: float  # share of recognised characters that are confident
    rotated: int = 0  # degrees the page was turned (counter-clockwise) to read it

    def to_json(self) -> dict:
        return {**asdict(self), "lines": [asdict(line) for line in self.lines]}

    @classmethod
    def from_json(cls, data: dict) -> OcrPage:
        return cls(**{**data, "lines": [OcrLine(**line) for line in data["lines"]]})


# --- engine -----------------------------------------------------------------------------------


class _Engine:
    """rapidocr's detector, direction classifier and recogniser, driven step by step so the
    page orientation can be decided before recognition and per-character confidence kept."""

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except Exception as exc:  # ImportError, or OpenCV missing a system library
            raise OcrUnavailable(f"{type(exc).__name__}: {exc}") from exc
        threads = max(1, (os.cpu_count() or 2) // 2)
        try:
            self.ocr = RapidOCR(
                text_score=0.0,
                rec_batch_num=1,  # no padding to the widest line of a batch: faster on CPU
                intra_op_num_threads=threads,
                inter_op_num_threads=1,
            )
        except Exception as exc:  # a model file missing from the installed wheel
            raise OcrUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _detect(self, img: np.ndarray) -> list[np.ndarray]:
        boxes, _ = self.ocr.text_det(img)
        if boxes is None or len(boxes) == 0:
            return []
        return self.ocr.sorted_boxes(boxes)

    def read(self, gray: np.ndarray) -> OcrPage:
        img = np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
        rotated = 0
        for attempt in range(3):
            boxes = self._detect(img)
            if not boxes:
                return OcrPage([], img.shape[1], img.shape[0], 1.0, rotated)
            crops = self.ocr.get_crop_img_list(img, boxes)
            crops, cls, _ = self.ocr.text_cls(crops)
            tall = _share(boxes, lambda b: _side(b, 3) > 1.5 * _side(b, 1))
            flipped = _share(cls, lambda c: c[0] == "180" and c[1] > 0.9)
            if tall > 0.5:  # text runs vertically: the page lies on its side
                turn = 90 if flipped > 0.5 else 270
            elif flipped > 0.5 and len(boxes) >= 3:  # upside down
                turn = 180
            else:
                break
            if attempt == 2:
                break  # no orientation reads upright: recognise as it is, the check decides
            img = np.ascontiguousarray(np.rot90(img, k=turn // 90))
            rotated = (rotated + turn) % 360
        results, _ = self.ocr.text_rec(crops, True)
        lines: list[OcrLine] = []
        good = total = 0
        for box, (text, score, info) in zip(boxes, results, strict=True):
            text = text.strip()
            n = len(text.replace(" ", ""))
            if not n:
                continue
            chars = [float(c) for c in (info[4] if len(info) > 4 else [score])]
            total += n
            if score < DROP:
                continue
            low = score < LOW_CONFIDENCE or min(chars) < LOW_CHAR
            if not low:
                good += n
            xs, ys = box[:, 0], box[:, 1]
            lines.append(
                OcrLine(
                    text,
                    round(float(score), 4),
                    low,
                    float(xs.min()),
                    float(ys.min()),
                    float(xs.max()),
                    float(ys.max()),
                )
            )
        share = good / total if total else 1.0
        return OcrPage(lines, img.shape[1], img.shape[0], round(share, 4), rotated)


def _side(box: np.ndarray, i: int) -> float:
    return float(np.linalg.norm(box[i] - box[0]))


def _share(items, pred) -> float:
    return sum(1 for x in items if pred(x)) / max(1, len(items))


_engine: _Engine | None = None
_engine_lock = threading.Lock()  # one recognition at a time: the cores stay for answering
_lock = threading.Lock()  # the in-memory cache
_memory: OrderedDict[str, OcrPage] = OrderedDict()
_MEMORY_PAGES = 512


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def normalise(image) -> np.ndarray:
    """A PIL image → grey uint8, contrast stretched (faint scans), long side ``LONG_SIDE``."""
    from PIL import Image, ImageOps

    gray = ImageOps.exif_transpose(image).convert("L")
    gray = ImageOps.autocontrast(gray, cutoff=(0.5, 0.5))
    scale = LONG_SIDE / max(gray.size)
    if abs(scale - 1) > 0.02:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(gray)


def recognise(image, options: OcrOptions | None = None) -> OcrPage:
    """OCR one page image (a PIL image). Raises ``OcrUnavailable`` when the engine cannot run,
    ``OddShape`` for an image too elongated to be a page."""
    if max(image.size) > MAX_ASPECT * max(1, min(image.size)):
        raise OddShape(*image.size)
    gray = normalise(image)
    key = hashlib.sha256(ENGINE_ID.encode() + str(gray.shape).encode() + gray.tobytes()).hexdigest()
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    cache = (options.cache_dir / f"{key}.json") if options and options.cache_dir else None
    page: OcrPage | None = None
    if cache and cache.is_file():
        try:
            page = OcrPage.from_json(json.loads(cache.read_text("utf-8")))
        except (ValueError, TypeError, KeyError):
            page = None  # a torn or stale entry: recognise again
    if page is None and int(gray.max()) - int(gray.min()) < 16:
        page = OcrPage([], gray.shape[1], gray.shape[0], 1.0)  # a blank page: nothing to read
    if page is None:
        with _engine_lock:
            page = _get_engine().read(gray)
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(page.to_json(), ensure_ascii=False), "utf-8")
            tmp.replace(cache)
    with _lock:
        _memory[key] = page
        while len(_memory) > _MEMORY_PAGES:
            _memory.popitem(last=False)
    return page


# --- page → lines -----------------------------------------------------------------------------

_LABEL_GLUED = re.compile(r"^(第[一二三四五六七八九十百零〇两\d]+[编章节条])(?=[\u4e00-\u9fff])")
# 文号 year brackets are 〔〕 (GB/T 9704); the recogniser often reads them as [ ] 【 】 ( )
# ASCII punctuation touching Chinese is the full-width mark misread (Chinese text uses only those)
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_HALF_PUNCT = re.compile(rf"(?<=[{_CJK}])[,:;?!()]|[,:;?!()](?=[{_CJK}])")
_FULL = dict(zip(",:;?!()", "，：；？！（）", strict=True))
_DOC_NO_YEAR = re.compile(r"[\[［〔【(（]\s*((?:19|20)\d{2})\s*[\]］〕】)）](?=\s*\d+\s*号)")


def page_lines(page: OcrPage, number: int, page_pts: float | None = None) -> list:
    """``page``'s lines as reflow ``Line``s (reading order, sizes in points), or raise
    ``UnreadablePage``. ``page_pts`` is the page's long side in points (A4 when unknown)."""
    from assistant.ingest.pdf import Line

    if page.lines and page.confident_share < MIN_CONFIDENT_SHARE:
        raise UnreadablePage(number, page.confident_share)
    pt = (page_pts or 842.0) / max(page.width, page.height)  # points per pixel
    rows = _columns(_rows(page.lines))
    body = [r for r in rows if len(r) == 1] or rows
    lefts = sorted(r[0].x0 for r in body)
    rights = sorted(r[-1].x1 for r in body)
    left = lefts[len(lefts) // 10] if lefts else 0.0
    right = rights[(9 * len(rights)) // 10] if rights else 0.0
    out = []
    for row in rows:
        h = _pitch(row)
        cells = [row[0].text]
        text = row[0].text
        for a, b in zip(row, row[1:], strict=False):
            gap = b.x0 - a.x1
            text += (" " if gap > 0.8 * h else "") + b.text
            if gap >= CELL_GAP * h:
                cells.append(b.text)
            else:
                cells[-1] += (" " if gap > 0.8 * h else "") + b.text
        text = _normalise_text(text)
        indent = (row[0].x0 - left) / h
        if indent >= 1.5:  # a paragraph's first line: 第一条为… reads 第一条 为…
            text = _LABEL_GLUED.sub(r"\1 ", text)
        out.append(
            Line(
                text=" ".join(text.split()),
                size=round(h * pt, 1),
                page=number,
                indent=round(indent, 2),
                slack=round((right - row[-1].x1) / h, 2),
                low=any(ln.low for ln in row),
                cells=tuple(_normalise_text(" ".join(c.split())) for c in cells),
            )
        )
    _mark_tables(out, rows)
    return out


def _mark_tables(lines: list, rows: list[list[OcrLine]]) -> None:
    """Keep ``cells`` only on table rows: runs of at least ``TABLE_ROWS`` consecutive rows
    with the same number (≥ 2) of cells whose left edges line up within two em."""

    def starts(i: int) -> list[float]:
        row, em = rows[i], _pitch(rows[i])
        gaps = zip(row, row[1:], strict=False)
        return [row[0].x0] + [b.x0 for a, b in gaps if b.x0 - a.x1 >= CELL_GAP * em]

    def aligned(i: int, j: int) -> bool:
        a, b = starts(i), starts(j)
        em = _pitch(rows[i])
        return len(a) == len(b) and all(abs(x - y) <= 2 * em for x, y in zip(a, b, strict=True))

    i = 0
    while i < len(lines):
        j = i + 1
        if len(lines[i].cells) >= 2:
            while j < len(lines) and aligned(i, j):
                j += 1
        if j - i < TABLE_ROWS:
            for k in range(i, j):
                lines[k].cells = ()
        i = j


def _normalise_text(text: str) -> str:
    """Undo the recogniser's usual confusions in Chinese text: half-width punctuation next to
    Chinese (and the other half of a bracket pair it opens or closes), 文号 year brackets."""
    text = _HALF_PUNCT.sub(lambda m: _FULL[m.group()], text)
    text = re.sub(r"（([^（）()]*)\)", r"（\1）", text)
    text = re.sub(r"\(([^（）()]*)）", r"（\1）", text)
    return _DOC_NO_YEAR.sub(r"〔\1〕", text)


def _pitch(row: list[OcrLine]) -> float:
    """A row's em in pixels: its boxes' width per em of text (a CJK character is one em), which
    is steadier than box heights (they vary with the glyphs); the height for very short text."""
    from assistant.ingest.pdf import _em

    ems = sum(_em(ln.text) for ln in row)
    if ems >= 3:
        return sum(ln.x1 - ln.x0 for ln in row) / ems
    return float(np.median([ln.height for ln in row]))


def _rows(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Group boxes whose vertical extents overlap by half into rows, each left to right."""
    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2):
        for row in reversed(rows[-3:]):
            ref = row[0]
            overlap = min(ref.y1, ln.y1) - max(ref.y0, ln.y0)
            if overlap > 0.5 * min(ref.height, ln.height):
                row.append(ln)
                break
        else:
            rows.append([ln])
    return [sorted(row, key=lambda ln: ln.x0) for row in rows]


def _columns(rows: list[list[OcrLine]]) -> list[list[OcrLine]]:
    """Two-column text: when a vertical gutter in the middle of the page is crossed by at most
    a few boxes (titles, full-width lines), and each side holds at least ``MIN_COLUMN_LINES``
    boxes that fill most of their column (justified text, not a table's short cells), read
    the left column down, then the right, between the full-width lines."""
    boxes = [ln for row in rows for ln in row]
    if len(boxes) < 2 * MIN_COLUMN_LINES:
        return rows
    x0, x1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    best = None
    for gutter in np.linspace(x0 + 0.3 * (x1 - x0), x0 + 0.7 * (x1 - x0), 41):
        crossing = [b for b in boxes if b.x0 < gutter < b.x1]
        if len(crossing) > 0.15 * len(boxes):
            continue
        lo = [b for b in boxes if b.x1 <= gutter]
        hi = [b for b in boxes if b.x0 >= gutter]
        if len(lo) < MIN_COLUMN_LINES or len(hi) < MIN_COLUMN_LINES:
            continue
        fill = min(
            float(np.median([b.x1 - b.x0 for b in lo])) / (gutter - x0),
            float(np.median([b.x1 - b.x0 for b in hi])) / (x1 - gutter),
        )
        if fill >= 0.7 and (best is None or len(crossing) < best[1]):
            best = (gutter, len(crossing))
    if best is None:
        return rows
    gutter = best[0]
    out: list[list[OcrLine]] = []
    left: list[list[OcrLine]] = []
    right: list[list[OcrLine]] = []
    for row in rows:
        if any(b.x0 < gutter < b.x1 for b in row):  # a full-width line ends both columns
            out += left + right + [row]
            left, right = [], []
            continue
        if lo := [b for b in row if b.x1 <= gutter]:
            left.append(lo)
        if hi := [b for b in row if b.x0 >= gutter]:
            right.append(hi)
    return out + left + right


# --- many pages -------------------------------------------------------------------------------


def read_pages(
    images: Iterable[tuple[int, Callable[[], object], float | None]],
    total: int,
    name: str,
    options: OcrOptions,
) -> dict[int, list]:
    """OCR pages given as (page number, a function rendering its PIL image, its long side in
    points or None), one at a time, reporting progress. Returns each page's reflow lines.
    Raises ``LoadError`` naming the file (and the page) when OCR cannot run or a page is
    unreadable; an exception from the progress callback propagates unchanged."""
    from assistant.errors import LoadError

    out: dict[int, list] = {}
    if options.progress:
        options.progress(name, 0, total)
    for done, (number, render, page_pts) in enumerate(images, 1):
        try:
            image = render()
        except Exception as exc:  # a page PDFium or Pillow cannot draw
            raise LoadError(name, f"第{number}页无法渲染（{type(exc).__name__}）") from exc
        try:
            out[number] = page_lines(recognise(image, options), number, page_pts)
        except OcrUnavailable as exc:
            raise LoadError(name, UNAVAILABLE.format(detail=exc)) from exc
        except UnreadablePage as exc:
            raise LoadError(name, str(exc)) from exc
        except OddShape as exc:
            raise LoadError(
                name, f"第{number}页图像长宽比异常（{exc}），不像一页文件；请按页裁切后再上传"
            ) from exc
        except Exception as exc:  # the engine failing on an odd image must not stop a build
            raise LoadError(name, f"第{number}页 OCR 识别失败（{type(exc).__name__}）") from exc
        if options.progress:
            options.progress(name, done, total)
    return out
