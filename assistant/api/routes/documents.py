"""``/v1/documents``: list the corpus; upload and delete with the admin key (``PA_API_KEY``).

An upload is validated completely (type, size, parseable) before it touches the corpus folder, and
the index is updated incrementally; a rejected upload leaves corpus and index as they were.

The body is read by hand, *after* the admin key and the declared length are checked: with an
``UploadFile`` parameter FastAPI would spool the whole body to disk before any dependency runs,
letting anyone without a key push gigabytes to the server's temp directory.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ...errors import DocumentNotFoundError
from ...service import safe_filename
from ..deps import AdminKey, AssistantDep, SettingsDep
from ..limits import MULTIPART_OVERHEAD
from ..openapi import errors
from ..schemas import BuildReport, DeleteResponse, DocumentList, UploadResponse

router = APIRouter(prefix="/v1/documents", tags=["文档"])
READ_CHUNK = 1024 * 1024
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.get("", response_model=DocumentList, summary="已收录的文档", responses=errors(413))
def list_documents(assistant: AssistantDep) -> DocumentList:
    return DocumentList(documents=assistant.documents())


@router.post(
    "",
    response_model=UploadResponse,
    status_code=201,
    dependencies=[AdminKey],
    summary="上传文档（.txt .md .html .pdf .docx）并增量更新索引",
    responses=errors(400, 401, 411, 413, 415, 422, 429, 500),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_document(
    request: Request, assistant: AssistantDep, settings: SettingsDep
) -> UploadResponse:
    limit = settings.max_upload_mb * 1024 * 1024
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise HTTPException(411, "请求缺少 Content-Length，无法判断文件大小")
    if int(declared) > limit + MULTIPART_OVERHEAD:
        raise HTTPException(413, f"文件过大（上限 {settings.max_upload_mb} MB）")
    form = await request.form(max_files=1, max_fields=5)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise HTTPException(422, "缺少上传文件：请用 multipart/form-data 的 file 字段上传")
    data = bytearray()
    while chunk := await file.read(READ_CHUNK):
        data.extend(chunk)
        if len(data) > limit:  # a transport limit: stop reading, say why
            raise HTTPException(
                413, f"文件过大（上限 {settings.max_upload_mb} MB）：{file.filename}"
            )
    doc_id, summary = await run_in_threadpool(
        assistant.add_document, file.filename or "", bytes(data)
    )
    return UploadResponse(
        doc_id=doc_id,
        filename=safe_filename(file.filename or ""),
        index=BuildReport(**summary.as_dict()),
    )


@router.delete(
    "/{doc_id:path}",
    response_model=DeleteResponse,
    dependencies=[AdminKey],
    summary="删除文档并更新索引",
    responses=errors(401, 404, 413, 422, 429, 500),
)
def delete_document(doc_id: str, request: Request, assistant: AssistantDep) -> DeleteResponse:
    try:
        summary = assistant.delete_document(doc_id)
    except DocumentNotFoundError:
        # An id that itself contains "%2F" (a file named so) arrives decoded as "/" when the
        # client put it in the URL as it is: try the path as sent, with only %2F left encoded.
        literal = _literal_id(request)
        if literal is None or literal == doc_id:
            raise
        summary, doc_id = assistant.delete_document(literal), literal
    return DeleteResponse(doc_id=doc_id, index=BuildReport(**summary.as_dict()))


def _literal_id(request: Request) -> str | None:
    raw = request.scope.get("raw_path")
    prefix = (request.scope.get("root_path", "") + router.prefix + "/").encode()
    if not raw or not raw.startswith(prefix):
        return None
    tail = raw[len(prefix) :].decode("utf-8", "replace")
    return unquote(tail.replace("%2F", "%252F").replace("%2f", "%252f"))
