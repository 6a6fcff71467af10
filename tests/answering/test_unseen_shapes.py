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


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    root = tmp_path_factory.mktemp("unseen")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in (NEW, OLD, NOTICE):
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
