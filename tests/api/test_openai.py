"""The OpenAI-compatible endpoint, driven by the official ``openai`` SDK and by raw requests shaped
like the bot frameworks' (chatgpt-on-wechat)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.api.live_server import OPENAI_KEYS

LUKEDAI = "今年计划给多少家企业发放鲁科贷？"
FINANCE_SECTION = "13.优化全周期科技金融服务"


@pytest.fixture
def sdk(api_server):
    with openai.OpenAI(base_url=f"{api_server.url}/v1", api_key="not-needed", max_retries=0) as c:
        yield c


def test_sdk_gets_a_cited_answer(sdk):
    resp = sdk.chat.completions.create(
        model="policy-assistant", messages=[{"role": "user", "content": LUKEDAI}]
    )
    content = resp.choices[0].message.content
    assert resp.choices[0].finish_reason == "stop" and resp.model == "policy-assistant"
    assert "500家" in content and "25亿元" in content and "[1]" in content
    assert "来源：" in content and FINANCE_SECTION in content
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0


def test_sdk_streams_a_cited_answer(sdk):
    stream = sdk.chat.completions.create(
        model="policy-assistant",
        messages=[{"role": "user", "content": LUKEDAI}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert (
        len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    )  # really streamed
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert "500家" in text and "来源：" in text and FINANCE_SECTION in text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_stream_is_event_stream_ending_with_done(http):
    body = {
        "model": "policy-assistant",
        "messages": [{"role": "user", "content": LUKEDAI}],
        "stream": True,
    }
    with http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2][len("data: ") :])
    assert last["choices"][0]["finish_reason"] == "stop" and last["choices"][0]["delta"] == {}


def test_chatgpt_on_wechat_shaped_request(http):
    # exactly the fields chatgpt-on-wechat's ChatGPTBot sends
    body = {
        "model": "gpt-3.5-turbo",
        "messages": [
            {
                "role": "system",
                "content": "你是ChatGPT, 一个由OpenAI训练的大型语言模型, 你旨在回答并解决人们的任何问题，并且可以使用多种语言与人交流。",
            },
            {"role": "user", "content": LUKEDAI},
        ],
        "temperature": 0.9,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "stream": False,
    }
    r = http.post(
        "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-anything"}
    )
    assert r.status_code == 200
    data = r.json()
    assert "500家" in data["choices"][0]["message"]["content"]
    assert isinstance(data["usage"]["total_tokens"], int) and data["usage"]["total_tokens"] > 0


def test_content_as_a_list_of_parts_and_unknown_fields(http):
    body = {
        "model": "policy-assistant",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "今年计划给多少家企业"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "text", "text": "发放鲁科贷？"},
                ],
            }
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": "auto",
        "max_tokens": 100,
        "n": 1,
        "user": "wx-123",
        "seed": 7,
    }
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert "500家" in r.json()["choices"][0]["message"]["content"]


def test_earlier_turns_make_follow_ups_work(sdk):
    messages = [
        {"role": "system", "content": "请简洁回答。"},
        {"role": "user", "content": "鲁科贷是什么？"},
        {
            "role": "assistant",
            "content": "用好“鲁科贷”政策…… [1]\n\n来源：\n[1]《2025年全市科技工作要点》",
        },
        {"role": "tool", "content": "（工具输出）", "tool_call_id": "call_1"},
        {"role": "user", "content": "今年目标是多少？"},
    ]
    followed = sdk.chat.completions.create(model="policy-assistant", messages=messages)
    alone = sdk.chat.completions.create(model="policy-assistant", messages=messages[-1:])
    assert "500家" in followed.choices[0].message.content
    assert "500家" not in alone.choices[0].message.content


def test_abstention_has_no_sources_block(sdk):
    resp = sdk.chat.completions.create(
        model="policy-assistant",
        messages=[{"role": "user", "content": "创新券的申请截止日期是什么时候？"}],
    )
    content = resp.choices[0].message.content
    assert "没有找到" in content and "来源：" not in content


def test_models_lists_policy_assistant(sdk):
    assert [m.id for m in sdk.models.list()] == ["policy-assistant"]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"messages": [{"role": "user", "content": "   "}]}, "不能为空"),
        ({"messages": [{"role": "user", "content": "鲁" * 2001}]}, "2000"),
        ({"messages": [{"role": "system", "content": "只有系统提示"}]}, "没有用户提问"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
        ({"model": "policy-assistant"}, "缺少字段 messages"),
    ],
    ids=["blank", "too-long", "no-user", "no-messages", "bad-role", "missing-messages"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_errors_use_the_openai_shape(http, payload, needle, stream):
    r = http.post("/v1/chat/completions", json={**payload, "stream": stream})
    assert r.status_code == 422
    error = r.json()["error"]
    assert set(error) == {"message", "type", "code"}
    assert needle in error["message"] and error["type"] == "invalid_request_error"


def test_malformed_json_uses_the_openai_shape(http):
    r = http.post(
        "/v1/chat/completions",
        content=b'{"messages": [',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


def test_sdk_raises_with_the_chinese_message(sdk):
    with pytest.raises(openai.UnprocessableEntityError) as info:
        sdk.chat.completions.create(
            model="policy-assistant", messages=[{"role": "user", "content": ""}]
        )
    assert "不能为空" in info.value.message


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "sk-first-key"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_keys_are_required_when_configured(private_server, path, headers):
    body = {"model": "policy-assistant", "messages": [{"role": "user", "content": LUKEDAI}]}
    method = "POST" if path.endswith("completions") else "GET"
    r = httpx.request(
        method,
        private_server.url + path,
        json=body if method == "POST" else None,
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("key", OPENAI_KEYS)
def test_every_configured_key_works(private_server, key):
    client = openai.OpenAI(base_url=f"{private_server.url}/v1", api_key=key, max_retries=0)
    resp = client.chat.completions.create(
        model="policy-assistant", messages=[{"role": "user", "content": LUKEDAI}]
    )
    assert "500家" in resp.choices[0].message.content


def test_stream_frames_a_replace_event_as_a_visible_correction():
    # LLM mode may retract a draft that fails citation checks; OpenAI clients cannot un-show
    # text, so the correction follows a marker (the events are the real StreamEvent type)
    from assistant.api.metrics import Metrics
    from assistant.api.routes.openai import CORRECTION, _sse
    from assistant.api.schemas import ChatMessage
    from assistant.models import Answer, Citation
    from assistant.service import StreamEvent

    cite = Citation(
        id=1,
        doc_id="d.txt",
        title="文件",
        section="一、总则",
        text="原文",
        score=1.0,
        start=0,
        end=2,
    )
    answer = Answer(question="q", answer="更正后的回答 [1]", abstained=False, citations=[cite])
    events = iter(
        [StreamEvent("replace", text="更正后的回答 [1]"), StreamEvent("answer", answer=answer)]
    )
    metrics = Metrics(list)
    first = StreamEvent("delta", text="草稿")
    messages = [ChatMessage(role="user", content="q")]
    frames = list(_sse(first, events, messages, metrics, include_usage=False))
    deltas = [json.loads(f[6:])["choices"][0]["delta"].get("content", "") for f in frames[:-1]]
    text = "".join(deltas)
    assert text == "草稿" + CORRECTION + "更正后的回答 [1]" + "\n\n来源：\n[1]《文件》一、总则"
    assert frames[-1] == "data: [DONE]\n\n"
    assert metrics.answers.labels("openai")._value.get() == 1
