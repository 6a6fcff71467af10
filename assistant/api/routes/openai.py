"""OpenAI-compatible ``GET /v1/models`` and ``POST /v1/chat/completions`` (model ``policy-assistant``).

This is what lets bot frameworks (chatgpt-on-wechat, LangBot) and chat front ends (Open WebUI,
NextChat, Cherry Studio, Dify) use the assistant as a "model". The answer's sources are appended
to the content as a short 来源 block, since those clients show nothing but the text.

Streaming consumes ``Assistant.stream()`` events as they come: ``delta`` pieces are sent as
``chat.completion.chunk`` deltas; a ``replace`` (the streamed draft failed verification) cannot be
taken back from an OpenAI client, so the correction follows a visible marker; the final ``answer``
brings the 来源 block, then ``finish_reason: "stop"`` and ``data: [DONE]``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...errors import AssistantError, InvalidQuestionError
from ...models import Answer, StreamEvent
from ..deps import AssistantDep, MetricsDep, OpenAIKey, WorkersDep
from ..handlers import openai_error, status_for
from ..metrics import Metrics
from ..openapi import errors
from ..schemas import ChatCompletionRequest, ChatMessage

MODEL_ID = "policy-assistant"
CREATED = 1735689600  # 2025-01-01: a fixed "model release" time for /v1/models
CORRECTION = "\n\n（以上内容未通过出处核对，以下为更正后的回答）\n\n"
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")

router = APIRouter(
    prefix="/v1",
    tags=["OpenAI 兼容"],
    dependencies=[OpenAIKey],
    responses=errors(401, 413, 429, openai=True),
)
_STREAM = {
    200: {
        "description": "`stream: false`：chat.completion 对象；`stream: true`：SSE 事件流"
        "（chat.completion.chunk … `data: [DONE]`）",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            # one event (OpenAPI 3.1 has ``schema`` describe each event of a stream)
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "string",
                            "description": "chat.completion.chunk 的 JSON，最后是 [DONE]",
                        },
                        "event": {"type": "string"},
                    },
                }
            },
        },
    },
    **errors(422, 503, openai=True),
}


@router.get("/models", summary="模型列表（OpenAI 兼容）")
def list_models() -> dict:
    return {
        "object": "list",
        "data": [
            {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "policy-assistant"}
        ],
    }


def split_conversation(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    """The question is the last user message; the user/assistant/tool turns before it are the
    history that follow-ups are read against. System prompts are ignored: the assistant's rules
    (answer only from the documents, cite, abstain) are not negotiable by a prompt."""
    last_user = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None
    )
    if last_user is None:
        raise InvalidQuestionError("messages 中没有用户提问（role 为 user 的消息）")
    history = [
        {"role": m.role, "content": m.text()}
        for m in messages[:last_user]
        if m.role in ("user", "assistant", "tool") and m.text().strip()
    ]
    return messages[last_user].text(), history


def sources_block(answer: Answer) -> str:
    parts = []
    if answer.citations:
        lines = [f"[{c.id}]《{c.title}》{c.where}".rstrip() for c in answer.citations]
        parts.append("来源：\n" + "\n".join(lines))
    if answer.note:
        parts.append(f"说明：{answer.note}")
    return "\n\n" + "\n\n".join(parts) if parts else ""


def approx_tokens(text: str) -> int:
    """A rough token count without tiktoken (its encoders download at run time): one token per
    CJK character, one per ~4 other non-space characters. Bot frameworks only need a number."""
    cjk = len(_CJK.findall(text))
    rest = len(re.sub(r"\s", "", _CJK.sub("", text)))
    return cjk + (rest + 3) // 4


def _usage(messages: list[ChatMessage], content: str) -> dict:
    prompt = sum(approx_tokens(m.text()) for m in messages)
    completion = approx_tokens(content)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@router.post("/chat/completions", summary="对话补全（OpenAI 兼容，支持 stream）", responses=_STREAM)
async def chat_completions(
    body: ChatCompletionRequest, assistant: AssistantDep, metrics: MetricsDep, workers: WorkersDep
):
    question, history = split_conversation(body.messages)
    if not body.stream:
        answer = await workers.run(assistant.ask, question, history=history)
        metrics.observe_answer(answer, "openai")
        content = answer.answer + sources_block(answer)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(body.messages, content),
        }
    events = assistant.stream(question, history=history)
    # Pull the first event before answering 200, so a bad question is a proper HTTP error.
    first = await workers.run(next, events, None)
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    return StreamingResponse(
        _sse(first, events, body.messages, metrics, include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(
    first: StreamEvent | None,
    events: Iterator[StreamEvent],
    messages: list[ChatMessage],
    metrics: Metrics,
    include_usage: bool,
) -> Iterator[str]:
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def frame(choices: list[dict], **extra) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID}
        data.update(choices=choices, **extra)
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def delta(content: dict, finish: str | None = None) -> str:
        return frame([{"index": 0, "delta": content, "finish_reason": finish}])

    sent = ""
    yield delta({"role": "assistant", "content": ""})
    try:
        for event in itertools.chain([first] if first else [], events):
            piece = ""
            if event.kind == "delta":
                piece = event.text
            elif event.kind == "replace":
                piece = CORRECTION + event.text
            elif event.kind == "answer" and event.answer is not None:
                metrics.observe_answer(event.answer, "openai")
                piece = sources_block(event.answer)
            if piece:
                sent += piece
                yield delta({"content": piece})
    except AssistantError as exc:  # mid-stream the status line is gone: say it in the stream
        status, code = status_for(exc)
        body = openai_error(status, str(exc), code)
        yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield delta({}, "stop")
    if include_usage:
        yield frame([], usage=_usage(messages, sent))
    yield "data: [DONE]\n\n"
