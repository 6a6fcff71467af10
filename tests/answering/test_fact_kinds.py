"""The fact-kind table (answering.query.FACT_KINDS): what a question asks for, and what a unit
must state to answer it. Evidence sentences are from the devcorpus documents."""

from __future__ import annotations

import pytest

from assistant.answering.query import FACT_KINDS, analyse

ASKS_DURATION, STATES_DURATION, _label = FACT_KINDS["duration"]


@pytest.mark.parametrize(
    "question",
    [
        "重大科技创新工程项目的执行期是几年？",
        "创新券发放以后多长时间内有效？",
        "贷款贴息资金公示后多少天能拨付到企业账户？",
        "发下来以后能用多久？",
        "多少年内不能再申领？",
        "多少个工作日内完成审核？",
    ],
)
def test_how_long_questions_ask_for_a_length_of_time(question):
    assert "duration" in analyse(question).kinds


@pytest.mark.parametrize(
    ("question", "kind"),
    [("创新券每年几月份申领？", "deadline"), ("第几年发放剩余的40%？", None)],
    ids=["which-month", "ordinal"],
)
def test_which_month_and_which_year_are_not_lengths(question, kind):
    kinds = analyse(question).kinds
    assert "duration" not in kinds
    assert kind is None or kind in kinds


@pytest.mark.parametrize(
    "text",
    [
        "本办法自2025年3月1日起施行，有效期3年。",
        "第十二条 创新券自发放之日起12个月内有效，逾期未使用的自动作废。",
        "服务机构应当在服务合同履行完毕之日起30日内，通过服务平台提交兑付申请",
        "在市科技局网站公示5个工作日。",
        "安家补贴分3年发放，第一年发放50%",
    ],
)
def test_a_length_of_time_is_stated(text):
    assert STATES_DURATION.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "截止日期：2025年6月20日",  # a date
        "每项最高500万元",  # an amount
        "牵头企业上一年度研发投入不低于1000万元",  # a year of account
        "第二年、第三年各发放25%。",  # ordinals
        "对新引进的40周岁以下全日制博士研究生",  # an age
        "申领时间为每年3月1日至3月31日。",  # days of a month
    ],
)
def test_dates_amounts_ordinals_and_ages_are_not_lengths(text):
    assert not STATES_DURATION.search(text)
