"""企业微信 self-built app callbacks over real HTTP: always encrypted, receive id = corpid."""

from __future__ import annotations

import itertools

from .conftest import CORPID, QUESTION, SOURCE, event_xml, image_xml, text_xml

_ids = itertools.count(8_400_000_000_000)


def msg_id() -> str:
    return str(next(_ids))


def test_get_verification_returns_the_decrypted_echostr(work):
    resp = work.verify("1288432023552776189")
    assert resp.status_code == 200
    assert resp.text == "1288432023552776189"


def test_get_verification_with_a_wrong_msg_signature_is_refused(work):
    resp = work.verify("1288432023552776189", bad=True)
    assert resp.status_code == 403
    assert "1288432023552776189" not in resp.text


def test_text_question_is_answered_encrypted_for_the_corp(work):
    resp = work.post(text_xml(QUESTION, msg_id(), to=CORPID, sender="ZhangSan", agent=True))
    assert "500家" not in resp.text  # the passive reply is encrypted
    reply = work.reply(resp)  # decrypts, checks MsgSignature, nonce and corpid
    assert reply["ToUserName"] == "ZhangSan"
    assert reply["FromUserName"] == CORPID
    content = reply["Content"]
    assert "500家" in content and "25亿元" in content and "[1]" not in content
    assert content.endswith("\n\n" + SOURCE)


def test_subscribe_and_image(work):
    welcome = work.reply(work.post(event_xml("subscribe", to=CORPID, sender="LiSi")))["Content"]
    assert welcome.startswith("欢迎") and welcome.count("？") == 3
    notice = work.reply(work.post(image_xml(msg_id(), to=CORPID, sender="LiSi")))["Content"]
    assert notice == "暂只支持文字提问"


def test_tampered_msg_signature_is_refused(work):
    resp = work.post(text_xml(QUESTION, msg_id(), to=CORPID, sender="ZhangSan"), tamper=True)
    assert resp.status_code == 403
