"""HTML reader: the article's blocks only, the metadata box as fields, the article's own title."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from assistant.errors import LoadError
from assistant.ingest.blocks import Parsed, squeeze, table_row_text
from assistant.ingest.html import read_html
from tests.conftest import DATA

DONGGANG = DATA / "devcorpus" / "关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知.html"
WEIHAI = DATA / "html" / "通知.html"
ARTICLE_TITLE = "关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知"


def _read(path) -> Parsed:
    return read_html(path.read_bytes(), path.name)


def _page(body: str, head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>".encode()


def _texts(parsed: Parsed, kind: str | None = None) -> list[str]:
    return [parsed.text[b.start : b.end] for b in parsed.blocks if kind in (None, b.kind)]


@pytest.fixture(scope="module")
def donggang() -> Parsed:
    return _read(DONGGANG)


def _chrome_strings() -> list[str]:
    """Every navigation, breadcrumb, toolbar, related-link and footer line of the fixture page."""
    soup = BeautifulSoup(DONGGANG.read_bytes(), "lxml")
    selectors = (".top-bar", ".nav li", ".breadcrumb", ".tools", ".related li", ".footer p")
    found = [squeeze(el.get_text()) for sel in selectors for el in soup.select(sel)]
    assert len(found) >= 14  # the fixture still has its chrome
    return found


def test_page_chrome_script_and_style_never_reach_the_text(donggang):
    for chrome in _chrome_strings():
        assert chrome not in donggang.text
    for decoy in (
        "贴息比例为90%",
        "创新券最高可领100万元",
        "脚本中的文字",
        "siteConfig",
        "font-family",
    ):
        assert decoy not in donggang.text
    for line in (
        "当前位置",
        "版权所有",
        "网站标识码",
        "ICP备",
        "打印本页",
        "关闭窗口",
        "浏览次数",
        "字体",
    ):
        assert line not in donggang.text


def test_metadata_table_and_info_line_become_fields_not_text(donggang):
    expected = {
        "索引号": "11371100DG0012345X/2025-00387",
        "主题分类": "科技、教育",
        "发布机构": "东港市科学技术局",
        "发文日期": "2025-05-12",
        "文号": "东科函〔2025〕27号",
        "有效性": "有效",
        "来源": "东港市科学技术局",
        "发布时间": "2025-05-12 10:30",
    }
    assert {k: donggang.fields.get(k) for k in expected} == expected
    for value in ("11371100DG0012345X", "东科函〔2025〕27号", "科技、教育", "10:30"):
        assert value not in donggang.text


def test_title_is_the_article_heading_not_the_site_title(donggang):
    assert donggang.title == ARTICLE_TITLE
    assert donggang.blocks[0].kind == "heading" and donggang.blocks[0].level == 1
    assert _texts(donggang)[0] == ARTICLE_TITLE


def test_numbered_body_is_kept_whole_and_in_order(donggang):
    texts = _texts(donggang)
    in_order = [
        "一、申报条件",
        "（一）企业条件",
        "1. 在东港市行政区域内注册登记",
        "（二）贷款条件",
        "2. 单笔贷款金额不低于100万元，贷款期限不少于6个月；",
        "二、贴息标准",
        "三、申报材料",
        "7. 企业信用承诺书。",
        "四、申报时间和方式",
        "（一）申报时间：2025年6月1日至6月30日",
        "六、联系方式",
        "附件：1.2025年度东港市科技型中小企业贷款贴息申报表",  # a link-only line: still body
        "2.企业信用承诺书",
        "2025年5月12日",
    ]
    positions = [next(i for i, t in enumerate(texts) if t.startswith(s)) for s in in_order]
    assert positions == sorted(positions)


def test_inline_spans_do_not_split_a_paragraph(donggang):
    sentence = "（一）按贷款实际利息的50%给予贴息，单个企业年度贴息最高100万元。"
    assert sentence in _texts(donggang, "paragraph")


def test_every_block_is_its_own_slice_of_the_text(donggang):
    for parsed in (donggang, _read(WEIHAI)):
        previous_end = -1
        for block in parsed.blocks:
            piece = parsed.text[block.start : block.end]
            assert piece and piece == piece.strip() and "\n" not in piece
            assert block.start > previous_end
            previous_end = block.end
        assert parsed.text == "\n".join(_texts(parsed))


def test_existing_fixture_keeps_its_policy_and_loses_its_chrome():
    parsed = _read(WEIHAI)
    assert "每年新备案中试示范基地3家以上" in parsed.text
    for chrome in ("点击次数", "tracker", "当前位置", "索引号", "发布单位"):
        assert chrome not in parsed.text
    assert parsed.title == "威海市关于加快科技成果转化的通知"
    assert parsed.fields == {
        "索引号": "11371000004359096D/2024-00001",
        "发布单位": "威海市科学技术局",
        "成文日期": "2024-03-01",
        "文号": "威科字〔2024〕5号",
    }


def test_table_rows_carry_their_headers():
    parsed = read_html(
        _page(
            "<h2>支持标准</h2><table><tr><th>项目类别</th><th>支持金额</th></tr>"
            "<tr><td>重点项目</td><td>100万元</td></tr><tr><td>一般项目</td><td>20万元</td></tr></table>"
        ),
        "表格.html",
    )
    rows = [b for b in parsed.blocks if b.kind == "table_row"]
    assert [(b.headers, b.cells) for b in rows] == [
        (("项目类别", "支持金额"), ("重点项目", "100万元")),
        (("项目类别", "支持金额"), ("一般项目", "20万元")),
    ]
    assert _texts(parsed, "table_row") == [
        "项目类别：重点项目；支持金额：100万元",
        table_row_text(("项目类别", "支持金额"), ("一般项目", "20万元")),
    ]


def test_a_table_listing_documents_is_body_not_metadata():
    parsed = read_html(
        _page(
            "<table><tr><td>文件名称</td><td>文号</td><td>发布日期</td></tr>"
            "<tr><td>创新券管理办法</td><td>东科发〔2025〕3号</td><td>2025-01-02</td></tr></table>"
        ),
        "文件表.html",
    )
    assert parsed.fields == {}
    assert _texts(parsed) == [
        "文件名称：创新券管理办法；文号：东科发〔2025〕3号；发布日期：2025-01-02"
    ]


def test_header_metadata_lines_become_fields():
    parsed = read_html(
        _page(
            "<h1>东港市科技局关于印发某办法的通知</h1>"
            "<div class='attr'>发布时间：2021-03-16　来源：市科技局</div>"
            "<div>索引号：DG-2021-001　发布单位：东港市科学技术局</div>"
            "<p>时间：6月1日上午9时</p><p>各有关单位：现将办法印发给你们，请认真贯彻执行。</p>"
        ),
        "通知.html",
    )
    assert parsed.fields == {
        "发布时间": "2021-03-16",
        "来源": "市科技局",
        "索引号": "DG-2021-001",
        "发布单位": "东港市科学技术局",
    }
    assert "2021-03-16" not in parsed.text and "DG-2021-001" not in parsed.text
    assert "时间：6月1日上午9时" in _texts(parsed)  # one weak label alone is body text


def test_list_items_carry_their_lead_in_and_depth():
    parsed = read_html(
        _page(
            "<p>申请单位应当具备下列条件：</p><ul><li>注册在<b>本市</b>；</li>"
            "<li>具有下列资质之一：<ol><li>高新技术企业；</li><li>科技型中小企业。</li></ol></li></ul>"
        ),
        "条件.html",
    )
    items = [
        (b.lead_in, b.level, parsed.text[b.start : b.end])
        for b in parsed.blocks
        if b.kind == "list_item"
    ]
    assert items == [
        ("申请单位应当具备下列条件：", 1, "注册在本市；"),
        ("申请单位应当具备下列条件：", 1, "具有下列资质之一："),
        ("具有下列资质之一：", 2, "高新技术企业；"),
        ("具有下列资质之一：", 2, "科技型中小企业。"),
    ]


def test_heading_levels_start_at_one():
    parsed = read_html(
        _page("<h2>第一章 总则</h2><p>正文。</p><h4>第一节 目标</h4><p>正文二。</p>"), "章.html"
    )
    assert [
        (b.level, parsed.text[b.start : b.end]) for b in parsed.blocks if b.kind == "heading"
    ] == [
        (1, "第一章 总则"),
        (2, "第一节 目标"),
    ]


@pytest.mark.parametrize(
    "tab",
    [
        "关于开展科技特派员工作的通知_通知公告_东港市科学技术局",
        "关于开展科技特派员工作的通知 - 东港市人民政府网站",
    ],
)
def test_title_from_the_tab_drops_the_site_name(tab):
    body = "<p>为深入推进科技特派员制度，现就有关事项通知如下，请各单位认真组织实施并按期报送。</p>"
    parsed = read_html(_page(body, f"<title>{tab}</title>"), "特派员.html")
    assert parsed.title == "关于开展科技特派员工作的通知"


def test_unmarked_news_list_after_the_article_is_cut():
    article = "".join(
        f"<p>第{n}条 为了规范科技计划项目管理，提高财政资金使用效益，结合本市实际，制定本办法。</p>"
        for n in "一二三四五"
    )
    news = "<div>热点新闻</div><ul><li><a href='/1'>市长调研科技企业</a></li><li><a href='/2'>我市召开科技创新大会</a></li></ul>"
    parsed = read_html(
        _page(f"<div><div><h1>某某管理办法</h1>{article}</div><div>{news}</div></div>"), "办法.html"
    )
    assert _texts(parsed)[0] == "某某管理办法" and "第五条" in parsed.text
    assert "热点新闻" not in parsed.text and "科技创新大会" not in parsed.text


def test_text_without_markup_is_still_read():
    parsed = read_html("东港市科技局：本页只有一句话，没有任何标签。".encode(), "片段.html")
    assert parsed.text == "东港市科技局：本页只有一句话，没有任何标签。"


def test_gbk_page_is_decoded():
    page = "<html><head><meta charset='gbk'><title>创新券通知</title></head><body><p>每家企业每年最高30万元。</p></body></html>"
    parsed = read_html(page.encode("gbk"), "gbk.html")
    assert parsed.text == "每家企业每年最高30万元。"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><head><title>x</title><script>var a = 1;</script></head><body>  </body></html>",
        b"<<<>>>",
    ],
)
def test_a_page_without_text_raises(data):
    with pytest.raises(LoadError, match="没有可提取的文字"):
        read_html(data, "空.html")
