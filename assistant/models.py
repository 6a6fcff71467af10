"""Domain objects that flow through the pipeline: Chunk → Hit → Citation → Answer.

All are immutable; the shells (CLI, API, UI, WeChat) serialise them with ``model_dump``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Chunk(_Frozen):
    """A piece of one document, with the heading path it sits under and offsets into the text."""

    chunk_id: str
    doc_id: str
    title: str
    section: str = ""  # "五、强化全链条科技服务… › 16.优化科技成果转化服务"
    text: str
    start: int  # character offsets into the loaded (cleaned) document text
    end: int
    ordinal: int = 0  # position of the chunk in its document
    year: int | None = None

    def index_text(self) -> str:
        """What gets embedded and keyword-indexed: the heading path plus the text."""
        return f"{self.section}\n{self.text}" if self.section else self.text


class Hit(_Frozen):
    """A retrieved chunk with its fused score (higher is better)."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    start: int
    end: int

    @classmethod
    def from_chunk(cls, chunk: Chunk, score: float) -> Hit:
        return cls(
            chunk_id=chunk.chunk_id,
            doc_id=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            text=chunk.text,
            score=score,
            start=chunk.start,
            end=chunk.end,
        )


class Citation(_Frozen):
    """The exact quoted clause an answer rests on; ``start``/``end`` index the document text."""

    id: int
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    start: int
    end: int

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Citation:
        """The whole retrieved chunk as citation ``n`` (for 相关内容, not for quoted answers)."""
        return cls(id=n, **hit.model_dump(exclude={"chunk_id"}))


class Answer(_Frozen):
    """The contract shared by ``ask --json`` and ``POST /v1/ask`` (see DESIGN.md)."""

    question: str
    answer: str
    abstained: bool
    mode: str = "extractive"  # "extractive" | "llm" | "targets"
    citations: list[Citation] = Field(default_factory=list)
    related: list[Citation] = Field(default_factory=list)  # 相关内容 shown when abstaining
    note: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


class DocumentInfo(_Frozen):
    """What ``GET /v1/documents`` and the UI list for each indexed file."""

    doc_id: str
    title: str
    source: str
    chunks: int
    issuer: str | None = None
    date: str | None = None
    index_no: str | None = None
    doc_no: str | None = None
