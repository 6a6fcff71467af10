"""Question shapes the first builds misread: words jieba glues or keeps whole, places that are
not places, ratio signs, coined terms. Each would fail on the code before it."""

from __future__ import annotations

from assistant.answering.places import question_places
from assistant.answering.query import FACT_KINDS, analyse, key_terms
from assistant.text import quoted_terms


def test_a_verb_before_shi_is_not_a_city():
    # "听说市里……" is no place called 听说市; a place the national list lacks still is one
    assert question_places("你好，听说市里对这种情况还有额外奖励？", set()) == []
    assert question_places("请问，西岭市的创新券怎么领？", set()) == ["西岭市"]


def test_a_corpus_place_is_found_by_its_short_name():
    assert question_places("青川的创新券能拿去抵扣吗？", {"青川市"}) == ["青川"]


def test_a_word_holding_an_interrogative_is_an_asking_word():
    assert "几月份" not in key_terms("研发费补助一般几月份开始报")
    assert "多少次" not in key_terms("每年能申请多少次")


def test_the_ratio_sign_states_a_ratio():
    assert FACT_KINDS["rate"][1].search("补助资金由市级和县级财政按照6∶4的比例分担")


def test_materials_asked_as_what_to_hand_in():
    assert "materials" in analyse("除了申请表和认定文件还得交什么？").kinds


def test_what_was_actually_done_is_a_kind_of_fact():
    assert "actual" in analyse("2024年实际完成的技术合同成交额是多少？").kinds
    assert "actual" in analyse("今年的额度还剩多少？").kinds
    assert "actual" not in analyse("今年的额度是多少？").kinds
    assert "actual" not in analyse("还剩十几万，能不能结转？").kinds


def test_short_names_a_text_defines_or_abbreviates_are_coined_terms():
    text = (
        "本办法所称科技创新券（以下简称创新券），是指……。本通知所称服务券，是指……。"
        "本办法所称研发费用，是指……"
    )
    terms = quoted_terms(text)
    assert {"创新券", "服务券"} <= terms
    # a defined phrase of words jieba knows is left to jieba
    assert "研发费用" not in terms and "科技创新券" not in terms


def test_colloquial_asks_for_metadata_fields():
    from assistant.answering.fields import asked_fields

    assert asked_fields("那份工作要点是哪几个部门出的？") == ["issuers"]
    assert asked_fields("啥时候发的") == ["date"]
    assert asked_fields("这个方案管到哪年哪天？") == ["effective_to"]
    assert asked_fields("哪个部门负责受理？") == []  # who handles it, not who issued it


def test_a_person_and_a_choice_between_rates_are_kinds_of_fact():
    assert "person" in analyse("科技服务业科的负责人叫什么名字？").kinds
    assert "rate" in analyse("研发费用加计扣除现在是按100%还是120%加计？").kinds


def test_what_is_this_thing_asks_for_a_definition():
    from assistant.answering.query import DEFINITION_ASKED

    assert DEFINITION_ASKED.search("创新券到底是个什么东西？")


def test_the_name_of_an_activity_is_not_a_person():
    assert "person" not in analyse("常态化开展的外国专家活动叫什么名字？").kinds


def test_a_year_is_not_glued_to_the_word_after_it():
    terms = key_terms("2027年全社会研发经费投入强度的目标定的多少")
    assert "年全" not in terms and "社会" in terms


def test_the_kinds_of_figure_a_condition_sets_a_threshold_on():
    from assistant.answering.extractive import _thresholds

    assert _thresholds("上一年度营业收入不超过2亿元、从业人员500人以下") == {"money", "人"}
    assert _thresholds("按上一年度研发费用的5%给予补助") == set()


def test_what_about_x_then_a_question_is_one_ask():
    from assistant.answering.question import understand

    assert understand("那增量的呢？封顶多少").parts == ("那增量的呢？封顶多少",)
    assert len(understand("文号是什么呢？发布机构是哪个？").parts) == 2


def test_what_a_text_defines_does_not_depend_on_what_was_indexed_before_it():
    # another document quoting “冰雪装备” taught jieba the phrase; this text's definition of it is
    # still a phrase of two words, as it is when this text is read first
    from assistant.text import add_terms

    text = "本办法所称冰雪装备，是指……"
    before = quoted_terms(text)
    add_terms(["冰雪装备"])
    assert quoted_terms(text) == before == set()


def test_a_yes_no_question_of_you_or_not_is_a_part_of_its_own():
    from assistant.answering.question import understand

    # "有……没" and "……了没有" ask; a statement with 没有 in it does not
    assert understand("要交哪些材料？格式有要求没").parts == ("要交哪些材料？", "格式有要求没")
    assert len(understand("资金拨下来了没有？多久能到账？").parts) == 2
    assert understand("我们还没有高企证书，能申请吗").parts == ("能申请吗",)


def test_the_standard_of_a_support_asks_for_an_amount_or_a_rate():
    standard = FACT_KINDS["standard"][1]
    assert analyse("科技型中小企业贷款贴息的标准是什么？").kinds == ("standard",)
    assert standard.search("按实际利息的50%给予贴息") and standard.search("一次性奖励30万元")
    assert not standard.search("按照有关规定执行")


def test_two_asks_joined_by_a_comma_are_two_parts_unless_the_first_names_a_topic():
    from assistant.answering.question import understand

    assert understand("创新券是个什么东西，能换成现金吗？").parts == (
        "创新券是个什么东西，",
        "能换成现金吗？",
    )
    assert len(understand("补贴多少，什么时候发").parts) == 2
    # "X呢，……" names what the ask after it is about; "有没有X，有的话……" is one ask
    assert len(understand("要是专利质押贷款呢，利息补多少？").parts) == 1
    assert len(understand("有没有补贴，有的话多少").parts) == 1


def test_an_adverb_names_no_topic():
    from assistant.answering.support import names_topic

    assert not names_topic("到底") and not names_topic("究竟")
    assert names_topic("贴息")


def test_a_bare_what_is_asks_for_a_definition_only_when_no_other_kind_is_asked():
    from assistant.answering.query import asks_definition, defines

    assert asks_definition(analyse("创新券是什么？"))
    assert not asks_definition(analyse("申报条件是什么？"))  # conditions are asked
    assert defines("本通知所称创新券，是指市级财政……", ("创新券",))
    assert not defines("创新券不得兑换现金。", ("创新券",))


def test_a_long_code_is_no_phone_number():
    states = FACT_KINDS["contact"][1]
    assert not states.search("索引号：11371000004359096D/2025-01554")
    assert states.search("咨询：0631-5233123") and states.search("热线 12345678")


def test_words_for_the_city_itself_and_for_a_lower_bound_are_no_topics():
    # "市里能补多少" asks the city government; "起码要多大" a lower bound; "一年最多" a period
    assert "市里" not in key_terms("孵化器减免房租，市里能补多少")
    assert "起码" not in key_terms("场地面积起码要多大")
    assert "一年" not in key_terms("一年最多能领多少")
