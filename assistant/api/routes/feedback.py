"""``GET /v1/feedback``: the 👍/👎 given in the web UI, with the question, history, answer and
citations each was about — for the admin key only (it holds what users asked)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ...feedback import FeedbackRecord, store_for
from ..deps import AdminKey, SettingsDep
from ..openapi import errors

router = APIRouter(prefix="/v1", tags=["反馈"])


class FeedbackList(BaseModel):
    counts: dict[str, int] = Field(description="全部记录中 up（👍）与 down（👎）的条数")
    feedback: list[FeedbackRecord]


@router.get(
    "/feedback",
    response_model=FeedbackList,
    dependencies=[AdminKey],
    summary="网页界面收到的回答反馈（👍/👎 与“哪里不对”），需管理密钥",
    responses=errors(401, 413, 422, 429),
)
def list_feedback(
    settings: SettingsDep,
    rating: Annotated[
        Literal["up", "down"] | None, Query(description="只看 up（👍）或 down（👎）")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="最多返回多少条（按时间顺序）")
    ] = 1000,
) -> FeedbackList:
    store = store_for(settings)
    return FeedbackList(counts=store.counts(), feedback=store.records(rating, limit))
