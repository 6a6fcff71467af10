"""OCR of scans made here: the devcorpus 成果转化奖励办法 drawn on A4 with a CJK font
(``tests/ingest/scans.py``), as an image-only PDF (2 pages), a PNG and a JPEG, then read by
the real engine (rapidocr-onnxruntime, its models from the installed wheel, under the
session's network guard). Figures measured here are printed (``-s``) as well as asserted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import ImageFilter

from assistant.config import Settings, get_settings
from assistant.errors import LoadError
from assistant.ingest import ocr
from assistant.ingest.ocr import OcrLine, OcrOptions, OcrPage, ocr_options
from assistant.load import load_bytes, load_file
from tests.conftest import DATA, make_settings
from tests.ingest.scans import (
    char_accuracy,
    image_pdf,
    items_of,
    jpeg,
    layout,
    match_distance,
    png,
)

SOURCE = DATA / "devcorpus" / "东港市科技成果转化奖励办法.pdf"
NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
SCAN_NAME = "东港市科技成果转化奖励办法（扫描件）.pdf"


@pytest.fixture(scope="module")
def pages():
    """The document laid out over A4 pages at 150 dpi (a page-number footer on each)."""
    return layout(items_of(load_file(SOURCE)), max_pages=2)


@pytest.fixture(scope="module")
def scanned_pdf(pages) -> bytes:
    return image_pdf([p.image for p in pages])


@pytest.fixture(scope="module")
def pdf_doc(scanned_pdf):
    return load_bytes(scanned_pdf, "扫描件.pdf")


def numbers(text: str) -> list[str]:
    return NUMBER.findall("".join(text.split()))


# --- the engine -------------------------------------------------------------------------------


def test_models_ship_inside_the_installed_wheel():
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    names = sorted(p.name for p in models.glob("*.onnx"))
    assert names == [
        "ch_PP-OCRv4_det_infer.onnx",
        "ch_PP-OCRv4_rec_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
    ]


# --- an image-only PDF ------------------------------------------------------------------------


def test_scanned_pdf_reads_at_098_character_accuracy_with_every_number_exact(pages, pdf_doc):
    source = "".join(p.text for p in pages)
    text = pdf_doc.page_content
    accuracy = char_accuracy(text, source)
    print(f"\nscanned PDF, 2 pages: character accuracy {accuracy:.4f}")
    assert accuracy >= 0.98
    assert numbers(text) == numbers(source)
    # page chrome: the "- 1 -" footers are gone, the pages are kept on the blocks
    assert "-1-" not in "".join(text.split())
    assert {b.page for b in pdf_doc.blocks} == {1, 2}


def test_scanned_pdf_has_the_structure_of_the_text_pdf(pdf_doc):
    text = pdf_doc.page_content
    labels = [b.label for b in pdf_doc.blocks if b.label.startswith("第")]
    assert labels[:4] == ["第一章 总则", "第一条", "第二条", "第三条"]
    assert [b.kind for b in pdf_doc.blocks if b.label in ("第一章 总则", "第一条")] == [
        "heading",
        "paragraph",
    ]
    assert pdf_doc.metadata["title"] == "东港市科技成果转化奖励办法"
    assert pdf_doc.metadata["doc_no"] == "东科发〔2025〕18号"
    assert pdf_doc.metadata["date"] == "2025-03-28"
    # wrapped lines are rejoined into one paragraph per article, labels spaced as in the text
    article = next(pdf_doc.block_text(b) for b in pdf_doc.blocks if b.label == "第五条")
    assert article.startswith("第五条 技术输出奖励。")
    assert article.endswith("不予奖励。")
    assert "第一章 总则" in text


def test_chunks_of_the_scan_match_the_source_and_keep_their_pages(pages, pdf_doc):
    from assistant.chunk import chunk_document

    chunks = chunk_document(pdf_doc)
    source = "".join(p.text for p in pages)
    # each chunk against the stretch of the drawn text it matches best (headings are not in
    # chunk texts but in their section paths)
    errors = sum(match_distance(c.text, source) for c in chunks)
    accuracy = 1 - errors / sum(len("".join(c.text.split())) for c in chunks)
    print(f"\nchunks of the scanned PDF: character accuracy {accuracy:.4f} ({errors} edits)")
    assert accuracy >= 0.98
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:  # each chunk's page is the page its text was drawn on
        head = "".join(c.text.split())[:12]
        drawn_on = [n for n, p in enumerate(pages, 1) if head in p.text]
        assert c.page in drawn_on or not drawn_on, (c.text[:30], c.page, drawn_on)


def test_progress_reports_pages_recognised_out_of_total(scanned_pdf, pdf_doc):
    calls = []
    with ocr_options(OcrOptions(progress=lambda *a: calls.append(a))):
        load_bytes(scanned_pdf, "扫描件.pdf")  # cached pages: the calls are the same
    assert calls == [("扫描件.pdf", 0, 2), ("扫描件.pdf", 1, 2), ("扫描件.pdf", 2, 2)]


def test_an_exception_from_the_progress_callback_stops_the_load(scanned_pdf):
    class Cancelled(Exception):
        pass

    def cancel(name, done, total):
        raise Cancelled

    with ocr_options(OcrOptions(progress=cancel)), pytest.raises(Cancelled):
        load_bytes(scanned_pdf, "扫描件.pdf")


def test_ocr_off_makes_an_image_only_pdf_a_clear_needs_ocr_skip(scanned_pdf):
    with ocr_options(OcrOptions(enabled=False)), pytest.raises(LoadError) as err:
        load_bytes(scanned_pdf, "扫描件.pdf")
    assert err.value.path == "扫描件.pdf"
    assert "需要 OCR" in err.value.reason and "PA_OCR=off" in err.value.reason


def test_pa_ocr_setting_defaults_on_and_reads_off(monkeypatch):
    assert Settings(_env_file=None).ocr is True
    monkeypatch.setenv("PA_OCR", "off")
    assert Settings(_env_file=None).ocr is False
    get_settings.cache_clear()
    try:  # outside an ocr_options block the readers follow PA_OCR
        assert ocr.current_options().enabled is False
    finally:
        monkeypatch.delenv("PA_OCR")
        get_settings.cache_clear()


def test_options_from_settings_follow_pa_ocr_and_cache_under_the_index(tmp_path):
    settings = make_settings(tmp_path, ocr=False)
    options = OcrOptions.from_settings(settings, progress=print)
    assert options.enabled is False and options.progress is print
    assert options.cache_dir == tmp_path / "index" / "ocr-cache"


def test_disk_cache_serves_a_page_recognised_before(tmp_path, pages):
    image = pages[0].image.crop((0, 0, pages[0].image.width, 400))  # the top lines: quick
    options = OcrOptions(cache_dir=tmp_path)
    first = ocr.recognise(image, options)
    assert len(list(tmp_path.glob("*.json"))) == 1
    ocr._memory.clear()  # a new process: only the disk cache knows the page
    again = ocr.recognise(image, options)
    assert again == first and first.lines


# --- images -----------------------------------------------------------------------------------


def test_png_scan_reads_like_the_pdf_page(pages):
    doc = load_bytes(png(pages[0].image), "扫描件第1页.png")
    accuracy = char_accuracy(doc.page_content, pages[0].text)
    print(f"\nPNG scan: character accuracy {accuracy:.4f}")
    assert accuracy >= 0.98
    assert numbers(doc.page_content) == numbers(pages[0].text)
    assert {b.page for b in doc.blocks} == {1}
    assert doc.metadata["doc_no"] == "东科发〔2025〕18号"


def test_page_scanned_sideways_is_turned_and_read(pages):
    sideways = pages[0].image.rotate(90, expand=True, fillcolor=255)
    doc = load_bytes(jpeg(sideways), "横放.jpg")
    accuracy = char_accuracy(doc.page_content, pages[0].text)
    print(f"\npage rotated 90°: character accuracy {accuracy:.4f}")
    assert accuracy >= 0.95
    assert numbers(doc.page_content) == numbers(pages[0].text)


def test_faint_low_contrast_page_still_reads(pages):
    faint = pages[1].image.point(lambda v: 200 + v * 35 // 255)  # grey text on grey paper
    doc = load_bytes(png(faint), "浅色.png")
    accuracy = char_accuracy(doc.page_content, pages[1].text)
    print(f"\nlow-contrast page (ink 200, paper 235): character accuracy {accuracy:.4f}")
    assert accuracy >= 0.95
    assert numbers(doc.page_content) == numbers(pages[1].text)


def test_blurred_page_is_reported_unreadable_by_name_not_indexed(pages):
    blurred = pages[0].image.filter(ImageFilter.GaussianBlur(3.5))
    with pytest.raises(LoadError) as err:
        load_bytes(image_pdf([blurred]), "模糊.pdf")
    assert err.value.path == "模糊.pdf"
    assert err.value.reason.startswith("第1页扫描图像无法可靠识别")


def test_image_with_ocr_off_is_skipped_as_needing_ocr(pages):
    with ocr_options(OcrOptions(enabled=False)), pytest.raises(LoadError, match="需要 OCR"):
        load_bytes(png(pages[0].image), "扫描件.png")


def test_blank_image_has_no_text():
    from PIL import Image

    with pytest.raises(LoadError, match="图片中没有识别出文字"):
        load_bytes(png(Image.new("L", (1240, 1754), 255)), "空白.png")


def test_strip_too_elongated_for_a_page_is_refused_by_name():
    from PIL import Image

    with pytest.raises(LoadError, match="第1页图像长宽比异常（40×3000 像素）"):
        load_bytes(png(Image.new("L", (40, 3000), 0)), "长条.png")


def test_corrupt_image_is_a_load_error():
    with pytest.raises(LoadError, match="图片文件损坏"):
        load_bytes(b"\x89PNG\r\n\x1a\nnot really", "坏.png")


# --- layout: tables and columns ---------------------------------------------------------------

TABLE = [
    ("项目类别", "支持金额", "截止日期"),
    ("重大科技创新工程项目", "每项最高500万元", "2025年6月20日"),
    ("重点研发计划项目", "每项最高100万元", "2025年6月20日"),
    ("科技惠民项目", "每项最高50万元", "2025年7月10日"),
]


def test_scanned_table_becomes_rows_with_their_headers():
    page = layout(
        [
            ("title", "东港市科技计划项目申报指南"),
            ("para", "一、支持方向和标准。各类项目的支持金额和申报截止日期见下表："),
            ("table", TABLE),
            ("para", "二、申报材料。申报单位应当通过管理系统在线填报申报书。"),
        ]
    )[0]
    doc = load_bytes(png(page.image), "申报指南.png")
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [b.cells for b in rows] == TABLE[1:]
    assert {b.headers for b in rows} == {TABLE[0]}
    assert doc.block_text(rows[0]) == (
        "项目类别：重大科技创新工程项目；支持金额：每项最高500万元；截止日期：2025年6月20日"
    )
    assert doc.block_text(doc.blocks[-1]).startswith("二、申报材料")


def test_lines_of_prose_are_not_a_table(pdf_doc):
    assert not [b for b in pdf_doc.blocks if b.kind == "table_row"]


def _box(text, x0, y, em=30):
    from assistant.ingest.pdf import _em

    return OcrLine(text, 0.99, False, x0, y, x0 + em * _em(text), y + em)


def test_two_column_page_is_read_column_by_column():
    left = [f"左栏第{n}行文字内容较长一些占满整栏宽度。" for n in range(1, 8)]
    right = [f"右栏第{n}行文字内容较长一些占满整栏宽度。" for n in range(1, 8)]
    lines = [_box("两栏排版的标题横跨整个页面宽度不分栏目", 250, 40)]
    for n, (a, b) in enumerate(zip(left, right, strict=True)):
        y = 100 + 50 * n
        lines += [_box(a, 100, y), _box(b, 850, y)]  # 20 em per column, gutter at 700–850
    page = OcrPage(lines, 1600, 2260, 1.0)
    texts = [line.text for line in ocr.page_lines(page, 1)]
    assert texts == ["两栏排版的标题横跨整个页面宽度不分栏目", *left, *right]


# --- low confidence ---------------------------------------------------------------------------


def test_low_confidence_lines_are_kept_and_their_blocks_marked():
    from assistant.ingest.pdf import _em, parse_lines

    def line(text, y, low=False, indent=0, full=True):  # 30 px to the em, margins 100–1000
        x0 = 100 + 30 * indent
        x1 = 1000 if full else x0 + 30 * _em(text)
        return OcrLine(text, 0.7 if low else 0.99, low, x0, y, x1, y + 30)

    page = OcrPage(
        [
            line("第五条技术输出奖励。本市高等学校、科研院所作为卖方，", 100, indent=2),
            line("按照技术合同实际到账金额的2%给予奖励，单个单位每年最高", 150),
            line("100万元。", 200, low=True, full=False),
            line("第六条技术吸纳奖励。本市企业作为买方，购买科技成果并", 250, indent=2),
            line("实施转化的，按照技术交易实际支付金额的10%给予补助。", 300, full=False),
        ],
        width=2000,
        height=2800,
        confident_share=0.95,
    )
    parsed = parse_lines([ocr.page_lines(page, 1)], None, "低置信.png")
    texts = [parsed.text[b.start : b.end] for b in parsed.blocks]
    assert texts[0].startswith("第五条 技术输出奖励") and texts[0].endswith("100万元。")
    assert [b.low_confidence for b in parsed.blocks] == [True, False]


def test_page_with_little_confident_text_is_unreadable():
    page = OcrPage([OcrLine("東港市科枝", 0.6, True, 0, 0, 150, 30)], 2000, 2800, 0.2)
    with pytest.raises(ocr.UnreadablePage, match="第3页"):
        ocr.page_lines(page, 3)


# --- end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scan_index(tmp_path_factory, scanned_pdf):
    from assistant.index import IndexBuilder
    from assistant.service import Assistant

    tmp = tmp_path_factory.mktemp("scan")
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / SCAN_NAME).write_bytes(scanned_pdf)
    settings = make_settings(tmp)
    summary = IndexBuilder(settings).build()
    assert not summary.skipped and summary.chunks
    return Assistant(settings)


def _chunk_page(scanned_pdf: bytes, citation) -> int | None:
    """The page of the chunk a citation quotes (the index chunks the same loaded text)."""
    from assistant.chunk import chunk_document

    doc = load_bytes(scanned_pdf, SCAN_NAME)  # the pages are cached: no second OCR
    for c in chunk_document(doc):
        if c.doc_id == citation.doc_id and c.start <= citation.start < c.end:
            return c.page
    return None


def test_question_about_a_number_on_a_scanned_page_is_answered_from_that_page(
    scan_index, scanned_pdf
):
    answer = scan_index.ask("对当年新获批国家技术转移示范机构的，另给予多少一次性奖励？")
    assert not answer.abstained
    assert "30万元" in answer.answer
    cite = answer.citations[0]
    assert "30万元" in cite.text
    # the quoted chunk was drawn on page 2 of the scan
    assert _chunk_page(scanned_pdf, cite) == 2


def test_citation_of_a_scanned_page_says_its_page(scan_index):
    answer = scan_index.ask("对当年新获批国家技术转移示范机构的，另给予多少一次性奖励？")
    assert answer.citations[0].page == 2
    assert answer.citations[0].where.endswith("（第2页）")
