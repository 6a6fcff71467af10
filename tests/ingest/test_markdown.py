"""Markdown reader: heading levels, lists with their numbers and lead-ins, table rows with
headers, a front list of bold fields, and inline markup gone from the text."""

from __future__ import annotations

import pytest

from assistant.errors import LoadError
from assistant.ingest.markdown import read_markdown
from tests.conftest import DATA

RULES = DATA / "devcorpus" / "东港市企业研发投入后补助实施细则.md"


@pytest.fixture(scope="module")
def rules():
    return read_markdown(RULES.read_bytes(), RULES.name)


def quoted(parsed, kind=None):
    return [parsed.text[b.start : b.end] for b in parsed.blocks if kind in (None, b.kind)]


def test_headings_carry_their_levels_and_the_first_is_the_title(rules):
    levels = {rules.text[b.start : b.end]: b.level for b in rules.blocks if b.kind == "heading"}
    assert rules.title == "东港市企业研发投入后补助实施细则"
    assert levels["东港市企业研发投入后补助实施细则"] == 1
    assert levels["一、总则"] == 2
    assert levels["七、常见问题（FAQ）"] == 2
    assert levels["3. 亏损企业可以申报吗？"] == 3


def test_table_rows_carry_the_header_row(rules):
    rows = [b for b in rules.blocks if b.kind == "table_row"]
    assert len(rows) == 3
    assert all(b.headers == ("研发费用增量", "补助比例", "单个企业上限") for b in rows)
    assert rows[1].cells == ("500万元以上至2000万元（含）", "12%", "200万元")
    assert (
        rules.text[rows[1].start : rows[1].end]
        == "研发费用增量：500万元以上至2000万元（含）；补助比例：12%；单个企业上限：200万元"
    )


def test_front_list_fields_are_read_and_stay_in_the_text(rules):
    assert rules.fields == {
        "文号": "东科规〔2025〕3号",
        "发布单位": "东港市科学技术局 东港市财政局",  # the ideographic space squeezed
        "成文日期": "2025年4月8日",
        "施行日期": "2025年5月1日",
        "有效期": "至2027年12月31日",
    }
    assert "文号：东科规〔2025〕3号" in quoted(rules, "list_item")
    # bold labels further down are body text, not document fields
    assert "企业注册" not in rules.fields


def test_ordered_items_keep_their_numbers_and_lead_in(rules):
    items = [
        b
        for b in rules.blocks
        if b.kind == "list_item" and b.lead_in == "申报企业应当同时满足以下条件："
    ]
    assert [b.label for b in items] == ["1.", "2.", "3.", "4.", "5."]
    assert (
        rules.text[items[0].start : items[0].end]
        == "1.在东港市注册登记、实行查账征收的企业，具有独立法人资格；"
    )
    assert rules.text[items[1].start : items[1].end].startswith("2. 2024年度研发费用不低于100万元")
    assert all(b.level == 1 for b in items)


def test_faq_questions_and_answers_are_present(rules):
    text = rules.text
    assert "1. 研发费用增量怎么计算？" in quoted(rules, "heading")
    assert "不可以。集团内各企业应当以独立法人为单位分别申报" in text
    assert "研发投入后补助不以企业盈利为条件" in text
    assert text.endswith("不能。网上填报截止后系统关闭，逾期不予受理，企业可在下一年度按规定申报。")


def test_inline_markup_is_removed(rules):
    assert "**" not in rules.text and "|" not in rules.text and "#" not in rules.text
    assert "4.数据核定：市科技局会同国家税务总局东港市税务局" in rules.text
    assert "说明：本文件为测试用示例文本" in quoted(rules, "paragraph")[0]  # the block quote


def test_block_offsets_quote_the_text_exactly(rules):
    assert rules.text == "\n".join(quoted(rules))
    for block in rules.blocks:
        piece = rules.text[block.start : block.end]
        assert piece and piece == piece.strip() and "\n" not in piece


def test_links_images_code_and_html_keep_only_their_text():
    source = "见[《管理办法》](http://example.com/a)，![logo](a.png)代码`PA_KEY`，<span>内联</span>标签。\n"
    parsed = read_markdown(source.encode(), "inline.md")
    assert parsed.text == "见《管理办法》，代码PA_KEY，内联标签。"


def test_nested_lists_have_levels_and_their_parent_as_lead_in():
    source = "条件如下：\n\n3) 企业应当具备：\n   - 注册在本市\n   - 有研发团队\n4) 其他条件\n"
    parsed = read_markdown(source.encode(), "nested.md")
    assert quoted(parsed) == [
        "条件如下：",
        "3)企业应当具备：",
        "注册在本市",
        "有研发团队",
        "4)其他条件",
    ]
    assert [b.level for b in parsed.blocks] == [None, 1, 2, 2, 1]
    assert [b.lead_in for b in parsed.blocks[1:]] == [
        "条件如下：", "3)企业应当具备：", "3)企业应当具备：", "条件如下：",
    ]  # fmt: skip


def test_yaml_front_matter_becomes_fields_not_text():
    source = "---\ntitle: 测试办法\n文号: 东科〔2025〕1号\n---\n# 测试办法\n\n正文。\n"
    parsed = read_markdown(source.encode(), "front.md")
    assert parsed.fields == {"title": "测试办法", "文号": "东科〔2025〕1号"}
    assert parsed.text == "测试办法\n正文。"


def test_gb18030_markdown_is_decoded():
    parsed = read_markdown("# 创新券\n\n每家企业最高30万元。\n".encode("gb18030"), "gbk.md")
    assert parsed.title == "创新券" and "最高30万元" in parsed.text


def test_markdown_without_text_raises_load_error():
    with pytest.raises(LoadError) as info:
        read_markdown(b"\n\n---\n\n", "empty.md")
    assert info.value.path == "empty.md" and info.value.reason == "没有可提取的文字"


def test_a_thematic_break_at_the_top_is_not_front_matter():
    parsed = read_markdown("---\n\n# 办法\n\n正文：见下。\n\n---\n".encode(), "hr.md")
    assert parsed.title == "办法" and parsed.fields == {}
    assert parsed.text == "办法\n正文：见下。"
