"""The chat tab's handlers: streaming one question into the conversation, keeping it (server state
for this page, the browser's storage across reloads), resetting it, follow-up suggestions and
👍/👎 feedback.

The conversation is a list of turns ``{"q": question, "a": Answer as dict | None, "error": str}``;
the chat's HTML is always rendered from it (never stored, never taken back from the browser), and
the history for a follow-up is its plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gradio as gr

from assistant.config import MAX_QUESTION_CHARS
from assistant.errors import AssistantError
from assistant.feedback import FeedbackStore
from assistant.models import Answer
from assistant.service import Assistant

from .docview import DocumentView
from .render import render_answer, render_draft, render_error, render_question

KEEP_TURNS = 30  # what the browser keeps: the newest turns of a long consultation
SUGGESTIONS = 3


def question_from_link(request: gr.Request | None) -> str | None:
    """The question in the page's ``?q=`` parameter, if it is one the chat would answer."""
    params = dict(getattr(request, "query_params", None) or {}) if request is not None else {}
    question = str(params.get("q") or "").strip()
    return question if 0 < len(question) <= MAX_QUESTION_CHARS else None


def history_of(convo: list[dict]) -> list[dict]:
    """The plain-text history a follow-up is read with: answered turns only."""
    turns: list[dict] = []
    for turn in convo:
        if turn.get("a"):
            turns += [
                {"role": "user", "content": turn["q"]},
                {"role": "assistant", "content": turn["a"]["answer"]},
            ]
    return turns


def render_chat(convo: list[dict]) -> list[dict]:
    chat = []
    for turn in convo:
        chat.append({"role": "user", "content": render_question(turn["q"])})
        if turn.get("a"):
            content = render_answer(Answer.model_validate(turn["a"]))
        else:
            content = render_error(turn.get("error") or "没有得到回答，请重新提问。")
        chat.append({"role": "assistant", "content": content})
    return chat


def restore(saved) -> list[dict]:
    """Turns read back from the browser's storage; anything malformed is dropped."""
    convo = []
    for turn in saved if isinstance(saved, list) else []:
        if not isinstance(turn, dict) or not isinstance(turn.get("q"), str):
            continue
        try:
            answer = Answer.model_validate(turn["a"]).model_dump() if turn.get("a") else None
        except (ValueError, TypeError):
            continue
        error = str(turn.get("error") or "") if answer is None else ""
        convo.append({"q": turn["q"][:MAX_QUESTION_CHARS], "a": answer, "error": error})
    return convo[-KEEP_TURNS:]


class ChatHandler:
    """Streams one question into the chat. ``respond`` yields ``(box, chat, convo)``."""

    def __init__(
        self,
        assistant: Assistant,
        on_answer: Callable[[Answer], None] | None = None,
        feedback: FeedbackStore | None = None,
        on_feedback: Callable[[str], None] | None = None,
    ):
        self.assistant = assistant
        self.on_answer = on_answer
        self.feedback = feedback
        self.on_feedback = on_feedback
        self.view = DocumentView(assistant)

    def respond(
        self, message: str, chat: list, convo: list[dict], standalone: bool = False
    ) -> Iterator[tuple]:
        question = (message or "").strip()
        convo = list(convo or [])
        chat = render_chat(convo)
        if not question:
            gr.Warning("请输入要咨询的问题", title="提示")
            yield "", chat, convo
            return
        history = None if standalone else (history_of(convo) or None)
        chat += [
            {"role": "user", "content": render_question(question)},
            {"role": "assistant", "content": render_draft("正在查找相关政策…")},
        ]
        yield "", chat, convo
        text, answer = "", None
        try:
            for event in self.assistant.stream(question, history=history):
                if event.kind == "delta":
                    text += event.text
                elif event.kind == "replace":  # the draft failed verification: start over
                    text = event.text
                elif event.kind == "answer":
                    answer = event.answer
                    break
                chat[-1] = {"role": "assistant", "content": render_draft(text)}
                yield "", chat, convo
        except AssistantError as exc:
            convo.append({"q": question[:MAX_QUESTION_CHARS], "a": None, "error": str(exc)})
            chat[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield "", chat, convo
            return
        if answer is None:
            return
        answer = self.view.with_full_sections(answer)
        convo.append({"q": question, "a": answer.model_dump(), "error": ""})
        chat[-1] = {"role": "assistant", "content": render_answer(answer)}
        if self.on_answer:
            self.on_answer(answer)
        yield "", chat, convo

    def respond_to_link(
        self, chat: list, convo: list[dict], request: gr.Request
    ) -> Iterator[tuple]:
        """On page load: answer the ``?q=`` question like a typed one — on its own, not as a
        follow-up of a kept conversation; without one, change nothing. The no-op is explicit: a
        generator that yields nothing makes Gradio reset the outputs."""
        question = question_from_link(request)
        if question is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        yield from self.respond(question, chat, convo, standalone=True)

    # -- what follows an answer ------------------------------------------------------------

    def suggestions(self, convo: list[dict]) -> list[str]:
        last = (convo or [{}])[-1]
        if not last.get("a"):
            return []
        try:
            return self.view.suggestions(Answer.model_validate(last["a"]), SUGGESTIONS)
        except AssistantError:
            return []

    def after(self, convo: list[dict]) -> tuple:
        """Once a turn is done: keep the conversation in the browser, show the examples only on
        an empty chat, offer the follow-ups."""
        convo = list(convo or [])
        picks = self.suggestions(convo)
        buttons = [
            gr.Button(value=picks[i], visible=True) if i < len(picks) else gr.Button(visible=False)
            for i in range(SUGGESTIONS)
        ]
        return (
            convo[-KEEP_TURNS:],
            gr.Column(visible=not convo),
            gr.Row(visible=bool(picks)),
            *buttons,
        )

    def load(self, saved) -> tuple:
        """On page load: the kept conversation, shown again (examples only on an empty one)."""
        convo = restore(saved)
        return render_chat(convo), convo, gr.Column(visible=not convo)

    @staticmethod
    def reset() -> tuple:
        """新对话 and the chat's trash icon: the screen *and* the context start empty."""
        return "", [], [], []

    # -- feedback --------------------------------------------------------------------------

    def rate(self, convo: list[dict], data: gr.LikeData) -> tuple:
        """👍/👎 on an answer: stored at once; a 👎 opens the "哪里不对" box for this record."""
        hidden = (gr.Column(visible=False), None, gr.Textbox(value=""))
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if data.liked not in (True, False) or not isinstance(index, int) or self.feedback is None:
            return hidden
        turn_no = index // 2
        convo = list(convo or [])
        if not 0 <= turn_no < len(convo) or not convo[turn_no].get("a"):
            gr.Info("这条消息不是回答，无法评价。", title="提示")
            return hidden
        rating = "up" if data.liked else "down"
        answer = Answer.model_validate(convo[turn_no]["a"])
        record = self.feedback.add(rating, answer, history=history_of(convo[:turn_no]))
        if self.on_feedback:
            self.on_feedback(rating)
        if rating == "up":
            gr.Info("感谢反馈！", title="提示")
            return hidden
        return gr.Column(visible=True), record, gr.Textbox(value="")

    def explain(self, record: int | None, comment: str) -> tuple:
        """The optional "哪里不对" text for the 👎 just given."""
        if record is not None and self.feedback is not None and (comment or "").strip():
            self.feedback.set_comment(record, comment)
        gr.Info("已记录，感谢反馈！维护人员会据此核对并改进。", title="提示")
        return gr.Column(visible=False), None, gr.Textbox(value="")
