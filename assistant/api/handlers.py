"""The one place where errors become HTTP responses.

Domain errors (``assistant.errors``) map to a status code by type; request-validation errors get a
Chinese message. Routes under the OpenAI-compatible prefix answer in OpenAI's error shape
``{"error": {"message", "type", "code"}}`` so bot frameworks show the message; every other route
answers ``{"detail": "…"}`` like FastAPI does.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    AssistantError,
    AuthError,
    ConfigError,
    DocumentNotFoundError,
    IndexBuildError,
    IndexNotReadyError,
    InvalidQuestionError,
    LoadError,
    UnsupportedFileType,
)

log = logging.getLogger("assistant.api")

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")

# most specific first: the first isinstance match wins
_STATUS: list[tuple[type[AssistantError], int, str]] = [
    (InvalidQuestionError, 422, "invalid_question"),
    (UnsupportedFileType, 415, "unsupported_file_type"),
    (LoadError, 400, "invalid_file"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (AuthError, 401, "invalid_api_key"),
    (IndexNotReadyError, 503, "index_not_ready"),
    (IndexBuildError, 500, "index_build_failed"),
    (ConfigError, 500, "config_error"),
    (AssistantError, 400, "bad_request"),
]

_HTTP_CODES = {
    401: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "file_too_large",
    422: "invalid_request",
}


def status_for(exc: AssistantError) -> tuple[int, str]:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 400, "bad_request"


def _openai_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(status: int, message: str, code: str) -> dict:
    return {"error": {"message": message, "type": _openai_type(status), "code": code}}


def _respond(request: Request, status: int, message: str, code: str, headers=None) -> JSONResponse:
    if request.url.path.startswith(OPENAI_PATHS):
        body = openai_error(status, message, code)
    else:
        body = {"detail": message, "code": code}
    return JSONResponse(body, status_code=status, headers=headers)


_HTTP_MESSAGES = {  # Starlette's own English details, for routing failures
    "Not Found": "未找到该地址",
    "Method Not Allowed": "不支持该请求方法",
}

_VALIDATION_MESSAGES = {
    "missing": "缺少字段 {loc}",
    "json_invalid": "请求体不是合法的 JSON",
    "string_type": "字段 {loc} 应为文本",
    "int_parsing": "字段 {loc} 应为整数",
    "int_type": "字段 {loc} 应为整数",
    "bool_type": "字段 {loc} 应为 true 或 false",
    "list_type": "字段 {loc} 应为列表",
    "model_attributes_type": "请求体应为 JSON 对象",
    "dict_type": "字段 {loc} 应为 JSON 对象",
    "literal_error": "字段 {loc} 的取值无效",
    "too_short": "字段 {loc} 不能为空",
    "greater_than_equal": "字段 {loc} 过小",
    "less_than_equal": "字段 {loc} 过大",
}


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "请求体"
        template = _VALIDATION_MESSAGES.get(err.get("type", ""))
        parts.append(template.format(loc=loc) if template else f"字段 {loc} 无效：{err.get('msg')}")
    return "请求格式错误：" + "；".join(dict.fromkeys(parts))


def install(app: FastAPI) -> None:
    @app.exception_handler(AssistantError)
    async def _domain(request: Request, exc: AssistantError) -> JSONResponse:
        status, code = status_for(exc)
        if status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _respond(request, status, str(exc), code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _respond(request, 422, validation_message(exc), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = _HTTP_MESSAGES.get(str(exc.detail), str(exc.detail))
        return _respond(request, exc.status_code, detail, code, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _respond(request, 500, "服务器内部错误，请稍后再试", "internal_error")
