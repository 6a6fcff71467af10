"""The spelling table (``assistant.spelling.Corrector``): pinyin and homophone lookups over the
corpus's words, rebuilt for each index state from the previous state's sounds."""

from __future__ import annotations

from assistant.spelling import Corrector

WORDS = ["创新券", "研发补助", "科技贷款", "高新技术企业", "孵化器", "鲁科贷"]


def test_a_table_built_on_a_previous_one_equals_one_built_from_scratch():
    old = Corrector(WORDS)
    new_words = [*WORDS[1:], "科技成果转化", "众创空间"]  # one word gone, two new
    carried = Corrector(new_words, previous=old)
    scratch = Corrector(new_words)
    assert carried.by_sound == scratch.by_sound and carried.by_roman == scratch.by_roman
    assert carried.known == scratch.known and "创新券" not in carried.known
    # the words both know are not read again: their sounds are the previous table's objects
    assert carried._sounds["研发补助"] is old._sounds["研发补助"]
    assert carried.correct("keji daikuan 怎么申请") == scratch.correct("keji daikuan 怎么申请")
    assert "科技贷款" in carried.correct("keji daikuan 怎么申请")


def test_a_look_alike_character_is_a_typo_of_the_term_that_has_the_intended_one():
    c = Corrector(["创新券", "科技贷款", "试卷费"])
    assert c.correct("创新劵一年最多能领多少") == "创新券一年最多能领多少"
    assert c.correct("我想申请创新卷") == "我想申请创新券"
    assert c.correct("科技货款利率") == "科技贷款利率"
    # a word with the look-alike where it belongs is no typo
    assert c.correct("试卷费多少") == "试卷费多少" and c.correct("卷烟厂") == "卷烟厂"
