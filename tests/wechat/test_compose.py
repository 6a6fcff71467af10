"""What a WeChat user reads, composed from an ``Answer``."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from assistant.models import Answer, Citation
from assistant.wechat.compose import MAX_REPLY_BYTES, answer_text, clip_bytes, strip_markers

SECTION = "四、夯实企业创新主体地位… › 13.优化全周期科技金融服务"


def _answer(text: str, abstained: bool = False, question: str = "鲁科贷？") -> Answer:
    citations = (
        []
        if abstained
        else [
            Citation(
                id=1,
                doc_id="d1",
                title="2025年全市科技工作要点",
                section=SECTION,
                text="…",
                score=0.9,
                start=0,
                end=1,
            )
        ]
    )
    return Answer(question=question, answer=text, abstained=abstained, citations=citations)


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("发放贷款25亿元以上。 [1]", "发放贷款25亿元以上。"),
        ("第一句。 [1]\n第二句。 [2]", "第一句。\n第二句。"),
        ("合并引用。 [1, 2]", "合并引用。"),
        ("数组[1]不是空格前缀也去掉", "数组不是空格前缀也去掉"),
    ],
    ids=["one", "per-line", "grouped", "no-space"],
)
def test_citation_markers_are_stripped(raw, clean):
    assert strip_markers(raw) == clean


def test_short_answer_gets_one_compact_source_line():
    text = answer_text(_answer("争取为500家企业发放贷款25亿元以上。 [1]"), "https://zc.example.cn")
    assert (
        text
        == "争取为500家企业发放贷款25亿元以上。\n\n来源：2025年全市科技工作要点 · 13.优化全周期科技金融服务"
    )
    assert "完整回答" not in text  # nothing was cut, so no link


def test_long_answer_is_trimmed_to_2048_bytes_with_a_link_to_the_full_answer():
    question = "科技金融" * 300  # a very long question must not blow up the link
    text = answer_text(
        _answer("很长的政策原文，" * 400 + " [1]", question=question), "https://zc.example.cn/"
    )
    assert len(text.encode("utf-8")) <= MAX_REPLY_BYTES
    body, _, rest = text.partition("…\n完整回答：")
    assert body.startswith("很长的政策原文")
    link, _, source = rest.partition("\n\n")
    assert link.startswith("https://zc.example.cn/ui?q=" + quote("科技金融"))
    assert len(link.encode()) <= 400
    assert source == "来源：2025年全市科技工作要点 · 13.优化全周期科技金融服务"


def test_long_answer_without_public_url_is_trimmed_without_a_link():
    text = answer_text(_answer("长" * 1500 + " [1]"), None)
    assert len(text.encode("utf-8")) <= MAX_REPLY_BYTES
    assert "…\n\n来源：" in text and "http" not in text


def test_abstention_says_so_plainly_and_cites_nothing():
    text = answer_text(
        _answer("已收录的政策文件中没有找到关于“上海”的规定。", abstained=True), None
    )
    assert text.startswith("已收录的政策文件中没有找到")
    assert "来源" not in text
    other = answer_text(_answer("资料不足以回答。", abstained=True), None)
    assert other.startswith("已收录的政策文件中没有找到这个问题的答案。")


def test_clip_never_splits_a_character():
    assert clip_bytes("政策问答", 7) == "政策"  # 3 bytes each: 7 bytes hold two characters
