"""The documents tab (文档管理): the corpus list; upload and delete with the admin key. Built only
when the server has an admin key (``PA_API_KEY``); without one there is nothing a visitor could do
there."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from assistant.api.deps import check_admin_key
from assistant.api.limits import KEY_COOKIE
from assistant.api.throttle import TooManyAttempts
from assistant.config import Settings
from assistant.errors import AssistantError, AuthError
from assistant.service import Assistant

DOC_HEADERS = ["标题", "文号", "发文机关", "成文日期", "有效性", "片段数", "文件"]
WRONG_KEY = "管理密钥错误：请核对后重新填写（区分大小写，前后不要有空格）；仍不行请联系管理员。"
MISSING_KEY = "请先在“管理密钥”框中填写管理密钥（部署本服务时设置的 PA_API_KEY，可向管理员索取）。"


def _validity(doc, titles: dict[str, str]) -> str:
    """有效性 as a reader needs it: a repealed document names what replaced it."""
    if doc.superseded_by:
        return f"已废止（已被《{titles.get(doc.superseded_by, doc.superseded_by)}》废止）"
    if doc.status != "现行":
        return doc.status + (f"（有效期至{doc.effective_to}）" if doc.effective_to else "")
    return "现行" + (f"（有效期至{doc.effective_to}）" if doc.effective_to else "")


# Gradio's upload route only takes files from a holder of the admin key (assistant.api.limits):
# the key field puts the key into a cookie for this page's path, which the browser then sends
# along with the file; SameSite=Strict, and the guard also refuses other origins.
SET_KEY_COOKIE = f"""(key) => {{
  const path = window.location.pathname.replace(/[^/]*$/, "") || "/";
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "{KEY_COOKIE}=" + encodeURIComponent(key || "") +
    "; path=" + path + "; SameSite=Strict" + secure;
  return [];
}}"""
CACHE_CLEANUP = (1800, 3600)  # every 30 min, Gradio deletes its cached files older than 1 h


def _client(request: gr.Request | None) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def _discard(path: str) -> None:
    """An uploaded file lives in Gradio's cache; once read (or refused) it is not needed."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        pass


class DocumentsHandler:
    def __init__(self, assistant: Assistant, settings: Settings, throttle=None):
        self.assistant = assistant
        self.settings = settings
        self.throttle = throttle  # the API's failed-key throttle, shared with this tab

    def table(self) -> tuple[list[list], gr.Dropdown]:
        docs = self._docs()
        titles = {d.doc_id: d.title for d in docs}
        rows = [
            [
                d.title,
                d.doc_no or "",
                d.issuer or "",
                d.date or "",
                _validity(d, titles),
                d.chunks,
                d.source,
            ]
            for d in docs
        ]
        return rows, gr.Dropdown(choices=[(d.title, d.doc_id) for d in docs], value=None)

    def _check_key(self, key: str, request: gr.Request | None) -> None:
        if not (key or "").strip():
            raise AuthError(MISSING_KEY)
        try:
            check_admin_key(self.settings, key, client=_client(request), throttle=self.throttle)
        except TooManyAttempts:
            raise
        except AuthError as exc:
            if str(exc) == "管理密钥错误":  # say what to do, not only what went wrong
                raise AuthError(WRONG_KEY) from None
            raise

    def ask_delete(self, doc_id: str | None) -> tuple:
        """Delete asks first: the confirmation row names the document."""
        if not doc_id:
            return "请先在“选择要删除的文档”中选一个文档。", gr.Row(visible=False)
        titles = {d.doc_id: d.title for d in self._docs()}
        name = titles.get(doc_id, doc_id)
        return (
            f"确定要删除《{name}》吗？删除后它不再参与回答，语料目录中的文件也会删除。"
            "请点击“确认删除”，或点击“取消”。",
            gr.Row(visible=True),
        )

    def _docs(self):
        try:
            return self.assistant.documents()
        except AssistantError:
            return []

    def upload(
        self,
        key: str,
        path: str | None,
        request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 — Gradio's own injection marker
    ):
        if not path:
            return ("请先选择要上传的文件。", *self.table())
        stages = {"ocr": "识别扫描页", "embed": "计算向量", "store": "写入索引"}

        def report(stage: str, done: int, total: int) -> None:
            if total:
                progress((done, total), desc=f"{stages.get(stage, stage)} {done}/{total}")

        try:
            self._check_key(key, request)
            doc_id, summary = self.assistant.add_document(
                Path(path).name, Path(path).read_bytes(), progress=report
            )
        except AssistantError as exc:
            return (f"❌ 上传失败：{exc}", *self.table())
        except OSError:
            return ("❌ 上传失败：上传的文件已过期或不存在，请重新选择文件。", *self.table())
        finally:
            if request is not None:  # served through Gradio: the path is its cached upload
                _discard(path)
        msg = f"✅ 已上传并索引 {doc_id}：共 {summary.files} 个文件、{summary.chunks} 个片段。"
        return (msg, *self.table())

    def delete(self, key: str, doc_id: str | None, request: gr.Request = None):
        if not doc_id:
            return ("请先在“选择要删除的文档”中选一个文档。", *self.table())
        try:
            self._check_key(key, request)
            summary = self.assistant.delete_document(doc_id)
        except AssistantError as exc:
            return (f"❌ 删除失败：{exc}", *self.table())
        return (f"✅ 已删除 {doc_id}，索引现有 {summary.chunks} 个片段。", *self.table())
