"""The amount-range grammar that matches a question's amount to a table tier."""

from __future__ import annotations

import math

import pytest

from assistant.answering.ranges import amounts, row_fits, tier

TIERS = ("500万元（含）以下", "500万元以上至2000万元（含）", "2000万元以上")


@pytest.mark.parametrize(
    ("cell", "span"),
    [
        ("500万元（含）以下", (-math.inf, 5e6)),
        ("500万元以上至2000万元（含）", (5e6, 2e7)),
        ("2000万元以上", (2e7, math.inf)),
        ("不超过1亿元", (-math.inf, 1e8)),
        ("每项最高500万元", None),
    ],
)
def test_tier_cells_read_as_intervals(cell, span):
    got = tier(cell)
    assert (got[:2] if got else None) == span


@pytest.mark.parametrize(
    ("question", "fits"),
    [
        ("研发费用增量是1500万元", [False, True, False]),
        ("多了三百来万", [True, False, False]),
        ("增量超过2000万元的企业", [False, False, True]),
        ("刚好2000万元", [False, True, False]),
        ("2024年的比例是多少", [None, None, None]),  # a year is not an amount
    ],
)
def test_a_question_amount_falls_in_one_tier(question, fits):
    assert [row_fits(question, (c,)) for c in TIERS] == fits


def test_amounts_read_chinese_numerals_and_units():
    assert amounts("三百来万") == [(3e6, "money")]
    assert amounts("1.5亿元") == [(1.5e8, "money")]
