"""Chunker on the seed document and on hostile long text."""

from __future__ import annotations

import re

import jieba
import pytest
from langchain_core.documents import Document

from assistant.chunk import MAX_CHARS, chunk_document
from assistant.load import load_file
from assistant.text import NUMBER_RE
from tests.conftest import SEED

# Written by hand from the work points: which top-level section each numbered item belongs to.
SECTIONS = {
    "一、全面强化党对科技工作的领导…": range(1, 5),
    "二、发挥科技创新组织统筹作用…": range(5, 7),
    "三、建强高水平创新平台载体…": range(7, 10),
    "四、夯实企业创新主体地位…": range(10, 14),
    "五、强化全链条科技服务…": range(14, 17),
    "六、深化科技开放合作…": range(17, 20),
    "七、营造良好创新创业氛围…": range(20, 24),
}


@pytest.fixture(scope="module")
def seed():
    doc = load_file(SEED, SEED.parent)
    return doc, chunk_document(doc)


def test_every_numbered_item_lands_under_its_section(seed):
    doc, chunks = seed
    for top, items in SECTIONS.items():
        for n in items:
            start = doc.page_content.index(f"\n{n}.") + 1
            owner = next(c for c in chunks if c.start <= start < c.end)
            parts = owner.section.split(" › ")
            assert parts[0] == top, (n, owner.section)
            assert re.match(rf"^{n}\.\S", parts[1]), (n, owner.section)
            assert "。" not in parts[1]


def test_section_path_matches_the_documented_example(seed):
    _, chunks = seed
    sections = {c.section for c in chunks}
    assert "五、强化全链条科技服务… › 16.优化科技成果转化服务" in sections
    assert "四、夯实企业创新主体地位… › 13.优化全周期科技金融服务" in sections


def test_offsets_point_at_the_chunk_text(seed):
    doc, chunks = seed
    for c in chunks:
        assert doc.page_content[c.start : c.end] == c.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_no_boundary_inside_a_number_or_a_word(seed):
    doc, chunks = seed
    text = doc.page_content
    numbers = [m.span() for m in NUMBER_RE.finditer(text)]
    for c in chunks:
        assert c.end - c.start <= MAX_CHARS
        for cut in (c.start, c.end):
            assert not any(s < cut < e for s, e in numbers), text[cut - 10 : cut + 10]
            line_start = text.rfind("\n", 0, cut) + 1
            line_end = text.find("\n", cut) if text.find("\n", cut) != -1 else len(text)
            para = text[line_start:line_end]
            bounds, pos = {0}, 0
            for tok in jieba.cut(para):
                pos += len(tok)
                bounds.add(pos)
            assert cut - line_start in bounds or cut == line_end


def test_title_and_heading_path_are_part_of_what_gets_indexed(seed):
    _, chunks = seed
    c = next(c for c in chunks if "鲁科贷" in c.text)
    assert c.index_text() == f"{c.title}\n{c.section}\n{c.text}"


def test_over_long_sentence_is_cut_on_token_boundaries_never_in_numbers():
    # one "sentence" of 900 characters with no punctuation at all
    unit = "支持科技型企业申请鲁科贷贷款25亿元以上推动科技成果转化应用落地见效"
    body = "1.测试条目。" + unit * 30
    doc = Document(page_content="一、总体要求\n" + body, metadata={"doc_id": "t", "title": "t"})
    chunks = chunk_document(doc)
    assert len(chunks) >= 3
    text = doc.page_content
    tokens_bounds, pos = set(), len("一、总体要求\n")
    tokens_bounds.add(pos)
    for tok in jieba.cut(body):
        pos += len(tok)
        tokens_bounds.add(pos)
    numbers = [m.span() for m in NUMBER_RE.finditer(text)]
    for c in chunks:
        assert c.end - c.start <= MAX_CHARS
        assert c.start in tokens_bounds and c.end in tokens_bounds
        assert not any(s < c.end < e for s, e in numbers)
        assert c.section == "一、总体要求 › 1.测试条目"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("第三条 申请创新券的企业应当具备下列条件。", "一、总则 › 第三条"),
        ("（二）加强科技金融服务,推动贷款。", "（二）加强科技金融服务…"),
    ],
    ids=["article", "sub-section"],
)
def test_other_numbering_styles_give_a_path(line, expected):
    doc = Document(
        page_content=f"一、总则\n{line}正文内容。", metadata={"doc_id": "t", "title": "t"}
    )
    chunks = chunk_document(doc)
    assert chunks[-1].section.endswith(expected)
    assert chunks[-1].section.startswith("一、总则")
