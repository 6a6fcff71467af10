"""Request and response bodies of the HTTP API (the domain models stay in ``assistant.models``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models import DocumentInfo, Hit


class Turn(BaseModel):
    """An earlier turn of the conversation, used to understand follow-up questions."""

    role: Literal["user", "assistant", "system", "tool"]
    content: str = ""


class AskRequest(BaseModel):
    question: str = Field(
        description="要咨询的问题（1–2000 字）", examples=["今年计划给多少家企业发放鲁科贷？"]
    )
    history: list[Turn] | None = Field(default=None, description="之前的对话，用于理解追问")
    doc_ids: list[str] | None = Field(default=None, description="只在这些文档中查找")
    year: int | None = Field(default=None, description="只查找这一年的文件")


class SearchRequest(BaseModel):
    query: str = Field(description="检索词或问题", examples=["科技金融"])
    top_k: int | None = Field(default=None, ge=1, le=50)
    doc_ids: list[str] | None = None
    year: int | None = None


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
                str(p.get("text", "")) for p in self.content if p.get("type", "text") == "text"
            )
        return ""


class ChatCompletionRequest(BaseModel):
    """Fields bot frameworks send and we do not use (temperature, top_p, tools …) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = "policy-assistant"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
