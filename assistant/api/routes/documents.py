"""``/v1/documents``: list the corpus; upload and delete with the admin key (``PA_API_KEY``).

An upload is validated completely (type, size, parseable) before it touches the corpus folder, and
the index is updated incrementally; a rejected upload leaves corpus and index as they were.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, UploadFile
from starlette.concurrency import run_in_threadpool

from ...service import safe_filename
from ..deps import AdminKey, AssistantDep, SettingsDep
from ..schemas import BuildReport, DeleteResponse, DocumentList, UploadResponse

router = APIRouter(prefix="/v1/documents", tags=["文档"])
READ_CHUNK = 1024 * 1024


@router.get("", response_model=DocumentList, summary="已收录的文档")
def list_documents(assistant: AssistantDep) -> DocumentList:
    return DocumentList(documents=assistant.documents())


@router.post(
    "",
    response_model=UploadResponse,
    status_code=201,
    dependencies=[AdminKey],
    summary="上传文档（.txt .md .html .pdf .docx）并增量更新索引",
)
async def upload_document(
    file: UploadFile, assistant: AssistantDep, settings: SettingsDep
) -> UploadResponse:
    limit = settings.max_upload_mb * 1024 * 1024
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
)
def delete_document(doc_id: str, assistant: AssistantDep) -> DeleteResponse:
    summary = assistant.delete_document(doc_id)
    return DeleteResponse(doc_id=doc_id, index=BuildReport(**summary.as_dict()))
