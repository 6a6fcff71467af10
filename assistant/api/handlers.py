"""The one place where errors become HTTP responses.

Domain errors (``assistant.errors``) map to a status code by type; request-validation errors and
the framework's own refusals (routing, undecodable bodies, multipart) get a Chinese message.
Routes under the OpenAI-compatible prefix answer in OpenAI's error shape
``{"error": {"message", "type", "code"}}`` so bot frameworks show the message; every other route
answers ``{"detail": "…", "code": "…"}``.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from ..errors import (
    AssistantError,
    AuthError,
    ConfigError,
    DocumentNotFoundError,
    EmbedderUnavailableError,
    IndexBuildError,
    IndexNotReadyError,
    InvalidQuestionError,
    LoadError,
    UnsupportedFileType,
)
from .throttle import TooManyAttempts

log = logging.getLogger("assistant.api")

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")

# most specific first: the first isinstance match wins
_STATUS: list[tuple[type[AssistantError], int, str]] = [
    (InvalidQuestionError, 422, "invalid_question"),
    (UnsupportedFileType, 415, "unsupported_file_type"),
    (LoadError, 400, "invalid_file"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (TooManyAttempts, 429, "too_many_attempts"),
    (AuthError, 401, "invalid_api_key"),
    (IndexNotReadyError, 503, "index_not_ready"),
    (EmbedderUnavailableError, 503, "embedder_unavailable"),
    (IndexBuildError, 500, "index_build_failed"),
    (ConfigError, 500, "config_error"),
    (AssistantError, 400, "bad_request"),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "file_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}

# What a client reads when the framework (routing, body parsing, multipart) refused a request
# with an English detail: every error body is Chinese.
_HTTP_FALLBACK = {
    400: "请求无效",
    401: "缺少或错误的密钥",
    403: "禁止访问",
    404: "未找到该地址",
    405: "不支持该请求方法",
    411: "请求缺少 Content-Length",
    413: "请求体过大",
    415: "不支持的请求内容类型",
    422: "请求格式错误",
    429: "请求过于频繁，请稍后再试",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
# FastAPI's answer when the JSON body cannot even be decoded (not UTF-8, nested too deeply):
# to a client that is the same mistake as broken JSON, so the same 422.
_UNPARSABLE_BODY = "There was an error parsing the body"
UNPARSABLE_MESSAGE = "请求格式错误：请求体不是合法的 JSON（须为 UTF-8 编码，嵌套不超过数百层）"


class ApiError(StarletteHTTPException):
    """An HTTP error raised by the shell itself (limits, guards): a Chinese ``detail`` and the
    machine-readable ``code`` of the documented error shape."""

    def __init__(self, status: int, detail: str, code: str, headers: dict | None = None):
        super().__init__(status, detail, headers)
        self.code = code


def status_for(exc: AssistantError) -> tuple[int, str]:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 400, "bad_request"


def _openai_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(status: int, message: str, code: str) -> dict:
    return {"error": {"message": message, "type": _openai_type(status), "code": code}}


def error_response(path: str, status: int, message: str, code: str, headers=None) -> JSONResponse:
    """The documented error shape for ``path``; also used by the middlewares, before routing."""
    # a message may quote client text (a file name): never let a lone surrogate break the body
    message = message.encode("utf-8", "replace").decode("utf-8")
    if path.startswith(OPENAI_PATHS):
        body = openai_error(status, message, code)
    else:
        body = {"detail": message, "code": code}
    return JSONResponse(body, status_code=status, headers=headers)


def _respond(request: Request, status: int, message: str, code: str, headers=None) -> JSONResponse:
    return error_response(request.url.path, status, message, code, headers)


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
    "greater_than": "字段 {loc} 过小",
    "less_than": "字段 {loc} 过大",
    "too_long": "字段 {loc} 的条目过多",
    "string_too_long": "字段 {loc} 过长",
    "float_parsing": "字段 {loc} 应为数字",
    "float_type": "字段 {loc} 应为数字",
    "int_from_float": "字段 {loc} 应为整数",
    "string_unicode": "字段 {loc} 不是合法的 UTF-8 文本",
    "invalid_unicode": "字段 {where} 含有无效的 Unicode 字符（孤立的代理项 {char}），请检查文本编码",
    "model_type": "字段 {loc} 应为 JSON 对象",
}
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        path = list(err.get("loc", ()))
        if path and path[0] in _LOCATIONS:  # where it was (body, query …), not which field
            path = path[1:]
        loc = ".".join(str(p) for p in path) or "请求体"
        template = _VALIDATION_MESSAGES.get(err.get("type", ""))
        try:
            parts.append(template.format(loc=loc, **(err.get("ctx") or {})))
        except (AttributeError, KeyError, IndexError):  # no template, or one it cannot fill
            parts.append(f"字段 {loc} 无效")
    return "请求格式错误：" + "；".join(dict.fromkeys(parts))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> set[str]:
    """Every method some route serves at this path: Starlette's 405 names only the first
    route's, where GET and POST of one path are two routes. Asked of the routes themselves
    (``matches``), so it holds however the framework nests included routers."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return {
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(AssistantError)
    async def _domain(request: Request, exc: AssistantError) -> JSONResponse:
        status, code = status_for(exc)
        if status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        return _respond(request, status, str(exc), code, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _respond(request, 422, validation_message(exc), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status, detail = exc.status_code, str(exc.detail)
        if status == 400 and detail == _UNPARSABLE_BODY:
            return _respond(request, 422, UNPARSABLE_MESSAGE, "invalid_request")
        code = getattr(exc, "code", None) or _HTTP_CODES.get(status, "http_error")
        headers = exc.headers
        if status == 405 and (methods := allowed_methods(request)):
            headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
        if not _CJK.search(detail):  # the framework's own English: say it in Chinese
            log.debug("HTTP %s on %s: %s", status, request.url.path, detail)
            detail = _HTTP_FALLBACK.get(status, f"请求失败（HTTP {status}）")
        return _respond(request, status, detail, code, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _respond(request, 500, "服务器内部错误，请稍后再试", "internal_error")
