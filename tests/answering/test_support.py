"""Whether the chosen unit speaks of what was asked (answering.support), on sentences of the
devcorpus documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering.decide import MAX_GAP
from assistant.answering.support import aspect_words, gap, names_topic, specificity

DATA = Path(__file__).resolve().parents[1] / "data" / "devcorpus"


def _line(doc: str, piece: str) -> str:
    text = (DATA / doc).read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if piece in line)


USE_OF_FUNDS = _line("东港市企业研发投入后补助实施细则.md", "不得用于偿还债务")
VOUCHER_OFFSET = _line("东港市科技创新券管理办法.txt", "按合同金额的40%抵扣")


@pytest.mark.parametrize("word", ["所得税", "担保费", "公立医院"])
def test_a_specific_noun_is_specific_enough_to_be_a_gap(word):
    assert specificity(word) >= MAX_GAP


@pytest.mark.parametrize("word", ["如果", "另外", "一起", "继续执行"])
def test_everyday_words_and_compounds_of_them_are_not(word):
    assert specificity(word) < MAX_GAP


@pytest.mark.parametrize("word", ["十几万", "八千万", "1500", "接着", "这边", "怎么", "人到"])
def test_numbers_asking_words_function_words_and_fragments_name_no_topic(word):
    assert not names_topic(word)


@pytest.mark.parametrize("word", ["所得税", "传感器", "公寓", "结转", "LPR"])
def test_nouns_verbs_and_latin_words_can_name_a_topic(word):
    assert names_topic(word)


def test_the_words_next_to_an_interrogative_name_the_kind_of_fact():
    assert {"时间", "时候"} <= aspect_words("研发投入后补助的网上填报时间是什么时候？")
    assert "所得税" not in aspect_words("研发投入后补助资金需要缴纳企业所得税吗？")


def test_a_unit_that_leaves_out_the_thing_asked_about_has_a_gap():
    terms = {"补助": ["补贴"], "资金": [], "缴纳": [], "所得税": []}
    value, word = gap("研发投入后补助资金需要缴纳企业所得税吗？", terms, USE_OF_FUNDS)
    assert word == "所得税" and value >= MAX_GAP


def test_a_unit_that_says_it_has_no_gap():
    terms = {"补助": ["补贴"], "资金": [], "用于": [], "偿还": [], "债务": []}
    assert gap("补助资金能用于偿还债务吗？", terms, USE_OF_FUNDS) == (0.0, None)


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        # a paraphrase sharing two characters with the unit: 服务合同 / 合同金额
        ("创新券按服务合同的多少比例抵扣？", {"服务合同": [], "抵扣": [], "比例": []}),
        # colloquial verbs are how people ask, not what they ask about
        ("要是没钱了，创新券按多少抵扣？", {"没钱": [], "抵扣": []}),
    ],
    ids=["paraphrase", "colloquial-verb"],
)
def test_paraphrases_and_colloquial_words_are_not_gaps(question, terms):
    value, _ = gap(question, terms, VOUCHER_OFFSET)
    assert value < MAX_GAP


def test_a_noun_quoted_only_at_another_level_is_a_near_miss():
    from assistant.answering.support import other_level

    national = "新获批国家工程技术研究中心（含国家技术创新中心分中心）的，一次性奖励800万元。"
    assert other_level("刚获批了省级技术创新中心，能奖励多少？", national) == "省级技术创新中心"
    assert other_level("市级孵化器奖励多少", "对新认定的国家级孵化器，给予一次性奖励100万元。")
    # the asked level among others, or no level at all in the unit: no near miss
    both = "省级新型研发机构给予100万元运行经费支持，市级新型研发机构给予30万元运行经费支持；"
    assert other_level("省级新型研发机构给多少运行经费", both) is None
    assert other_level("国家高新技术企业能领多少", "高新技术企业每年最高30万元；") is None
    # the noun is read up to the question's punctuation ("省级孵化器，市里……")
    assert other_level("被认定为省级孵化器，给多少奖励", "对新认定的市级孵化器，给予奖励50万元；")
