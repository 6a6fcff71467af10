"""The Chinese web UI: a Gradio chat over the same ``Assistant`` the API uses, mounted at ``/ui``.

It streams answers from ``Assistant.stream()`` events, keeps earlier turns for follow-up
questions, shows each answer's sources in an expandable panel, marks abstentions clearly, answers
the question in a ``/ui?q=…`` link on page load (WeChat's trimmed replies link there), and has
a targets-ledger tab (指标台账: filterable table, CSV download) and a documents tab (list; upload
and delete with the admin key). It works offline: no analytics, no
share links, system fonts only.
"""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # must precede the gradio import

import gradio as gr
from fastapi import FastAPI

from assistant.api.deps import check_admin_key
from assistant.api.limits import KEY_COOKIE
from assistant.config import MAX_QUESTION_CHARS, Settings
from assistant.errors import SUPPORTED_SUFFIXES, AssistantError
from assistant.models import Answer
from assistant.service import Assistant
from assistant.targets import Target, TargetLedger, format_value

EXAMPLES_ENTERPRISE = [
    "创新券有哪些扶持政策？",
    "今年计划给多少家企业发放鲁科贷？",
    "科融信能提供什么贷款？",
]
EXAMPLES_STAFF = [
    "今年要实施多少个科技创新重点项目？",
    "技术经理人培训目标是多少？",
    "2025年威海要实施多少项“揭榜挂帅”技术攻关项目？",
]
DOC_HEADERS = ["标题", "文号", "发文机关", "成文日期", "有效性", "片段数", "文件"]

# System fonts only: the default theme would load web fonts, and the UI must work offline.
FONT = [
    "PingFang SC",
    "Microsoft YaHei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
]
FONT_MONO = [
    "ui-monospace",
    "SFMono-Regular",
    "Menlo",
    "Consolas",
    "Noto Sans Mono CJK SC",
    "monospace",
]

CSS = """
.pa-answer { line-height: 1.7; }
.pa-abstain { border-left: 4px solid #d97706; background: #fffbeb; color: #78350f;
              padding: 8px 12px; border-radius: 6px; line-height: 1.7; }
.pa-abstain-title { font-weight: 700; margin-bottom: 4px; }
.pa-error { border-left: 4px solid #dc2626; background: #fef2f2; color: #7f1d1d;
            padding: 8px 12px; border-radius: 6px; }
.pa-cites { margin-top: 10px; border-top: 1px dashed #cbd5e1; padding-top: 6px; }
.pa-cites summary { cursor: pointer; color: #1d4ed8; font-weight: 600; }
.pa-cite { margin: 8px 0; }
.pa-cite-doc { font-weight: 600; }
.pa-cite-section { color: #475569; font-size: 0.9em; }
.pa-cite-text { border-left: 3px solid #93c5fd; margin: 4px 0 0; padding: 2px 10px;
                color: #1e293b; background: #f8fafc; }
.pa-examples button { white-space: normal !important; text-align: left; }
footer { display: none !important; }
"""


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", font=FONT, font_mono=FONT_MONO)


# -- rendering: one HTML block per answer (no blank lines, so markdown leaves it alone) ----------


def _lines(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.strip().splitlines())


def render_draft(text: str) -> str:
    return f'<div class="pa-answer">{_lines(text)} ▍</div>'


def render_citations(answer: Answer) -> str:
    if not answer.citations:
        return ""
    items = "".join(
        f'<div class="pa-cite"><div class="pa-cite-doc">[{c.id}] 《{html.escape(c.title)}》</div>'
        f'<div class="pa-cite-section">{html.escape(c.where) or "（正文）"}</div>'
        f'<blockquote class="pa-cite-text">{html.escape(c.text)}</blockquote></div>'
        for c in answer.citations
    )
    return (
        f'<details class="pa-cites"><summary>出处（{len(answer.citations)} 条）</summary>'
        f"{items}</details>"
    )


def render_answer(answer: Answer) -> str:
    if answer.abstained:
        return (
            '<div class="pa-abstain"><div class="pa-abstain-title">⚠️ 未找到明确依据</div>'
            f"{_lines(answer.answer)}</div>"
        )
    note = (
        f'<div class="pa-cite-section">说明：{html.escape(answer.note)}</div>'
        if answer.note
        else ""
    )
    return f'<div class="pa-answer">{_lines(answer.answer)}</div>{note}{render_citations(answer)}'


def render_error(message: str) -> str:
    return f'<div class="pa-error">⚠️ {html.escape(message)}</div>'


# -- the chat ------------------------------------------------------------------------------------


def question_from_link(request: gr.Request | None) -> str | None:
    """The question in the page's ``?q=`` parameter, if it is one the chat would answer."""
    params = dict(getattr(request, "query_params", None) or {}) if request is not None else {}
    question = str(params.get("q") or "").strip()
    return question if 0 < len(question) <= MAX_QUESTION_CHARS else None


class ChatHandler:
    """Streams one question into the chat; ``turns`` keeps plain-text history for follow-ups."""

    def __init__(self, assistant: Assistant, on_answer: Callable[[Answer], None] | None = None):
        self.assistant = assistant
        self.on_answer = on_answer

    def respond(self, message: str, chat: list, turns: list[dict]) -> Iterator[tuple]:
        question = (message or "").strip()
        chat, turns = list(chat or []), list(turns or [])
        if not question:
            gr.Warning("请输入要咨询的问题")
            yield "", chat, turns
            return
        chat += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": render_draft("正在查找相关政策…")},
        ]
        yield "", chat, turns
        text, answer = "", None
        try:
            for event in self.assistant.stream(question, history=turns or None):
                if event.kind == "delta":
                    text += event.text
                elif event.kind == "replace":  # the draft failed verification: start over
                    text = event.text
                elif event.kind == "answer":
                    answer = event.answer
                    break
                chat[-1] = {"role": "assistant", "content": render_draft(text)}
                yield "", chat, turns
        except AssistantError as exc:
            chat[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield "", chat, turns
            return
        if answer is None:
            return
        chat[-1] = {"role": "assistant", "content": render_answer(answer)}
        turns += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.answer},
        ]
        if self.on_answer:
            self.on_answer(answer)
        yield "", chat, turns

    def respond_to_link(
        self, chat: list, turns: list[dict], request: gr.Request
    ) -> Iterator[tuple]:
        """On page load: answer the ``?q=`` question like a typed one; without one, change
        nothing. The no-op is explicit: a generator that yields nothing makes Gradio reset the
        outputs, which wiped a question the user had already sent while the page was loading."""
        question = question_from_link(request)
        if question is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        yield from self.respond(question, chat, turns)


# -- the documents tab ---------------------------------------------------------------------------


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
        try:
            docs = self.assistant.documents()
        except AssistantError:
            docs = []
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
        check_admin_key(self.settings, key, client=_client(request), throttle=self.throttle)

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
            return ("请先选择要删除的文档。", *self.table())
        try:
            self._check_key(key, request)
            summary = self.assistant.delete_document(doc_id)
        except AssistantError as exc:
            return (f"❌ 删除失败：{exc}", *self.table())
        return (f"✅ 已删除 {doc_id}，索引现有 {summary.chunks} 个片段。", *self.table())


# -- the targets ledger tab (指标台账) ----------------------------------------------------------

TARGET_HEADERS = ["条目", "指标内容", "数值", "单位", "限定", "原文", "文件"]
ALL_ITEMS = "全部条目"
ALL_DOCS = "全部文件"


class TargetsHandler:
    """Filters the ledger for the table and writes the same rows as a CSV (UTF-8 with BOM) for
    the download button. Each distinct export goes to a file named by its content's hash, so
    concurrent users never overwrite each other's download and repeats reuse one file."""

    def __init__(self, assistant: Assistant, export_dir: Path | None = None):
        self.assistant = assistant
        # private to this process: a shared, predictable /tmp path could be pre-seeded
        self.export_dir = export_dir or Path(tempfile.mkdtemp(prefix="pa-targets-"))

    def choices(self) -> tuple[gr.Dropdown, gr.Dropdown]:
        rows = self._rows()
        items = list(dict.fromkeys(r.item for r in rows if r.item))
        docs = list(dict.fromkeys((r.title, r.doc_id) for r in rows))
        return (
            gr.Dropdown(choices=[ALL_ITEMS, *items], value=ALL_ITEMS),
            gr.Dropdown(choices=[(ALL_DOCS, ALL_DOCS), *docs], value=ALL_DOCS),
        )

    def filter(self, q: str, item: str | None, doc: str | None) -> tuple[list[list], str, str]:
        section = None if item in (None, "", ALL_ITEMS) else item
        rows = self._rows(
            doc=None if doc in (None, "", ALL_DOCS) else doc, section=section, q=q or None
        )
        table = [
            [r.item, r.subject, format_value(r.value), r.unit, r.qualifier, r.sentence, r.title]
            for r in rows
        ]
        summary = f"共 {len(rows)} 条指标" if rows else "没有找到符合条件的指标。"
        return table, summary, str(self._export(rows))

    def _rows(self, **filters) -> list[Target]:
        try:
            return self.assistant.target_rows(**filters)
        except AssistantError as exc:
            gr.Warning(f"指标台账暂不可用：{exc}")
            return []

    def _export(self, rows: list[Target]) -> Path:
        data = TargetLedger.to_csv(rows)
        folder = self.export_dir / hashlib.sha256(data).hexdigest()[:16]
        path = folder / "指标台账.csv"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{os.getpid()}-{threading.get_ident()}.csv"
            tmp.write_bytes(data)
            tmp.replace(path)  # atomic: a reader never sees half a file
        return path


# -- assembly ------------------------------------------------------------------------------------


def build_ui(
    assistant: Assistant,
    settings: Settings,
    on_answer: Callable[[Answer], None] | None = None,
    throttle=None,
) -> gr.Blocks:
    chat = ChatHandler(assistant, on_answer)
    docs = DocumentsHandler(assistant, settings, throttle)
    targets = TargetsHandler(assistant)
    with gr.Blocks(
        title="威海科技政策问答助手", analytics_enabled=False, delete_cache=CACHE_CLEANUP
    ) as demo:
        gr.Markdown(
            "## 威海科技政策问答助手\n"
            "根据已收录的政策文件回答问题，每个回答都注明出处；文件中没有依据时会如实说明。"
        )
        with gr.Tab("政策问答", id="chat"):
            turns = gr.State([])
            chatbot = gr.Chatbot(
                label="对话",
                height=480,
                elem_id="pa-chat",
                buttons=["copy"],
                feedback_options=None,
                placeholder="请在下方输入问题，或点击示例问题。",
            )
            with gr.Row():
                box = gr.Textbox(
                    placeholder="例如：今年计划给多少家企业发放鲁科贷？",
                    show_label=False,
                    scale=8,
                    max_lines=4,
                    elem_id="pa-question",
                )
                send = gr.Button("发送", variant="primary", scale=1, elem_id="pa-send")
                clear = gr.Button("清空对话", scale=1)
            io = {"inputs": [box, chatbot, turns], "outputs": [box, chatbot, turns]}
            io_link = {"inputs": [chatbot, turns], "outputs": [box, chatbot, turns]}
            box.submit(chat.respond, **io, api_visibility="private")
            send.click(chat.respond, **io, api_visibility="private")
            clear.click(lambda: ("", [], []), None, [box, chatbot, turns], api_visibility="private")
            demo.load(chat.respond_to_link, **io_link, api_visibility="private")
            for label, questions in (
                ("企业常问", EXAMPLES_ENTERPRISE),
                ("工作人员：指标查询", EXAMPLES_STAFF),
            ):
                gr.Markdown(f"**{label}**")
                with gr.Row(elem_classes="pa-examples"):
                    for q in questions:
                        btn = gr.Button(q, size="sm", variant="secondary")
                        btn.click(
                            _ask_example(chat, q),
                            [chatbot, turns],
                            [box, chatbot, turns],
                            api_visibility="private",
                        )
        with gr.Tab("指标台账", id="targets"):
            gr.Markdown(
                "文件中的全部量化目标（数值、单位、限定词），每条都附原文，可筛选、导出 CSV"
                "（带 BOM，可直接用 Excel / WPS 打开）。"
            )
            with gr.Row():
                target_q = gr.Textbox(
                    label="关键词",
                    placeholder="例如：鲁科贷、技术经理人、专利",
                    scale=3,
                    elem_id="pa-targets-q",
                )
                target_item = gr.Dropdown(
                    label="条目",
                    choices=[ALL_ITEMS],
                    value=ALL_ITEMS,
                    allow_custom_value=True,  # also a bare number ("13") or section text
                    scale=2,
                    elem_id="pa-targets-item",
                )
                target_doc = gr.Dropdown(
                    label="文件",
                    choices=[ALL_DOCS],
                    value=ALL_DOCS,
                    scale=2,
                    elem_id="pa-targets-doc",
                )
            with gr.Row():
                target_search = gr.Button("筛选", variant="primary", elem_id="pa-targets-search")
                target_download = gr.DownloadButton(
                    "下载 CSV", variant="secondary", elem_id="pa-targets-download"
                )
            target_count = gr.Markdown(elem_id="pa-targets-count")
            target_table = gr.Dataframe(
                headers=TARGET_HEADERS,
                interactive=False,
                wrap=True,
                label="指标台账",
                column_widths=["14%", "18%", "7%", "6%", "6%", "36%", "13%"],
                elem_id="pa-targets",
            )
            t_in = [target_q, target_item, target_doc]
            t_out = [target_table, target_count, target_download]
            target_q.submit(targets.filter, t_in, t_out, api_visibility="private")
            target_search.click(targets.filter, t_in, t_out, api_visibility="private")
            target_item.input(targets.filter, t_in, t_out, api_visibility="private")
            target_doc.input(targets.filter, t_in, t_out, api_visibility="private")
            demo.load(
                targets.choices, None, [target_item, target_doc], api_visibility="private"
            ).then(targets.filter, t_in, t_out, api_visibility="private")
        with gr.Tab("文档管理", id="documents"):
            table = gr.Dataframe(
                headers=DOC_HEADERS,
                interactive=False,
                wrap=True,
                label="已收录文档",
                elem_id="pa-docs",
            )
            refresh = gr.Button("刷新列表", size="sm")
            gr.Markdown("上传或删除文档需要管理密钥（服务端环境变量 `PA_API_KEY`）。")
            key = gr.Textbox(label="管理密钥", type="password", elem_id="pa-admin-key")
            key.change(None, [key], None, js=SET_KEY_COOKIE, api_visibility="private")
            with gr.Row():
                with gr.Column():
                    upload_file = gr.File(
                        label=f"选择文件（{' '.join(SUPPORTED_SUFFIXES)}，不超过 {settings.max_upload_mb} MB）",
                        file_types=list(SUPPORTED_SUFFIXES),
                        type="filepath",
                        elem_id="pa-upload",
                    )
                    upload_btn = gr.Button("上传并索引", variant="primary")
                with gr.Column():
                    pick = gr.Dropdown(label="选择要删除的文档", choices=[])
                    delete_btn = gr.Button("删除", variant="stop")
            status = gr.Markdown()
            outs = [table, pick]
            refresh.click(docs.table, None, outs, api_visibility="private")
            upload_btn.click(
                docs.upload, [key, upload_file], [status, *outs], api_visibility="private"
            )
            delete_btn.click(docs.delete, [key, pick], [status, *outs], api_visibility="private")
        demo.load(docs.table, None, outs, api_visibility="private")
    demo.queue(default_concurrency_limit=4)
    return demo


def _ask_example(chat: ChatHandler, question: str):
    # a real generator function: Gradio streams only what it can tell is a generator
    def run(history: list, turns: list[dict]):
        yield from chat.respond(question, history, turns)

    return run


def mount_ui(
    app: FastAPI,
    assistant: Assistant,
    settings: Settings,
    path: str = "/ui",
    metrics=None,
    throttle=None,
) -> FastAPI:
    """Mount the UI on ``app``; ``metrics`` (the API's ``Metrics``) also counts UI answers;
    ``throttle`` (the API's failed-key throttle) also counts the documents tab's wrong keys."""
    on_answer = (lambda a: metrics.observe_answer(a, "ui")) if metrics is not None else None
    demo = build_ui(assistant, settings, on_answer, throttle)
    return gr.mount_gradio_app(
        app,
        demo,
        path=path,
        theme=theme(),
        css=CSS,
        footer_links=[],
        max_file_size=f"{settings.max_upload_mb}mb",
        show_error=True,
        ssr_mode=False,
        mcp_server=False,
        run_history=False,
    )
