"""``GET /healthz`` (ready when the index can answer) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ...errors import AssistantError
from ..deps import AssistantDep, MetricsDep, SettingsDep
from ..openapi import errors
from ..schemas import Health

router = APIRouter(tags=["运维"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="健康检查",
    responses={503: {"model": Health, "description": "索引尚未建立或不可用"}, **errors(413)},
)
def healthz(request: Request, assistant: AssistantDep, settings: SettingsDep):
    mode = "llm" if settings.llm_enabled else "extractive"
    deferred = getattr(request.app.state, "ui", None)
    ui = deferred.state if deferred is not None else "ready"
    try:
        assistant.retriever.reader  # noqa: B018 - opens (or re-opens) the current index
        docs = assistant.documents()
    except AssistantError as exc:
        body = Health(status="not_ready", mode=mode, ui=ui, detail=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(
        status="ok", documents=len(docs), chunks=sum(d.chunks for d in docs), mode=mode, ui=ui
    )


@router.get(
    "/metrics",
    summary="Prometheus 指标",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "指标"},
        **errors(413),
    },
)
def metrics(registry: MetricsDep) -> Response:
    return Response(registry.render(), media_type=registry.content_type)
