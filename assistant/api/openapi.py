"""What the OpenAPI document says a route can answer: the error statuses it really returns, in
the error shape it really uses (a string ``detail``, not FastAPI's default array)."""

from __future__ import annotations

from typing import Any

from .schemas import ErrorBody, OpenAIErrorBody

_DESCRIPTIONS = {
    400: "文件无法读取、文件名无效或请求无效",
    401: "缺少或错误的密钥",
    403: "禁止访问（签名错误、跨站请求）",
    404: "未找到",
    411: "缺少 Content-Length",
    413: "请求体或文件过大",
    415: "不支持的文件类型",
    422: "请求格式错误（字段缺失、类型不对、问题为空或过长、无效字符、JSON 无法解析）",
    429: "密钥错误次数过多，稍后再试（见 Retry-After）",
    500: "建立索引失败（原有索引照常使用）",
    503: "索引尚未建立",
}
_RETRY_AFTER = {"Retry-After": {"description": "多少秒后可以再试", "schema": {"type": "integer"}}}


def errors(*statuses: int, openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with its description and the error body.
    413 and 422 apply to every route with a body, so callers list them too."""
    model = OpenAIErrorBody if openai else ErrorBody
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": model, "description": _DESCRIPTIONS.get(status, "错误")}
        if status == 429:
            out[status]["headers"] = _RETRY_AFTER
    return out


def drop_unenforced_security(schema: dict, paths: tuple[str, ...]) -> dict:
    """The OpenAI routes take a bearer key only when ``PA_OPENAI_KEYS`` is set: otherwise the
    document must not say they need one."""
    for path, item in schema.get("paths", {}).items():
        if path.startswith(paths):
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)
                    operation.get("responses", {}).pop("429", None)
    return schema
