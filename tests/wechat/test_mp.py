"""公众号 callbacks over real HTTP: verification, and text / subscribe / image in each mode."""

from __future__ import annotations

import itertools

import pytest

from .conftest import MP_ACCOUNT, QUESTION, SOURCE, event_xml, image_xml, text_xml

_ids = itertools.count(7_300_000_000_000_000_000)
MODES = ["plain", "compatible", "safe"]


def msg_id() -> str:
    return str(next(_ids))


def test_get_verification_echoes_echostr(mp):
    resp = mp.verify("8071914532017621354")
    assert resp.status_code == 200
    assert resp.text == "8071914532017621354"


def test_get_verification_with_a_wrong_signature_is_refused(mp):
    resp = mp.verify("8071914532017621354", bad=True)
    assert resp.status_code == 403
    assert "8071914532017621354" not in resp.text


@pytest.mark.parametrize("mode", MODES)
def test_text_question_is_answered_with_a_cited_short_answer(mp, mode):
    resp = mp.post(text_xml(QUESTION, msg_id()), mode=mode)
    reply = mp.reply(resp)
    assert reply["ToUserName"] == "oUser1"
    assert reply["FromUserName"] == MP_ACCOUNT
    assert reply["MsgType"] == "text"
    content = reply["Content"]
    assert "500家" in content and "25亿元" in content
    assert "[1]" not in content
    assert content.endswith("\n\n" + SOURCE)
    assert len(content.encode("utf-8")) <= 2048
    if mode == "plain":
        assert "<Encrypt>" not in resp.text
    else:  # answered in kind: encrypted, signed, for our appid (checked by mp.reply)
        assert "<Encrypt>" in resp.text and "500家" not in resp.text


@pytest.mark.parametrize("mode", MODES)
def test_subscribe_gets_a_welcome_with_three_example_questions(mp, mode):
    content = mp.reply(mp.post(event_xml("subscribe"), mode=mode))["Content"]
    assert content.startswith("欢迎")
    examples = [line for line in content.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(examples) == 3 and all(line.endswith("？") for line in examples)


@pytest.mark.parametrize("mode", MODES)
def test_image_gets_text_only_notice(mp, mode):
    assert mp.reply(mp.post(image_xml(msg_id()), mode=mode))["Content"] == "暂只支持文字提问"


def test_unsubscribe_needs_no_reply(mp):
    resp = mp.post(event_xml("unsubscribe"))
    assert resp.status_code == 200 and resp.text == "success"


def test_question_the_documents_do_not_answer_says_so(mp):
    content = mp.reply(mp.post(text_xml("上海的人才补贴是多少？", msg_id())))["Content"]
    assert content.startswith("已收录的政策文件中没有找到")
    assert "来源：" not in content
