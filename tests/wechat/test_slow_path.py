"""The 5-second rule and retries: a slow answer is acknowledged with ``success`` and delivered
through WeChat's send API (a fake WeChat API server here); a retried message is answered once."""

from __future__ import annotations

import itertools

import pytest

from .conftest import (
    AGENT_ID,
    CORPID,
    MP_SECRET,
    QUESTION,
    SOURCE,
    WORK_SECRET,
    CountingAssistant,
    MpClient,
    WorkClient,
    configured,
    running,
    text_xml,
    wechat_app,
)

_ids = itertools.count(5_500_000_000_000)
SECOND = "技术经理人培训的目标是多少人次？"


def msg_id() -> str:
    return str(next(_ids))


def test_retried_msgid_is_answered_once(warm_assistant, seed_settings):
    counter = CountingAssistant(warm_assistant)
    with running(wechat_app(lambda: counter, configured(seed_settings), reply_budget=60)) as url:
        client = MpClient(url)
        xml = text_xml("鲁科贷今年的目标是多少家企业？", msg_id())
        first = client.reply(client.post(xml, mode="safe"))
        retry = client.reply(client.post(xml, mode="safe"))  # WeChat resends the same message
    assert counter.questions == ["鲁科贷今年的目标是多少家企业？"]
    assert retry["Content"] == first["Content"] and "500家" in first["Content"]


@pytest.fixture
def slow(warm_assistant, seed_settings, fake_wechat_api):
    """A server with a tiny reply budget whose assistant holds each question until released,
    and send-API credentials pointing at the fake WeChat API server."""
    api_url, api = fake_wechat_api
    counter = CountingAssistant(warm_assistant, hold=True)
    settings = configured(
        seed_settings,
        wechat_secret=MP_SECRET,
        wechat_api_base=api_url,
        wecom_secret=WORK_SECRET,
        wecom_agent_id=AGENT_ID,
        wecom_api_base=api_url,
    )
    with running(wechat_app(lambda: counter, settings, reply_budget=0.05)) as url:
        yield url, api, counter


def test_slow_mp_answer_is_sent_by_customer_service_api_with_one_cached_token(slow):
    url, api, counter = slow
    client = MpClient(url)
    xml = text_xml(QUESTION, msg_id(), sender="oSlowUser")

    resp = client.post(xml, mode="safe")
    assert resp.status_code == 200 and resp.text == "success"
    retry = client.post(xml, mode="safe")  # arrives while the first is still being answered
    assert retry.text == "success"
    counter.release(QUESTION)
    token, sent = api.next_sent()
    assert sent["touser"] == "oSlowUser" and sent["msgtype"] == "text"
    assert "500家" in sent["text"]["content"] and sent["text"]["content"].endswith(SOURCE)

    second = client.post(text_xml(SECOND, msg_id(), sender="oSlowUser"), mode="plain")
    assert second.text == "success"
    counter.release(SECOND)
    token2, sent2 = api.next_sent()
    assert "100人次" in sent2["text"]["content"]

    assert token == token2 == "MP-TOKEN-1"
    assert [c["api"] for c in api.token_calls] == ["stable_token"]  # fetched once, then cached
    assert api.token_calls[0]["grant_type"] == "client_credential"
    assert counter.questions == [QUESTION, SECOND]  # the retry started no second computation
    assert api.sent.empty()  # and no second delivery


def test_slow_wecom_answer_is_sent_by_message_send_with_one_cached_token(slow):
    url, api, counter = slow
    client = WorkClient(url)
    for question, expected in ((QUESTION, "500家"), (SECOND, "100人次")):
        xml = text_xml(question, msg_id(), to=CORPID, sender="WangWu", agent=True)
        assert client.post(xml).text == "success"
        assert client.post(xml).text == "success"  # retry while pending
        counter.release(question)
        token, sent = api.next_sent()
        assert token == "WORK-TOKEN-1"
        assert sent["touser"] == "WangWu" and sent["agentid"] == int(AGENT_ID)
        assert expected in sent["text"]["content"]
    assert [c["api"] for c in api.token_calls] == ["gettoken"]
    assert api.token_calls[0]["corpid"] == CORPID
    assert counter.questions == [QUESTION, SECOND]
    assert api.sent.empty()


def test_expired_token_is_fetched_again_and_the_answer_still_delivered(slow):
    url, api, counter = slow
    api.expired.add("MP-TOKEN-1")
    client = MpClient(url)
    assert client.post(text_xml(QUESTION, msg_id(), sender="oUser9")).text == "success"
    counter.release(QUESTION)
    token, sent = api.next_sent()
    assert token == "MP-TOKEN-2" and "500家" in sent["text"]["content"]
    assert [c["api"] for c in api.token_calls] == ["stable_token", "stable_token"]
    assert [c["force_refresh"] for c in api.token_calls] == [False, True]


def test_without_send_api_credentials_the_user_is_asked_to_resend(warm_assistant, seed_settings):
    counter = CountingAssistant(warm_assistant, hold=True)
    app = wechat_app(lambda: counter, configured(seed_settings), reply_budget=0.05)
    with running(app) as url:
        client = MpClient(url)
        pending = client.reply(client.post(text_xml(QUESTION, msg_id())))["Content"]
        assert "再发送一次" in pending
        counter.release(QUESTION)
        assert counter.finished.get(timeout=60) == QUESTION
        for _ in range(100):  # the user resends (a new MsgId); the answer may still be composing
            again = client.reply(client.post(text_xml(QUESTION, msg_id())))["Content"]
            if "再发送一次" not in again:
                break
    assert "500家" in again
    assert counter.questions == [QUESTION]  # the resend reused the finished answer
