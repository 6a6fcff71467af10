"""Replays: a captured signed URL carries one (timestamp, nonce) pair; within the freshness
window that pair is remembered with the message it carried. Another message under the same pair
is refused (403) and never asked; WeChat's own retry of the same message is answered once."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from .conftest import (
    MP_ACCOUNT,
    MP_TOKEN,
    QUESTION,
    CountingAssistant,
    MpClient,
    configured,
    running,
    sign,
    text_xml,
    wechat_app,
)

_ids = itertools.count(9_200_000_000_000)
_nonces = itertools.count(700_000)


@pytest.fixture(scope="module")
def counted(warm_assistant, seed_settings):
    counter = CountingAssistant(warm_assistant)
    with running(wechat_app(lambda: counter, configured(seed_settings), reply_budget=60)) as url:
        yield url, counter


def _captured_url() -> tuple[str, str, dict]:
    ts, nonce = str(int(time.time())), str(next(_nonces))
    params = {"signature": sign(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    return ts, nonce, params


def _post_plain(url: str, params: dict, xml: str) -> httpx.Response:
    return httpx.post(f"{url}/wechat/mp", params=params, content=xml.encode(), timeout=60)


def _post_safe(url: str, params: dict, xml: str) -> httpx.Response:
    """Safe mode under a fixed pair, encrypted and signed as WeChat would (fresh random bytes)."""
    peer = MpClient(url).peer
    encrypt = peer.encrypt(xml)
    query = {
        **params,
        "encrypt_type": "aes",
        "msg_signature": sign(MP_TOKEN, params["timestamp"], params["nonce"], encrypt),
    }
    body = (
        f"<xml><ToUserName><![CDATA[{MP_ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    return httpx.post(f"{url}/wechat/mp", params=query, content=body.encode(), timeout=60)


@pytest.mark.parametrize("post", [_post_plain, _post_safe], ids=["plain", "safe"])
def test_a_captured_pair_cannot_carry_another_message(counted, post):
    url, counter = counted
    _, _, params = _captured_url()
    first = post(url, params, text_xml(QUESTION, str(next(_ids))))
    assert first.status_code == 200 and first.text != "success"
    forged = f"重放攻击的问题{post.__name__}"
    replay = post(url, params, text_xml(forged, str(next(_ids))))
    assert replay.status_code == 403
    assert forged not in counter.questions


@pytest.mark.parametrize("post", [_post_plain, _post_safe], ids=["plain", "safe"])
def test_wechats_retry_of_the_same_message_is_answered_once(counted, post):
    url, counter = counted
    _, _, params = _captured_url()
    question = f"重试的问题{post.__name__}：鲁科贷今年的目标是多少？"
    xml = text_xml(question, str(next(_ids)))
    first = post(url, params, xml)
    retry = post(url, params, xml)  # same pair, same message: WeChat resending
    assert first.status_code == 200 and retry.status_code == 200
    assert counter.questions.count(question) == 1


def test_pairs_are_forgotten_after_the_freshness_window():
    from assistant.wechat.security import MAX_CLOCK_SKEW_S, ReplayGuard

    now = [1_700_000_000.0]
    guard = ReplayGuard(clock=lambda: now[0])
    ts = str(int(now[0]))
    assert guard.admit(ts, "n1", "a")
    assert guard.admit(ts, "n1", "a")  # a retry
    assert not guard.admit(ts, "n1", "b")
    assert guard.admit(ts, "n2", "b")  # another pair
    now[0] += MAX_CLOCK_SKEW_S + 2  # the timestamp is no longer fresh: nothing to remember
    assert guard.admit(ts, "n1", "b") and len(guard._seen) == 1
