"""Request and response bodies of the HTTP API (the domain models stay in ``assistant.models``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from ..config import MAX_QUESTION_CHARS
from ..models import DocumentInfo, Hit
from ..service import MAX_HISTORY_TURNS

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _unicode_problem(data: Any) -> tuple[str, str] | None:
    """(where, code point) of the first lone surrogate in decoded JSON, or None. JSON may write
    "\\ud800" and Python's decoder keeps it, but no library downstream can encode it. Iterative,
    so a body nested as deep as the JSON decoder allows cannot exhaust the stack here."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if found := _SURROGATE.search(value):
                return where or "请求体", f"U+{ord(found.group()):04X}"
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((f"{where}.{key}" if where else str(key), item))
                stack.append((where or "请求体", key))
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(value))
    return None


# What the service accepts as a question, as JSON Schema (the OpenAPI document says what a 422
# is for): 1–2000 characters, at least one that is neither whitespace nor a BOM.
QUESTION_SCHEMA = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": "[^\\s\\ufeff]"}


def _json_int(value: Any) -> Any:
    """An integer as JSON Schema has it: 3 or 3.0, never ``true`` or ``"3"``."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]


class RequestBody(BaseModel):
    """A request body: refused whole (422, naming the field) when any text in it is not valid
    Unicode, before a field is validated; ``_trim`` cuts what is never used before that, too.
    Numbers and booleans are what JSON Schema says they are (``JsonInt``, ``StrictBool``)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        data = cls._trim(data) if isinstance(data, dict) else data
        if problem := _unicode_problem(data):
            where, char = problem
            raise PydanticCustomError(
                "invalid_unicode",
                "{where} contains a lone surrogate {char}",
                {"where": where, "char": char},
            )
        return data

    @classmethod
    def _trim(cls, data: dict) -> dict:
        return data


class Turn(BaseModel):
    """An earlier turn of the conversation, used to understand follow-up questions."""

    role: Literal["user", "assistant", "system", "tool"]
    content: str = ""


class AskRequest(RequestBody):
    question: str = Field(
        description="要咨询的问题（1–2000 字）",
        examples=["今年计划给多少家企业发放鲁科贷？"],
        json_schema_extra=QUESTION_SCHEMA,
    )
    history: list[Turn] | None = Field(
        default=None, description=f"之前的对话，用于理解追问（只读取最后 {MAX_HISTORY_TURNS} 轮）"
    )
    doc_ids: list[str] | None = Field(default=None, description="只在这些文档中查找")
    year: JsonInt | None = Field(default=None, description="只查找这一年的文件")

    @classmethod
    def _trim(cls, data: dict) -> dict:
        # Only the last turns are read for a follow-up: cut before validating every one of them.
        history = data.get("history")
        if isinstance(history, list) and len(history) > MAX_HISTORY_TURNS:
            data = {**data, "history": history[-MAX_HISTORY_TURNS:]}
        return data


class SearchRequest(RequestBody):
    query: str = Field(
        description="检索词或问题（1–2000 字）",
        examples=["科技金融"],
        json_schema_extra=QUESTION_SCHEMA,
    )
    # constraints before the validator, or pydantic writes "ge"/"le" into the JSON Schema
    top_k: Annotated[int, Field(ge=1, le=50), BeforeValidator(_json_int)] | None = None
    doc_ids: list[str] | None = None
    year: JsonInt | None = None


class SearchResponse(BaseModel):
    hits: list[Hit]


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class BuildReport(BaseModel):
    files: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    changed: bool
    skipped: list[dict[str, str]] = Field(default_factory=list)


class UploadResponse(BaseModel):
    doc_id: str
    filename: str
    index: BuildReport


class DeleteResponse(BaseModel):
    doc_id: str
    deleted: bool = True
    index: BuildReport


class Health(BaseModel):
    status: Literal["ok", "not_ready"]
    documents: int = 0
    chunks: int = 0
    mode: str = "extractive"
    ui: Literal["ready", "starting", "failed"] = "ready"
    """The web UI at ``/ui``: ``serve`` builds it after the API is ready ("starting" until then;
    "failed" if it could not be built — the API keeps answering)."""
    detail: str | None = None


# -- OpenAI-compatible chat completions ---------------------------------------------------------


class ChatMessage(BaseModel):
    """An OpenAI chat message. ``content`` is a string or a list of parts; only text parts count."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "".join(
                p["text"]
                for p in self.content
                if p.get("type", "text") == "text" and isinstance(p.get("text"), str)
            )
        return ""


class ChatCompletionRequest(RequestBody):
    """Fields bot frameworks send and we do not use (temperature, top_p, tools …) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = "policy-assistant"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: dict[str, Any] | None = None

    @classmethod
    def _trim(cls, data: dict) -> dict:
        """Keep the last user message and the turns just before it (room for system and empty
        messages that the history drops); nothing after the last user message is read either."""
        messages = data.get("messages")
        if not isinstance(messages, list) or len(messages) <= 2 * MAX_HISTORY_TURNS + 1:
            return data
        users = [
            i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"
        ]
        last = users[-1] if users else len(messages) - 1
        return {**data, "messages": messages[max(0, last - 2 * MAX_HISTORY_TURNS) : last + 1]}


# -- error bodies (documented in OpenAPI; built by ``handlers.error_response``) ----------------


class ErrorBody(BaseModel):
    """Every error outside the OpenAI-compatible routes."""

    detail: str = Field(
        description="中文错误原因", examples=["问题不能为空，请输入要咨询的政策问题"]
    )
    code: str = Field(description="机器可读的错误代码", examples=["invalid_question"])


class OpenAIError(BaseModel):
    message: str = Field(description="中文错误原因")
    type: str = Field(examples=["invalid_request_error"])
    code: str = Field(examples=["invalid_request"])


class OpenAIErrorBody(BaseModel):
    """Errors of ``/v1/chat/completions`` and ``/v1/models``, in OpenAI's shape."""

    error: OpenAIError
