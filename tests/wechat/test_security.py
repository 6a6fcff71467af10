"""Refusals: forged or replayed requests are refused before anything is parsed or asked;
hostile or broken XML is refused; answer text cannot break out of its CDATA."""

from __future__ import annotations

import itertools
import logging
import time

import httpx
import pytest
import xmltodict

from assistant.models import Answer, Citation

from .conftest import (
    CORPID,
    QUESTION,
    CountingAssistant,
    MpClient,
    WorkClient,
    configured,
    running,
    text_xml,
    wechat_app,
)

_ids = itertools.count(9_100_000_000_000)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
    "<FromUserName><![CDATA[oUser1]]></FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)


def msg_id() -> str:
    return str(next(_ids))


@pytest.fixture(scope="module")
def counted(warm_assistant, seed_settings):
    """A server whose assistant counts questions: refused requests must never reach it."""
    counter = CountingAssistant(warm_assistant)
    with running(wechat_app(lambda: counter, configured(seed_settings), reply_budget=60)) as url:
        yield url, counter


@pytest.mark.parametrize(
    "mode, tamper",
    [
        ("plain", "signature"),
        ("compatible", "signature"),
        ("compatible", "msg_signature"),
        ("safe", "signature"),
        ("safe", "msg_signature"),
    ],
)
def test_tampered_signature_is_refused_and_nothing_is_asked(counted, mode, tamper):
    url, counter = counted
    question = f"篡改签名的问题{mode}{tamper}"
    resp = MpClient(url).post(text_xml(question, msg_id()), mode=mode, tamper=tamper)
    assert resp.status_code == 403
    assert question not in counter.questions


@pytest.mark.parametrize("age", [-400, 400, 86_400], ids=["future", "stale", "a-day-old"])
def test_stale_timestamp_is_refused_even_when_signed(counted, age):
    url, counter = counted
    question = f"过期时间戳的问题{age}"
    resp = MpClient(url).post(
        text_xml(question, msg_id()), mode="safe", timestamp=int(time.time()) - age
    )
    assert resp.status_code == 403
    resp = WorkClient(url).post(
        text_xml(question, msg_id(), to=CORPID), timestamp=int(time.time()) - age
    )
    assert resp.status_code == 403
    assert question not in counter.questions


def test_unsigned_garbage_is_refused_with_403_not_parsed(counted):
    url, _ = counted
    resp = httpx.post(f"{url}/wechat/mp", content=b"<xml><unclosed>", timeout=30)
    assert resp.status_code == 403
    resp = httpx.post(
        f"{url}/wechat/work",
        params={"msg_signature": "x", "timestamp": "1", "nonce": "1"},
        content=b"<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>",
        timeout=30,
    )
    assert resp.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName><![CDATA[gh]]></ToUserName>",
        "not xml at all",
        "<xml></xml>",
        (
            "<xml><ToUserName>a</ToUserName><ToUserName>b</ToUserName><FromUserName>u</FromUserName>"
            "<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"
        ),
    ],
    ids=["unclosed", "text", "empty-message", "repeated-field"],
)
@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_malformed_xml_is_a_400(counted, body, mode):
    url, _ = counted
    assert MpClient(url).post(body, mode=mode).status_code == 400


def test_malformed_inner_xml_from_wecom_is_a_400(counted):
    url, _ = counted
    assert WorkClient(url).post("<xml><MsgType>text").status_code == 400


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_xxe_payload_is_refused(counted, mode):
    url, counter = counted
    before = len(counter.questions)
    resp = MpClient(url).post(XXE, mode=mode)
    assert resp.status_code == 400
    assert "root:" not in resp.text
    assert len(counter.questions) == before


def test_xxe_payload_is_refused_by_wecom(counted):
    url, _ = counted
    resp = WorkClient(url).post(XXE.replace("gh_0123456789ab", CORPID))
    assert resp.status_code == 400


def test_oversized_body_is_refused(counted):
    url, counter = counted
    padding = "政" * 40_000  # 120 KB
    resp = MpClient(url).post(text_xml("超大请求" + padding, msg_id()))
    assert resp.status_code == 413
    # and without a Content-Length (chunked), the cap holds while reading
    client = MpClient(url)
    resp = client.post("", body=iter([b"<xml>" + b"x" * 70_000 + b"</xml>"]))  # type: ignore[arg-type]
    assert resp.status_code == 413
    assert not any(q.startswith("超大请求") for q in counter.questions)


class CdataBreaker:
    """An assistant-like object whose answer text tries to close the CDATA section."""

    def ask(self, question: str, **kwargs) -> Answer:
        return Answer(
            question=question,
            answer="第一段]]><Content>伪造</Content><![CDATA[第二段 & <b>原样</b> [1]",
            abstained=False,
            citations=[
                Citation(
                    id=1,
                    doc_id="d",
                    title="测试文件",
                    section="一、总则 › 1.目的",
                    text="…",
                    score=1.0,
                    start=0,
                    end=1,
                )
            ],
        )


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_answer_containing_cdata_end_still_parses_as_one_content(seed_settings, mode):
    app = wechat_app(lambda: CdataBreaker(), configured(seed_settings), reply_budget=30)
    with running(app) as url:
        client = MpClient(url)
        resp = client.post(text_xml("CDATA 测试", msg_id()), mode=mode)
        reply = client.reply(resp)
    assert reply["Content"] == (
        "第一段]]><Content>伪造</Content><![CDATA[第二段 & <b>原样</b>\n\n来源：测试文件 · 1.目的"
    )
    inner = xmltodict.parse(
        client.peer.open_reply(resp.text, resp.nonce) if mode == "safe" else resp.text
    )
    assert isinstance(inner["xml"]["Content"], str)  # one element, not a list


def test_endpoint_with_missing_settings_answers_404_and_logs_why(
    warm_assistant, seed_settings, caplog
):
    settings = configured(seed_settings, wecom_token=None, wecom_aes_key=None)
    app = wechat_app(lambda: warm_assistant, settings, reply_budget=30)
    with caplog.at_level(logging.INFO, logger="assistant.wechat"), running(app) as url:
        assert httpx.get(f"{url}/wechat/work", timeout=30).status_code == 404
        assert WorkClient(url).post(text_xml(QUESTION, "1", to=CORPID)).status_code == 404
        assert MpClient(url).verify("123").text == "123"  # the other endpoint runs
    assert any(
        "PA_WECOM_TOKEN" in r.getMessage() and "PA_WECOM_AES_KEY" in r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
    )
