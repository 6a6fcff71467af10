"""A scanned page as an image (.png .jpg .jpeg) → OCR → the same paragraph blocks as a PDF page
(page 1; a multi-frame image gives one page per frame). Needs OCR (``PA_OCR``, on by default)."""

from __future__ import annotations

import io

from assistant.errors import LoadError
from assistant.ingest.blocks import Parsed
from assistant.ingest.ocr import current_options, read_pages
from assistant.ingest.pdf import parse_lines

OCR_OFF = "图片是扫描件，需要 OCR 识别后才能收录（OCR 已关闭：PA_OCR=off）"
EMPTY = "图片中没有识别出文字（空白或图像过于模糊）"
MAX_PIXELS = 60_000_000  # ~ an A4 page at 1,000 dpi; larger is a decompression bomb, not a scan
MAX_FRAMES = 200


def read_image(data: bytes, name: str) -> Parsed:
    options = current_options()
    if not options.enabled:
        raise LoadError(name, OCR_OFF)
    from PIL import Image, ImageSequence

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise LoadError(name, f"图片过大（{image.width}×{image.height} 像素）")
        image.load()
        frames = getattr(image, "n_frames", 1)
    except LoadError:
        raise
    except Exception as exc:  # Pillow raises many types (and DecompressionBombError)
        raise LoadError(name, f"图片文件损坏或格式不正确（{type(exc).__name__}）") from exc
    if frames > MAX_FRAMES:
        raise LoadError(name, f"图片帧数过多（{frames}，上限 {MAX_FRAMES}）")

    def frame(i: int):
        def render():
            ImageSequence.Iterator(image)[i]  # seeks the image to frame i
            return image.copy()

        return render

    jobs = ((i + 1, frame(i), None) for i in range(frames))
    pages = read_pages(jobs, frames, name, options)
    return parse_lines([pages[n] for n in sorted(pages)], None, name, EMPTY)
