"""The devcorpus documents (copies in tests/data/devcorpus) loaded and chunked by their own
structure: articles under chapters, lists with their lead-in, 问/答 pairs, table rows with
headers, 公文 metadata, repeal relations — and offsets that point exactly at the text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.chunk import chunk_document
from assistant.load import load_corpus

DATA = Path(__file__).resolve().parents[1] / "data" / "devcorpus"


@pytest.fixture(scope="module")
def corpus():
    report = load_corpus(DATA)
    assert not report.errors
    return {d.metadata["source"]: d for d in report.documents}


@pytest.fixture(scope="module")
def chunks(corpus):
    return {name: chunk_document(doc) for name, doc in corpus.items()}


def test_every_chunk_and_block_offset_points_at_its_text(corpus, chunks):
    for name, doc in corpus.items():
        for c in chunks[name]:
            assert doc.page_content[c.start : c.end] == c.text, name
        for b in doc.blocks:
            assert b.end > b.start and doc.page_content[b.start : b.end].strip(), name


def test_articles_are_units_under_their_chapter(chunks):
    arts = [c for c in chunks["东港市科技创新券管理办法.txt"] if c.kind == "article"]
    assert len(arts) == 20  # 第一条 … 第二十条, one unit each
    fourth = next(c for c in arts if c.text.startswith("第四条"))
    assert fourth.section == "第二章 申领条件 › 第四条"
    # an article's body on the same line as its number is text, not a heading path
    assert "申领创新券的企业应当同时具备下列条件" in fourth.text
    # the article after the enumeration is its own unit, not nested under "（五）"
    fifth = next(c for c in arts if c.text.startswith("第五条"))
    assert fifth.section == "第二章 申领条件 › 第五条"


def test_enumeration_stays_with_its_lead_in(chunks):
    fourth = next(c for c in chunks["东港市科技创新券管理办法.txt"] if c.text.startswith("第四条"))
    assert all(f"（{n}）" in fourth.text for n in "一二三四五")
    materials = next(
        c for c in chunks["东港市科技创新券管理办法.txt"] if c.text.startswith("第十条")
    )
    assert "营业执照复印件" in materials.text and "企业信用承诺书" in materials.text
    md = chunks["东港市企业研发投入后补助实施细则.md"]
    conditions = next(c for c in md if c.text.startswith("申报企业应当同时满足以下条件："))
    assert conditions.kind == "list" and "独立法人资格" in conditions.text


def test_qa_pairs_are_whole(chunks):
    qa = [c for c in chunks["东港市高层次人才创新创业扶持政策解读.txt"] if c.kind == "qa"]
    assert len(qa) == 12
    for c in qa:
        assert c.text.startswith("问：") and "答：" in c.text


def test_table_rows_are_units_with_their_headers(chunks):
    rows = [c for c in chunks["东港市科技计划项目申报指南.docx"] if c.kind == "table_row"]
    assert len(rows) == 4
    assert all(c.text.startswith("项目类别：") and "支持金额：" in c.text for c in rows)
    key = next(c for c in rows if "重点研发计划" in c.text)
    assert "每项最高100万元" in key.text and "截止日期：" in key.text
    md_rows = [c for c in chunks["东港市企业研发投入后补助实施细则.md"] if c.kind == "table_row"]
    assert len(md_rows) == 3
    assert all("补助比例：" in c.text and "单个企业上限：" in c.text for c in md_rows)


def test_pdf_text_has_no_break_inside_a_sentence_and_no_running_header(corpus, chunks):
    doc = corpus["东港市科技成果转化奖励办法.pdf"]
    for c in chunks["东港市科技成果转化奖励办法.pdf"]:
        for line in c.text.split("\n")[:-1]:
            # a break follows a sentence end, or a short standalone line (文号, title, signature)
            assert re.search(r"[。！？；：）]$", line) or (len(line) <= 30 and "，" not in line), (
                line
            )
    assert "东港市科学技术局文件" not in doc.page_content
    assert not re.search(r"第\s*\d+\s*页", doc.page_content)
    fifth = next(c for c in chunks["东港市科技成果转化奖励办法.pdf"] if c.text.startswith("第五条"))
    assert "2%" in fifth.text and "100万元" in fifth.text and fifth.page == 1  # crosses a page


def test_html_keeps_main_content_only(corpus):
    doc = corpus["关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知.html"]
    assert "贴息比例为90%" not in doc.page_content  # decoy in <script>/<style>
    for chrome in ("网站标识码", "版权所有", "当前位置", "打印本页"):
        assert chrome not in doc.page_content
    assert doc.metadata["title"] == "关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知"


EXPECTED = {
    "东港市科技创新券管理办法.txt": dict(
        doc_no="东科发〔2025〕12号",
        issuers=["东港市科学技术局", "东港市财政局"],
        date="2025-02-10",
        effective_from="2025-03-01",
        effective_to="2028-02-29",
        status="现行",
    ),
    "东港市科技创新券管理暂行办法（2021）.txt": dict(
        doc_no="东科发〔2021〕8号",
        issuers=["东港市科学技术局"],
        date="2021-03-15",
        effective_from="2021-04-01",
        status="已废止",
        superseded_by="东港市科技创新券管理办法.txt",
    ),
    "东港市企业研发投入后补助实施细则.md": dict(
        doc_no="东科规〔2025〕3号",
        issuers=["东港市科学技术局", "东港市财政局"],
        date="2025-04-08",
        effective_from="2025-05-01",
        effective_to="2027-12-31",
        status="现行",
    ),
    "关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知.html": dict(
        doc_no="东科函〔2025〕27号",
        issuers=["东港市科学技术局"],
        date="2025-05-12",
        index_no="11371100DG0012345X/2025-00387",
        status="现行",
    ),
    "东港市高层次人才创新创业扶持政策解读.txt": dict(
        issuers=["东港市科学技术局"],
        published="2025-03-20",
        interprets="东港市高层次人才创新创业扶持办法",
    ),
    "东港市2024年科技工作要点.txt": dict(
        doc_no="东科发〔2024〕5号",
        issuers=["东港市科学技术局"],
        date="2024-02-26",
        year=2024,
    ),
    "东港市2025年科技工作要点.txt": dict(
        doc_no="东科发〔2025〕9号",
        date="2025-01-24",
        year=2025,
        title="东港市2025年科技工作要点",
    ),
    "东港市科技成果转化奖励办法.pdf": dict(
        doc_no="东科发〔2025〕18号",
        issuers=["东港市科学技术局", "东港市财政局"],
        date="2025-03-28",
        effective_from="2025-05-01",
        title="东港市科技成果转化奖励办法",
    ),
    "东港市科技计划项目申报指南.docx": dict(
        issuers=["东港市科学技术局"],
        title="2025年度东港市科技计划项目申报指南",
        year=2025,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n[:14])
def test_metadata_equals_hand_checked_values(corpus, name):
    meta = corpus[name].metadata
    for key, value in EXPECTED[name].items():
        assert meta[key] == value, (key, meta[key])
    assert meta["places"] == ["东港市"]


def test_repealed_version_points_at_its_successor(corpus):
    old = corpus["东港市科技创新券管理暂行办法（2021）.txt"].metadata
    new = corpus["东港市科技创新券管理办法.txt"].metadata
    assert old["status"] == "已废止" and old["superseded_by"] == new["doc_id"]
    assert new["status"] == "现行" and new["superseded_by"] is None
    assert new["repeals"] == [
        {"title": "东港市科技创新券管理暂行办法", "doc_no": "东科发〔2021〕8号"}
    ]


def test_chunks_carry_the_document_status(chunks):
    assert {c.status for c in chunks["东港市科技创新券管理暂行办法（2021）.txt"]} == {"已废止"}
    assert {c.status for c in chunks["东港市科技创新券管理办法.txt"]} == {"现行"}


def test_metadata_box_is_one_quotable_block(corpus):
    doc = corpus["关于组织申报2025年度东港市科技型中小企业贷款贴息项目的通知.html"]
    first = doc.blocks[0]
    assert first.kind == "metadata"
    text = doc.page_content[first.start : first.end]
    assert "文号：东科函〔2025〕27号" in text and "索引号：11371100DG0012345X/2025-00387" in text
