"""DOCX reader: body order, headings with levels, Word's list numbers rebuilt, table rows with
their headers, and page headers/footers kept out of the text."""

from __future__ import annotations

import io

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from assistant.errors import LoadError
from assistant.ingest.docx import read_docx
from tests.conftest import DATA

GUIDE = DATA / "devcorpus" / "东港市科技计划项目申报指南.docx"


@pytest.fixture(scope="module")
def guide():
    return read_docx(GUIDE.read_bytes(), GUIDE.name)


def to_bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def texts(parsed, kind=None):
    return [parsed.text[b.start : b.end] for b in parsed.blocks if kind in (None, b.kind)]


def set_num(paragraph, num_id: int, ilvl: int = 0) -> None:
    paragraph._p.get_or_add_pPr().append(
        parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'
        )
    )


def add_num(document, abstract_id: str, num_id: int, restart: bool = False) -> int:
    override = '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride>'
    document.part.numbering_part.element.append(
        parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{abstract_id}"/>'
            f"{override if restart else ''}</w:num>"
        )
    )
    return num_id


def list_number_abstract(document) -> str:
    """The abstractNum behind python-docx's "List Number" style."""
    style = document.styles["List Number"].element
    num_id = style.find(qn("w:pPr")).find(qn("w:numPr")).find(qn("w:numId")).get(qn("w:val"))
    numbering = document.part.numbering_part.element
    num = next(n for n in numbering.iterfind(qn("w:num")) if n.get(qn("w:numId")) == num_id)
    return num.find(qn("w:abstractNumId")).get(qn("w:val"))


# -- the devcorpus guide -------------------------------------------------------------------


def test_title_style_is_the_title_and_headings_sit_below_it(guide):
    assert guide.title == "2025年度东港市科技计划项目申报指南"
    assert guide.fields["title"] == "2025年度东港市科技计划项目申报指南"  # core properties
    levels = {guide.text[b.start : b.end]: b.level for b in guide.blocks if b.kind == "heading"}
    assert levels["2025年度东港市科技计划项目申报指南"] == 1
    assert levels["一、总体要求"] == 2  # Heading 1, under the Title
    assert levels["（一）申报单位基本条件"] == 3  # Heading 2
    assert guide.blocks[0].kind == "heading" and guide.blocks[0].level == 1


def test_list_number_items_carry_their_rebuilt_numbers_in_order(guide):
    items = [b for b in guide.blocks if b.kind == "list_item" and b.label]
    assert [b.label for b in items] == ["1.", "2.", "3.", "4.", "5."]
    assert guide.text[items[0].start : items[0].end].startswith("1.在东港市注册登记")
    assert guide.text[items[3].start : items[3].end].startswith(
        "4.项目负责人为申报单位正式在职人员"
    )
    assert all(b.level == 1 and b.lead_in == "申报单位应当同时具备以下条件：" for b in items)


def test_bullet_items_are_list_items_without_a_number(guide):
    bullets = [b for b in guide.blocks if b.kind == "list_item" and not b.label]
    assert [guide.text[b.start : b.end] for b in bullets][
        0
    ] == "项目申报书（系统生成，加盖单位公章）；"
    assert len(bullets) == 5


def test_table_rows_carry_their_headers_and_stay_in_place(guide):
    rows = [b for b in guide.blocks if b.kind == "table_row"]
    assert len(rows) == 4
    assert all(b.headers == ("项目类别", "支持金额", "申报条件", "截止日期") for b in rows)
    amounts = ["每项最高500万元", "每项最高100万元", "每项最高50万元", "每项5万元至10万元"]
    for row, amount in zip(rows, amounts, strict=True):
        assert f"支持金额：{amount}" in guide.text[row.start : row.end]
        assert row.cells[1] == amount
    assert guide.text[rows[0].start : rows[0].end].startswith("项目类别：重大科技创新工程项目；")
    kinds = [b.kind for b in guide.blocks]
    first = kinds.index("table_row")
    body = texts(guide)
    assert body[first - 1].startswith("本年度市科技计划设置以下四类项目")  # the sentence before
    assert body[first + 4].startswith("注：企业牵头的项目")  # and the note after


def test_page_header_and_footer_are_not_in_the_text(guide):
    section = docx.Document(str(GUIDE)).sections[0]
    chrome = [p.text for p in section.header.paragraphs + section.footer.paragraphs if p.text]
    assert chrome  # the fixture does have a page header and footer
    for line in chrome:
        assert line not in guide.text
        assert line.replace("\u3000", " ") not in guide.text


def test_block_offsets_quote_the_text_exactly(guide):
    assert guide.text == "\n".join(texts(guide))
    for block in guide.blocks:
        quoted = guide.text[block.start : block.end]
        assert quoted and quoted == quoted.strip() and "\n" not in quoted


# -- generated documents -------------------------------------------------------------------


def test_a_table_between_two_paragraphs_stays_between_them():
    document = docx.Document()
    document.add_paragraph("表格之前的段落。")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "类别", (0, 1): "金额", (1, 0): "甲类", (1, 1): "10万元"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("表格之后的段落。")
    parsed = read_docx(to_bytes(document), "order.docx")
    assert texts(parsed) == ["表格之前的段落。", "类别：甲类；金额：10万元", "表格之后的段落。"]
    assert [b.kind for b in parsed.blocks] == ["paragraph", "table_row", "paragraph"]


def test_numbering_continues_in_the_same_list_and_restarts_where_the_file_restarts_it():
    document = docx.Document()
    document.add_paragraph("第一组：")
    for text in ("甲", "乙", "丙"):
        document.add_paragraph(text, style="List Number")
    document.add_paragraph("中间的说明。")
    document.add_paragraph("丁", style="List Number")  # same list (same numId): goes on at 4
    document.add_paragraph("第二组：")
    restarted = add_num(document, list_number_abstract(document), 90, restart=True)
    for text in ("戊", "己"):
        set_num(document.add_paragraph(text, style="List Number"), restarted)
    parsed = read_docx(to_bytes(document), "lists.docx")
    items = [b for b in parsed.blocks if b.kind == "list_item"]
    assert [parsed.text[b.start : b.end] for b in items] == [
        "1.甲",
        "2.乙",
        "3.丙",
        "4.丁",
        "1.戊",
        "2.己",
    ]
    assert [b.lead_in for b in items] == ["第一组："] * 3 + [None] + ["第二组："] * 2


def test_multilevel_chinese_numbering_and_deeper_levels_restart():
    document = docx.Document()
    numbering = document.part.numbering_part.element
    levels = [("chineseCounting", "%1、"), ("chineseCounting", "（%2）"), ("decimal", "%3.")]
    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
        f'<w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    numbering.insert(
        0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="77">{lvls}</w:abstractNum>')
    )
    num = add_num(document, "77", 91)
    plan = [(0, "申报条件："), (1, "企业应当具备："), (2, "注册在本市"), (2, "Has staff"), (1, "其他"),
            (0, "程序"), (1, "网上填报")]  # fmt: skip
    for ilvl, text in plan:
        set_num(document.add_paragraph(text), num, ilvl)
    parsed = read_docx(to_bytes(document), "multi.docx")
    assert texts(parsed) == [
        "一、申报条件：", "（一）企业应当具备：", "1.注册在本市", "2. Has staff", "（二）其他",
        "二、程序", "（一）网上填报",
    ]  # fmt: skip
    assert [b.level for b in parsed.blocks] == [1, 2, 3, 3, 2, 1, 2]
    assert [b.label for b in parsed.blocks][:3] == ["一、", "（一）", "1."]
    assert parsed.blocks[2].lead_in == "（一）企业应当具备："  # a nested item's lead-in: its parent
    assert parsed.blocks[1].lead_in == "一、申报条件："


def test_headings_without_a_title_start_at_level_one_and_outline_levels_count():
    document = docx.Document()
    document.add_heading("第一章 总则", level=1)
    document.add_heading("第一节 目的", level=2)
    outlined = document.add_paragraph("大纲级别二的段落标题")
    outlined._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="1"/>'))
    document.add_paragraph("正文。")
    parsed = read_docx(to_bytes(document), "headings.docx")
    assert [(b.kind, b.level) for b in parsed.blocks] == [
        ("heading", 1), ("heading", 2), ("heading", 2), ("paragraph", None),
    ]  # fmt: skip
    assert parsed.title is None


def test_a_merged_cell_is_read_once_per_row():
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    for c, head in enumerate(("项目", "金额", "备注")):
        table.cell(0, c).text = head
    table.cell(1, 0).text = "甲类"
    table.cell(1, 1).merge(table.cell(1, 2)).text = "最高100万元"
    for c, value in enumerate(("乙类", "50万元", "限报1项")):
        table.cell(2, c).text = value
    parsed = read_docx(to_bytes(document), "merged.docx")
    rows = [b for b in parsed.blocks if b.kind == "table_row"]
    assert rows[0].cells == ("甲类", "最高100万元")
    assert parsed.text[rows[0].start : rows[0].end] == "项目：甲类；金额：最高100万元"
    assert parsed.text[rows[1].start : rows[1].end] == "项目：乙类；金额：50万元；备注：限报1项"


def test_unset_core_title_is_not_a_field():
    document = docx.Document()
    document.add_paragraph("正文。")
    assert "title" not in read_docx(to_bytes(document), "plain.docx").fields


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a zip at all", "DOCX 文件损坏或格式不正确（BadZipFile）"),
        (to_bytes(docx.Document()), "没有可提取的文字"),
    ],
    ids=["corrupt", "empty"],
)
def test_bad_docx_raises_load_error_naming_the_file(data, reason):
    with pytest.raises(LoadError) as info:
        read_docx(data, "坏.docx")
    assert info.value.path == "坏.docx"
    assert info.value.reason == reason
