"""The one service object every shell (CLI, API, UI, WeChat) calls."""

from __future__ import annotations

import time
from pathlib import Path

from .answer import abstention, extractive_answer
from .config import MAX_QUESTION_CHARS, Settings, get_settings
from .errors import InvalidQuestionError
from .index import BuildSummary, IndexBuilder, ProgressFn, read_manifest
from .models import Answer, DocumentInfo, Hit
from .query import analyse, condense, has_searchable_content
from .retrieve import Filters, Retriever


def validate_question(question: str | None) -> str:
    if question is None or not question.strip():
        raise InvalidQuestionError("问题不能为空，请输入要咨询的政策问题")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"问题过长（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内"
        )
    return question.strip()


class Assistant:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.retriever = Retriever(self.settings)

    # -- index -------------------------------------------------------------------------------

    def build_index(self, progress: ProgressFn | None = None, force: bool = False) -> BuildSummary:
        return IndexBuilder(self.settings, progress).build(force=force)

    def documents(self) -> list[DocumentInfo]:
        manifest = read_manifest(Path(self.settings.index_dir)) or {"files": {}}
        out = []
        for rel, rec in sorted(manifest["files"].items()):
            if rec.get("error"):
                continue
            out.append(
                DocumentInfo(
                    doc_id=rec["doc_id"], title=rec.get("title", rel), source=rel,
                    chunks=rec.get("chunks", 0), issuer=rec.get("issuer"), date=rec.get("date"),
                    index_no=rec.get("index_no"), doc_no=rec.get("doc_no"),
                )
            )
        return out

    # -- questions ---------------------------------------------------------------------------

    def search(self, query: str, top_k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        query = validate_question(query)
        if not has_searchable_content(query):
            return []
        return self.retriever.retrieve(analyse(query).text, top_k or self.settings.top_k, filters)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        question = validate_question(question)
        standalone = condense(question, history)
        query = analyse(standalone)
        if not has_searchable_content(question) or not query.terms:
            answer = abstention(query, [], "请用文字描述想了解的政策，例如“鲁科贷今年的目标是多少？”")
            return answer.model_copy(update={"question": question, "timings_ms": _ms(t0=t0)})
        hits = self.retriever.retrieve_scored(query.text, self.settings.top_k, filters)
        t1 = time.perf_counter()
        answer = extractive_answer(query, hits, self.retriever.reader)
        t2 = time.perf_counter()
        timings = {
            "retrieve": round((t1 - t0) * 1000, 2),
            "answer": round((t2 - t1) * 1000, 2),
            "total": round((t2 - t0) * 1000, 2),
        }
        return answer.model_copy(update={"question": question, "timings_ms": timings})


def _ms(t0: float) -> dict[str, float]:
    total = round((time.perf_counter() - t0) * 1000, 2)
    return {"retrieve": 0.0, "answer": total, "total": total}
