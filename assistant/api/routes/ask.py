"""``POST /v1/ask`` and ``POST /v1/search`` — the same objects as ``ask --json`` / ``search --json``."""

from __future__ import annotations

from fastapi import APIRouter

from ...models import Answer
from ...retrieve import Filters
from ..deps import AssistantDep, MetricsDep, WorkersDep
from ..openapi import errors
from ..schemas import AskRequest, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["问答"], responses=errors(413, 422, 503))


def _filters(doc_ids: list[str] | None, year: int | None) -> Filters:
    return Filters(doc_ids=tuple(doc_ids or ()), year=year)


# Plain ``def``: answering is CPU-bound and synchronous, so FastAPI runs it in its thread pool.
@router.post("/ask", response_model=Answer, summary="提问，得到带出处的回答")
def ask(body: AskRequest, assistant: AssistantDep, metrics: MetricsDep) -> Answer:
    history = [t.model_dump() for t in body.history] if body.history else None
    answer = assistant.ask(
        body.question, history=history, filters=_filters(body.doc_ids, body.year)
    )
    metrics.observe_answer(answer, "api")
    return answer


@router.post("/search", response_model=SearchResponse, summary="混合检索（BM25 + 向量）")
async def search(
    body: SearchRequest, assistant: AssistantDep, workers: WorkersDep
) -> SearchResponse:
    filters = _filters(body.doc_ids, body.year)
    hits = await workers.run(assistant.search, body.query, top_k=body.top_k, filters=filters)
    return SearchResponse(hits=hits)
