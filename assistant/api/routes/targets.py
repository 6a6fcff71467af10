"""``GET /v1/targets``: the targets ledger (指标台账) with the CLI's filters, as JSON (the same
object as ``policy-assistant targets --format json``) or, with ``?format=csv``, as a UTF-8 CSV
with BOM that Excel and WPS open with the Chinese intact."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel

from ...targets import Target, TargetLedger
from ..deps import AssistantDep
from ..openapi import errors

router = APIRouter(prefix="/v1", tags=["指标台账"])

FORMATS = ("json", "csv")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


class TargetList(BaseModel):
    targets: list[Target]


def csv_filename(rows: list[Target], doc: str | None) -> str:
    """The download name: "<title>-指标台账.csv" when one document is asked for, else "指标台账.csv"."""
    titles = {r.title for r in rows}
    return f"{titles.pop()}-指标台账.csv" if doc and len(titles) == 1 else "指标台账.csv"


def content_disposition(filename: str) -> str:
    # RFC 6266/5987: an ASCII fallback for old clients, the Chinese name percent-encoded
    return f"attachment; filename=\"targets.csv\"; filename*=UTF-8''{quote(filename, safe='')}"


# Plain ``def``: the first call builds the ledger from the corpus, so it runs in the thread pool.
@router.get(
    "/targets",
    response_model=TargetList,
    summary="指标台账：文件中的全部量化目标，可筛选，可导出 CSV",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "JSON 或 CSV（format=csv）",
        },
        **errors(413, 422, 503),
    },
)
def list_targets(
    assistant: AssistantDep,
    doc: Annotated[str | None, Query(description="只看某个文件（doc_id 或标题）")] = None,
    section: Annotated[
        str | None, Query(description="条目编号（如 13）或章节文字", examples=["13"])
    ] = None,
    q: Annotated[str | None, Query(description="关键词", examples=["鲁科贷"])] = None,
    fmt: Annotated[
        str,
        Query(
            alias="format",
            description="输出格式：json（默认）或 csv（不区分大小写）",
            json_schema_extra={"pattern": "^([jJ][sS][oO][nN]|[cC][sS][vV])$"},
        ),
    ] = "json",
):
    kind = fmt.lower()
    if kind not in FORMATS:
        raise HTTPException(422, f"不支持的输出格式 {fmt}（可选 {'、'.join(FORMATS)}）")
    rows = assistant.target_rows(doc=doc, section=section, q=q)
    if kind == "csv":
        return Response(
            TargetLedger.to_csv(rows),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": content_disposition(csv_filename(rows, doc))},
        )
    return TargetList(targets=rows)
