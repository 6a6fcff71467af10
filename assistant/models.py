"""Domain objects that flow through the pipeline: Chunk → Hit → Citation → Answer.

All are immutable; the shells (CLI, API, UI, WeChat) serialise them with ``model_dump``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, computed_field


def _construct(cls: type[BaseModel], values: tuple) -> BaseModel:
    # pydantic's own unpickling step (``__setstate__``) with every field set: what
    # ``model_construct`` ends in, without its per-field defaults pass (a third of the time)
    names = tuple(cls.model_fields)
    if len(names) != len(values):
        raise ValueError(f"{cls.__name__}: {len(values)} values for {len(names)} fields")
    obj = cls.__new__(cls)
    obj.__setstate__(
        {
            "__dict__": dict(zip(names, values, strict=True)),
            "__pydantic_fields_set__": set(names),
            "__pydantic_extra__": None,
            "__pydantic_private__": None,
        }
    )
    return obj


class FastPickle:
    """Pickles a pydantic model as its field values, rebuilt without validation (they were
    valid when pickled): the index snapshot holds tens of thousands of chunks and target rows,
    and this halves the time a server start spends unpickling them."""

    def __reduce__(self):
        cls = type(self)
        return _construct, (cls, tuple(getattr(self, f) for f in cls.model_fields))


class _Frozen(FastPickle, BaseModel):
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
    kind: str = "text"  # text | article | item | list | table_row | qa | metadata
    page: int | None = None  # PDF page the chunk starts on
    lead_in: str | None = None  # a list's lead-in, when this piece of the list does not hold it
    status: str = "现行"  # the document's 有效性: 现行 | 已失效 | 已废止
    low_confidence: bool = False  # holds OCR text the recogniser was unsure of

    def index_text(self) -> str:
        """What gets embedded and keyword-indexed: the document title and heading path (a
        clause is found by what its document is about, "贷款贴息 … 申报时间"), a split list's
        lead-in, and the text."""
        head = [p for p in (self.title, self.section, self.lead_in) if p]
        return "\n".join([*head, self.text])


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
    page: int | None = None  # PDF / scan page the chunk starts on

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
            page=chunk.page,
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
    page: int | None = None  # PDF / scan page the quoted chunk starts on ("第N页")

    @property
    def where(self) -> str:
        """The section path, and the page for paged documents: "第二章 › 第五条（第2页）"."""
        return self.section + (f"（第{self.page}页）" if self.page else "")

    @classmethod
    def from_span(cls, n: int, chunk: Chunk, start: int, end: int, score: float) -> Citation:
        """Citation ``n`` quoting ``chunk.text[start:end]`` (offsets in the chunk), exactly."""
        return cls(
            id=n,
            doc_id=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            text=chunk.text[start:end],
            score=score,
            start=chunk.start + start,
            end=chunk.start + end,
            page=chunk.page,
        )

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


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: ``delta`` text pieces, then the final ``answer``.
    ``replace`` tells a client to discard what it streamed so far (a failed verification)."""

    kind: str  # "delta" | "replace" | "answer"
    text: str = ""
    answer: Answer | None = None


class DocumentInfo(_Frozen):
    """What ``GET /v1/documents`` and the UI list for each indexed file: its 公文 metadata as
    the document states it (``None`` where it does not)."""

    doc_id: str
    title: str
    source: str
    chunks: int
    doc_no: str | None = None  # 文号
    issuers: list[str] = Field(default_factory=list)  # 发文机关, one or more
    date: str | None = None  # 成文日期 (ISO)
    published: str | None = None  # 发布日期
    effective_from: str | None = None  # 施行日期
    effective_to: str | None = None  # 有效期至
    status: str = "现行"  # 现行 | 已失效 | 已废止
    superseded_by: str | None = None  # doc_id of the document that repealed it
    interprets: str | None = None  # the policy a 解读 explains
    index_no: str | None = None  # 索引号
    places: list[str] = Field(default_factory=list)
    year: int | None = None
    flagged: list[str] = Field(default_factory=list)  # sentences addressing the assistant

    @computed_field
    @property
    def issuer(self) -> str | None:
        """The issuers as one string (clients of the first release read ``issuer``)."""
        return "、".join(self.issuers) or None
