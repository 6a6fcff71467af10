"""Document shapes the product was not built around (copies of three documents of the unseen
eval set, another city, no domain dictionary), with the real embedder and Chroma. The questions
are written for these tests, not taken from the eval set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.service import Assistant
from tests.conftest import make_settings

DATA = Path(__file__).resolve().parents[1] / "data" / "unseen"
NEW = "青川市科技型企业研发费用补助办法.docx"
OLD = "青川市科技型企业研发费用补助办法（2020）.txt"
NOTICE = "关于开展2025年度青川市科技创新券申领工作的通知.txt"
PLAN = "青川市创新平台建设奖励实施方案.pdf"  # a 2024 plan whose targets are for 2027
POINTS = "白水县2025年科技特派员工作要点.md"  # issued by two offices; one contact, of one


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("unseen")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in (NEW, OLD, NOTICE, PLAN, POINTS):
        shutil.copy(DATA / name, corpus / name)
    a = Assistant(make_settings(root))
    a.build_index()
    return a


def test_a_revision_repeals_the_earlier_version_of_its_own_title(assistant):
    docs = {d.doc_id: d for d in assistant.documents()}
    assert docs[OLD].status == "已废止" and docs[NEW].status == "现行"
    assert docs[NEW].year == 2024  # its own 版记, not the repealed version's date


def test_the_current_version_answers_unless_the_old_one_is_asked_for(assistant):
    now = assistant.ask("研发费用补助的增量补助按多少比例给？")
    assert not now.abstained and "10%" not in now.answer
    assert {c.doc_id for c in now.citations} == {NEW}
    old = assistant.ask("2020年印发的那版研发费用补助办法，增量部分按多少比例补？")
    assert not old.abstained and "10%" in old.answer and old.citations[0].doc_id == OLD


def test_a_row_of_a_table_typed_as_text_answers_with_its_header(assistant):
    a = assistant.ask("检验检测服务用创新券抵扣，比例是多少？")
    assert not a.abstained
    assert a.citations[0].text == "检验检测 50% 10万元"  # quoted as typed


def test_an_eligibility_question_is_answered_from_the_conditions_in_force(assistant):
    # the current version's threshold (不低于50万元), never the repealed one's (不低于30万元).
    # (Whether the threshold condition outranks the others is the eligibility ranking's job:
    # extractive._thresholds has its own test; this question ranks it first either way.)
    a = assistant.ask("我们是一家做医疗软件的小公司，去年研发才投了30来万，能申请研发费用补助吗？")
    assert not a.abstained and "不低于50万元" in a.answer
    assert {c.doc_id for c in a.citations} == {NEW} and "不低于30万元" not in a.answer


def test_a_list_of_materials_is_the_answer_whole_and_nothing_else(assistant):
    # "（二）申领方式：……上传相关材料。" names the materials without listing them; the list under
    # "（三）申领材料：" is the answer, quoted alone
    a = assistant.ask("企业申领创新券时需要上传哪些材料？")
    assert not a.abstained and len(a.citations) == 1
    assert "营业执照复印件" in a.answer and "信用承诺书" in a.answer
    assert "申领方式" not in a.answer


def test_a_list_of_conditions_is_not_answered_by_a_list_of_materials(assistant):
    a = assistant.ask("依托单位申请创新平台建设奖励要满足哪些条件？")
    assert "申请表" not in a.answer  # the 申报材料 list is not what was asked


def test_an_unknown_compound_is_covered_by_its_words(assistant):
    # "文件格式" is used by no document; "……以PDF格式上传，单个文件不超过10MB" says 文件 and 格式
    a = assistant.ask("创新券申领材料的文件格式有规定吗？")
    assert not a.abstained and "PDF格式" in a.answer


def test_a_short_numbered_item_stating_a_figure_is_no_heading(assistant):
    # "3. 新认定市级重点实验室的，一次性奖励30万元。" is as short as a heading, but states a rule
    a = assistant.ask("新认定的市级重点实验室，一次性奖励多少钱？")
    assert not a.abstained and a.citations[0].text.endswith("一次性奖励30万元。")


def test_a_year_that_dates_a_list_in_its_lead_in_is_the_years_answer(assistant):
    # no document is dated 2027; the plan's list of targets is ("到2027年，……具体目标如下：")
    a = assistant.ask("到2027年，省级新型研发机构要有多少家？")
    assert not a.abstained and "不少于10" in a.answer
    # a year neither dated nor named by any document still has no answer
    b = assistant.ask("2029年省级新型研发机构要有多少家？")
    assert b.abstained and "2029" in b.answer


def test_what_a_coined_term_is_is_answered_by_its_defining_clause_alone(assistant):
    a = assistant.ask("创新券究竟是什么？")
    assert not a.abstained and len(a.citations) == 1
    assert a.citations[0].text.startswith("本通知所称创新券，是指")


def test_two_questions_joined_by_a_comma_are_each_answered(assistant):
    # the first is closed by its interrogative; the second asks about the same thing
    a = assistant.ask("创新券是个什么东西，能换成现金吗？")
    assert "是指" in a.answer and "兑换现金" in a.answer


def test_a_place_beside_the_covered_one_is_what_the_documents_call_outside(assistant):
    # "上海的机构" asked about 青川's vouchers: the rule on 市外服务机构 is the answer
    a = assistant.ask("我们打算请上海的一家机构做研发设计，青川的创新券能用来抵扣吗？")
    assert not a.abstained and "市外服务机构暂不纳入" in a.answer


def test_the_contact_of_an_office_is_only_given_by_a_unit_naming_it(assistant):
    # the points give one contact, of 县科技局; 县农业农村局 (a co-issuer) has none
    other = assistant.ask("县农业农村局负责特派员工作的同志，电话是多少？")
    assert other.abstained and not other.citations  # (the passages shown as 相关内容 may hold it)
    own = assistant.ask("县科技局管特派员工作的联系电话是多少？")
    assert not own.abstained and "6723 1185" in own.answer and len(own.citations) == 1


def test_a_phone_number_asked_with_duoshao_counts_nothing(assistant):
    a = assistant.ask("科技特派员的事找谁联系，电话多少？")
    assert not a.abstained and "6723 1185" in a.answer


def test_a_part_naming_no_topic_asks_about_the_part_before_it(assistant):
    # "一年最多给多少" names nothing of its own (一年 is how it is asked, not a topic — it must not
    # match "同一年度"): it asks the cap of the previous part's support
    a = assistant.ask("省级新型研发机构绩效优秀给多少运行经费？一年最多给多少？")
    assert not a.abstained and "100万元运行经费" in a.answer
    assert "1500万元" not in a.answer  # 同一依托单位同一年度……总额


def test_everyday_words_for_what_the_documents_say_formally(assistant):
    # 外地 for 市外, 过期 for 逾期, 市里 for the city itself, 起码 for a lower bound
    a = assistant.ask("找外地的服务机构，青川的创新券能结算吗？")
    assert not a.abstained and "市外服务机构" in a.answer
    b = assistant.ask("创新券过期了会怎么处理？")
    assert not b.abstained and "逾期" in b.answer


def test_a_reward_asked_at_one_level_is_not_answered_by_another_levels(assistant):
    # the plan rewards 国家技术创新中心分中心 and 省级工程技术研究中心, not 省级技术创新中心
    a = assistant.ask("我们刚获批了一个省级技术创新中心，能拿多少奖励？")
    assert a.abstained
    b = assistant.ask("我们刚获批了省级工程技术研究中心，能拿多少奖励？")
    assert not b.abstained and "100万元" in b.citations[0].text


def test_a_sum_the_asker_states_is_not_answered_from_the_targets(assistant):
    # "花了30万" asks what applies to the asker's own spending — never a plan's total
    a = assistant.ask("我们做研发设计花了30万，用创新券能抵掉多少钱？")
    assert not a.answer.startswith("目标：")  # (how the targets ledger answers)


def test_qualifying_asked_as_gou_bu_gou_ge_is_an_eligibility_question():
    from assistant.answering.question import understand

    asked = understand("我们是一家软件公司，去年研发费用四十多万，够不够格报研发费用补助？")
    assert asked.eligibility


def test_the_issuing_offices_are_read_once_per_index_state(assistant):
    scope = assistant.retriever.reader.scope
    assert ("农业农村局",) in scope.offices and ("科学技术局", "科技局") in scope.offices
    assert scope.offices is scope.offices  # derived once, not per question
