"""The Chinese web UI: a Gradio chat over the same ``Assistant`` the API uses, mounted at ``/ui``.

Phone first: the chat fills the screen's height with the input pinned under it, example
questions show on an empty chat, and a new answer is shown from its top. Answers stream from
``Assistant.stream()``; every ``[n]`` opens the cited clause in its document (``/ui/doc/…``,
in a dialog); "复制" copies plain text; follow-up questions are suggested from the cited unit's
neighbours; 👍/👎 (with "哪里不对") is stored for the eval set. The conversation is kept in the
browser's storage across reloads; 新对话 and the chat's trash icon reset it, context included.
A ``/ui?q=…`` link (WeChat's trimmed replies end with one) asks its question on load. There is a
targets-ledger tab (指标台账), and — only when an admin key is configured — a documents tab.
It works offline: no analytics, no share links, system fonts only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # must precede the gradio import

import gradio as gr
from fastapi import FastAPI, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from starlette.routing import Mount

from assistant.api.openapi import errors
from assistant.config import Settings
from assistant.errors import SUPPORTED_SUFFIXES
from assistant.feedback import FeedbackStore, store_for
from assistant.models import Answer
from assistant.service import Assistant

from .chat import SUGGESTIONS, ChatHandler, question_from_link
from .documents import CACHE_CLEANUP, DOC_HEADERS, SET_KEY_COOKIE, DocumentsHandler
from .docview import PAGE_CSP, DocumentView
from .page import CSS, JS, TITLE, IndexPageMiddleware
from .render import render_answer
from .targets import ALL_DOCS, ALL_ITEMS, TARGET_HEADERS, TargetsHandler

__all__ = [
    "ALL_DOCS",
    "ALL_ITEMS",
    "ChatHandler",
    "DocumentsHandler",
    "TargetsHandler",
    "build_ui",
    "mount_ui",
    "question_from_link",
    "render_answer",
]

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
# Gradio strings its Chinese locale leaves in English
I18N = gr.I18n(
    **{
        "zh-CN": {"chatbot.copy_message": "复制", "chatbot.copied_message": "已复制"},
        "en": {"chatbot.copy_message": "复制", "chatbot.copied_message": "已复制"},
    }
)


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", font=FONT, font_mono=FONT_MONO)


def _browser_secret(settings: Settings) -> str:
    # Gradio encrypts what it keeps in the browser; a secret fixed per index keeps a
    # conversation readable across server restarts (it guards nothing else: the browser holds
    # the user's own conversation, and the server re-renders it escaped)
    return hashlib.sha256(f"pa-ui:{Path(settings.index_dir).resolve()}".encode()).hexdigest()[:32]


# -- assembly ------------------------------------------------------------------------------------


def build_ui(
    assistant: Assistant,
    settings: Settings,
    on_answer: Callable[[Answer], None] | None = None,
    throttle=None,
    feedback: FeedbackStore | None = None,
    on_feedback: Callable[[str], None] | None = None,
) -> gr.Blocks:
    chat = ChatHandler(assistant, on_answer, feedback, on_feedback)
    targets = TargetsHandler(assistant)
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            f"## {TITLE}\n"
            "根据已收录的政策文件回答问题，每个回答都注明出处，点 [1] 查看原文；文件中没有依据时会如实说明。",
            elem_id="pa-header",
        )
        with gr.Tab("政策问答", id="chat"):
            convo = gr.State([])
            saved = gr.BrowserState(
                [], storage_key="pa-conversation", secret=_browser_secret(settings)
            )
            fb_record = gr.State(None)
            chatbot = gr.Chatbot(
                label="对话",
                show_label=False,
                elem_id="pa-chat",
                buttons=[],  # Gradio's copy copies the HTML: each answer has its own 复制
                feedback_options=("Like", "Dislike"),
                latex_delimiters=[],
                autoscroll=False,  # the page script shows a new answer from its top
                placeholder="请在下方输入问题，或点击示例问题。",
            )
            with gr.Column(elem_id="pa-feedback", visible=False) as fb_box:
                fb_text = gr.Textbox(
                    label="哪里不对？（可不填）",
                    placeholder="例如：数字不对、引用的条款不相关、应该能回答……",
                    max_lines=4,
                    elem_id="pa-feedback-text",
                )
                with gr.Row():
                    fb_send = gr.Button("提交反馈", variant="primary", elem_id="pa-feedback-send")
                    fb_skip = gr.Button("不用了", elem_id="pa-feedback-skip")
            with gr.Column(elem_id="pa-starter") as starter:
                example_buttons = []
                for label, questions in (
                    ("企业常问", EXAMPLES_ENTERPRISE),
                    ("工作人员：指标查询", EXAMPLES_STAFF),
                ):
                    gr.Markdown(label, elem_classes="pa-group")
                    with gr.Row(elem_classes="pa-examples"):
                        example_buttons += [
                            gr.Button(q, size="sm", variant="secondary") for q in questions
                        ]
            with gr.Row(elem_id="pa-suggest", visible=False) as suggest_row:
                suggest = [
                    gr.Button(visible=False, size="sm", variant="secondary", elem_classes="pa-next")
                    for _ in range(SUGGESTIONS)
                ]
            with gr.Row(elem_id="pa-input-row"):
                box = gr.Textbox(
                    label="问题",
                    placeholder="请输入您的问题",
                    show_label=False,
                    scale=8,
                    max_lines=4,
                    elem_id="pa-question",
                )
                send = gr.Button(
                    "发送", variant="primary", scale=1, min_width=64, elem_id="pa-send"
                )
                new = gr.Button("新对话", scale=1, min_width=72, elem_id="pa-new")

            # hidden progress throughout the chat: its draft bubble ("正在查找相关政策…") is the
            # progress; Gradio's spinner would cover the input box while an answer streams
            quiet = {"api_visibility": "private", "show_progress": "hidden"}
            after = {
                "fn": chat.after,
                "inputs": [convo],
                "outputs": [saved, starter, suggest_row, *suggest],
                **quiet,
            }
            io = {"inputs": [box, chatbot, convo], "outputs": [box, chatbot, convo]}
            box.submit(chat.respond, **io, **quiet).then(**after)
            send.click(chat.respond, **io, **quiet).then(**after)
            for btn in (*example_buttons, *suggest):  # a button's value is its question
                btn.click(
                    chat.respond,
                    [btn, chatbot, convo],
                    [box, chatbot, convo],
                    **quiet,
                ).then(**after)
            reset_out = [box, chatbot, convo, saved]
            new.click(chat.reset, None, reset_out, **quiet).then(**after)
            chatbot.clear(chat.reset, None, reset_out, **quiet).then(**after)
            chatbot.like(
                chat.rate,
                [convo],
                [fb_box, fb_record, fb_text],
                **quiet,
            )
            fb_send.click(
                chat.explain,
                [fb_record, fb_text],
                [fb_box, fb_record, fb_text],
                **quiet,
            )
            fb_skip.click(
                lambda: (gr.Column(visible=False), None, gr.Textbox(value="")),
                None,
                [fb_box, fb_record, fb_text],
                **quiet,
            )
            demo.load(
                chat.load,
                [saved],
                [chatbot, convo, starter],
                **quiet,
            ).then(
                chat.respond_to_link,
                [chatbot, convo],
                [box, chatbot, convo],
                **quiet,
            ).then(**after)
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
            target_cards = gr.HTML(elem_classes="pa-cards", elem_id="pa-target-cards")
            t_in = [target_q, target_item, target_doc]
            t_out = [target_table, target_count, target_download, target_cards]
            target_q.submit(targets.filter, t_in, t_out, api_visibility="private")
            target_search.click(targets.filter, t_in, t_out, api_visibility="private")
            target_item.input(targets.filter, t_in, t_out, api_visibility="private")
            target_doc.input(targets.filter, t_in, t_out, api_visibility="private")
            demo.load(
                targets.choices, None, [target_item, target_doc], api_visibility="private"
            ).then(targets.filter, t_in, t_out, api_visibility="private")
        if settings.api_key:  # without an admin key nobody could change anything here
            _documents_tab(demo, DocumentsHandler(assistant, settings, throttle), settings)
    demo.queue(default_concurrency_limit=4)
    return demo


def _documents_tab(demo: gr.Blocks, docs: DocumentsHandler, settings: Settings) -> None:
    with gr.Tab("文档管理", id="documents"):
        gr.Markdown(
            "这里列出已收录的政策文件。上传或删除文件需要**管理密钥**——部署本服务时设置的"
            " `PA_API_KEY`，请向系统管理员索取；普通用户无需使用本页。"
        )
        table = gr.Dataframe(
            headers=DOC_HEADERS,
            interactive=False,
            wrap=True,
            label="已收录文档",
            elem_id="pa-docs",
        )
        refresh = gr.Button("刷新列表", size="sm")
        key = gr.Textbox(
            label="管理密钥",
            type="password",
            placeholder="填写后才能上传或删除",
            elem_id="pa-admin-key",
        )
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
                pick = gr.Dropdown(label="选择要删除的文档", choices=[], elem_id="pa-delete-pick")
                delete_btn = gr.Button("删除…", variant="stop", elem_id="pa-delete")
                with gr.Row(visible=False, elem_id="pa-delete-confirm") as confirm_row:
                    confirm_btn = gr.Button("确认删除", variant="stop", elem_id="pa-delete-yes")
                    cancel_btn = gr.Button("取消", elem_id="pa-delete-no")
        status = gr.Markdown(elem_id="pa-docs-status")
        outs = [table, pick]
        refresh.click(docs.table, None, outs, api_visibility="private")
        upload_btn.click(docs.upload, [key, upload_file], [status, *outs], api_visibility="private")
        delete_btn.click(docs.ask_delete, [pick], [status, confirm_row], api_visibility="private")
        confirm_btn.click(docs.delete, [key, pick], [status, *outs], api_visibility="private").then(
            lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private"
        )
        cancel_btn.click(
            lambda: ("已取消删除。", gr.Row(visible=False)),
            None,
            [status, confirm_row],
            api_visibility="private",
        )
        demo.load(docs.table, None, outs, api_visibility="private")


def _doc_route(view: DocumentView):
    def document_page(
        doc_id: Annotated[str, PathParam(description="文档 ID（见 GET /v1/documents）")],
        start: Annotated[
            int | None, Query(ge=0, le=10**9, description="引用起点（字符偏移）")
        ] = None,
        end: Annotated[
            int | None, Query(ge=0, le=10**9, description="引用终点（字符偏移）")
        ] = None,
    ) -> HTMLResponse:
        page = view.render(doc_id, start, end)
        headers = {
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if page is None:
            missing = (
                '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>未找到文档</title>'
                "<p>未找到该文档：它可能已被删除或重新上传。请回到问答页重新提问。</p></html>"
            )
            return HTMLResponse(missing, status_code=404, headers=headers)
        return HTMLResponse(page.body, headers=headers)

    return document_page


def mount_ui(
    app: FastAPI,
    assistant: Assistant,
    settings: Settings,
    path: str = "/ui",
    metrics=None,
    throttle=None,
) -> FastAPI:
    """Mount the UI on ``app``; ``metrics`` (the API's ``Metrics``) also counts UI answers and
    feedback; ``throttle`` (the API's failed-key throttle) also counts the documents tab's
    wrong keys. The document view ``{path}/doc/{doc_id}`` is a plain route of ``app``, added
    before the mount so that it is matched first."""
    on_answer = (lambda a: metrics.observe_answer(a, "ui")) if metrics is not None else None
    on_feedback = (lambda r: metrics.observe_feedback(r)) if metrics is not None else None
    store = store_for(settings)
    demo = build_ui(assistant, settings, on_answer, throttle, store, on_feedback)
    view = DocumentView(assistant)
    html_page = {"content": {"text/html": {"schema": {"type": "string"}}}}
    app.add_api_route(
        f"{path}/doc/{{doc_id:path}}",
        _doc_route(view),
        methods=["GET"],
        response_model=None,  # an HTML page; its errors (422 …) are the API's JSON body
        summary="网页界面：在原文中查看引用的条款（高亮引用部分，附文号、发文机关、日期）",
        tags=["网页界面"],
        responses={
            200: {**html_page, "description": "原文页面"},
            404: {**html_page, "description": "未找到该文档"},
            **errors(413, 422, 503),
        },
    )
    gr.mount_gradio_app(
        app,
        demo,
        path=path,
        theme=theme(),
        css=CSS,
        head=JS,
        i18n=I18N,
        footer_links=[],
        max_file_size=f"{settings.max_upload_mb}mb",
        show_error=True,
        ssr_mode=False,
        mcp_server=False,
        run_history=False,
    )
    for route in reversed(app.router.routes):  # the mount just added (not a placeholder)
        if isinstance(route, Mount) and route.path == path:
            route.app = IndexPageMiddleware(route.app)
            break
    return app
