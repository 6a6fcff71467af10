"""Loaders: encodings, formats, page chrome, and bad files reported by name and skipped."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from assistant.errors import LoadError, UnsupportedFileType
from assistant.load import load_bytes, load_corpus, load_file
from tests.conftest import DATA, SEED


def make_pdf(text_lines: list[str], encrypt: str | None = None) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt=encrypt)
    c.setFont("STSong-Light", 12)
    y = 800
    for line in text_lines:
        c.drawString(50, y, line)
        y -= 20
    c.save()
    return buf.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_seed_header_becomes_metadata_and_chrome_is_stripped():
    doc = load_file(SEED, SEED.parent)
    meta = doc.metadata
    assert meta["title"] == "2025年全市科技工作要点"
    assert meta["issuers"] == ["威海市科学技术局"]
    assert meta["date"] == "2025-04-14"
    assert meta["index_no"] == "11371000004359096D/2025-01554"
    assert meta["doc_no"] is None  # the page's 文号 field is empty: nothing invented
    assert meta["year"] == 2025
    assert meta["places"] == ["威海市"]
    for chrome in ("当前位置", "点击次数", "时间:", "公开方式", "政府信息公开", "有效性/截止日期"):
        assert chrome not in doc.page_content
    # the header's 公文 fields stay quotable as one metadata block, then the policy text
    first = doc.blocks[0]
    assert first.kind == "metadata"
    assert doc.page_content[first.start : first.end] == (
        "索引号：11371000004359096D/2025-01554；发布单位：威海市科学技术局；成文日期：2025-04-14"
    )
    assert "2025年是“十四五”规划收官之年" in doc.page_content
    assert "23.加强科研诚信建设和科普工作" in doc.page_content


@pytest.mark.parametrize(
    "name",
    ["创新券办法_gbk.txt", "bom.txt"],
    ids=["gb18030", "utf8-bom"],
)
def test_text_encodings_are_read_correctly(name):
    doc = load_file(DATA / "txt" / name, DATA / "txt")
    assert "\ufeff" not in doc.page_content
    assert "创新券" in doc.page_content or "科融信" in doc.page_content
    assert "�" not in doc.page_content


def test_gbk_file_keeps_its_numbers_and_title():
    doc = load_file(DATA / "txt" / "创新券办法_gbk.txt", DATA / "txt")
    assert doc.metadata["title"] == "威海市科技型中小企业创新券管理办法（试行）"
    assert "最高支持20万元" in doc.page_content


def test_html_page_metadata_and_no_script():
    doc = load_file(DATA / "html" / "通知.html", DATA / "html")
    assert doc.metadata["title"] == "威海市关于加快科技成果转化的通知"
    assert doc.metadata["doc_no"] == "威科字〔2024〕5号"
    assert doc.metadata["date"] == "2024-03-01"
    assert doc.metadata["year"] == 2024
    assert "tracker" not in doc.page_content
    assert "点击次数" not in doc.page_content
    assert "每年新备案中试示范基地3家以上" in doc.page_content


def test_pdf_with_cid_font_round_trips_chinese():
    lines = ["威海市科技金融政策", "鲁科贷支持科技型企业发放贷款25亿元以上。"]
    doc = load_bytes(make_pdf(lines), "金融.pdf")
    assert "鲁科贷支持科技型企业发放贷款25亿元以上。" in doc.page_content.replace(" ", "")
    assert doc.metadata["title"] == "威海市科技金融政策"


def test_docx_paragraphs_are_read():
    data = make_docx(["科技副总选派办法", "一、选派300名科技人才到企业担任科技副总。"])
    doc = load_bytes(data, "办法.docx")
    assert "选派300名科技人才" in doc.page_content
    assert doc.metadata["title"] == "科技副总选派办法"


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        ((DATA / "pdf" / "corrupt.pdf").read_bytes(), "corrupt.pdf", "PDF"),
        (b"", "empty.txt", "文件为空"),
        ((DATA / "other" / "表格.xls").read_bytes(), "表格.xls", "不支持的文件类型 .xls"),
        (b"\x00\x01binary\x00", "bin.txt", "二进制"),
    ],
    ids=["corrupt-pdf", "empty", "unsupported", "binary-as-text"],
)
def test_bad_files_raise_a_clear_error_naming_the_file(data, name, reason):
    with pytest.raises(LoadError) as info:
        load_bytes(data, name)
    assert name in str(info.value)
    assert reason in str(info.value)


def test_encrypted_pdf_is_reported():
    data = make_pdf(["机密文件"], encrypt="secret")
    with pytest.raises(LoadError, match="加密"):
        load_bytes(data, "secret.pdf")


def test_unsupported_type_is_its_own_error():
    with pytest.raises(UnsupportedFileType):
        load_bytes(b"abc", "a.xlsx")


def test_corpus_with_bad_files_still_loads_the_good_ones(tmp_path: Path):
    shutil.copy(SEED, tmp_path / SEED.name)
    shutil.copy(DATA / "txt" / "创新券办法_gbk.txt", tmp_path / "gbk.txt")
    shutil.copy(DATA / "pdf" / "corrupt.pdf", tmp_path / "坏文件.pdf")
    shutil.copy(DATA / "other" / "表格.xls", tmp_path / "表格.xls")
    (tmp_path / "good.pdf").write_bytes(
        make_pdf(["创新券政策说明", "创新券用于购买检验检测服务。"])
    )
    (tmp_path / "good.docx").write_bytes(make_docx(["研发补助说明", "企业研发补助按规定执行。"]))
    report = load_corpus(tmp_path)
    assert sorted(d.metadata["source"] for d in report.documents) == sorted(
        [SEED.name, "gbk.txt", "good.pdf", "good.docx"]
    )
    assert sorted(e.path for e in report.errors) == ["坏文件.pdf", "表格.xls"]
