"""``/ui?q=…`` links (WeChat's trimmed replies end with one): on page load the UI answers the
question in the link like a typed one — in a real headless Chromium, and at the handler level,
where a missing, empty or over-long ``q`` does nothing."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from starlette.requests import Request as StarletteRequest

from assistant.config import MAX_QUESTION_CHARS

QUESTION = "科融信能提供什么贷款？"


def _request(query: dict[str, str] | None = None):
    """A ``gr.Request`` over a real Starlette request for ``/ui/?<query>``."""
    import gradio as gr

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/ui/gradio_api/queue/join",
        "headers": [],
        "query_string": urlencode(query or {}).encode(),
    }
    return gr.Request(request=StarletteRequest(scope))


def _final_answer(page):
    """The first finished answer (drafts end with ▍ and have no sources panel)."""
    page.locator("#pa-chat .pa-final").first.wait_for()
    return page.locator('#pa-chat [data-testid="bot"]').first


def test_link_question_is_asked_and_answered_with_citations(ui_server, page):
    page.goto(f"{ui_server.url}/ui/?q={quote(QUESTION)}")
    answer = _final_answer(page)
    assert answer.locator(".pa-error").count() == 0 and answer.locator(".pa-abstain").count() == 0
    assert "无担保" in answer.locator(".pa-answer").inner_text()
    user = page.locator('#pa-chat [data-testid="user"]')
    assert user.count() == 1 and QUESTION in user.first.inner_text()

    answer.locator("summary").click()  # the sources panel starts folded
    cite = answer.locator(".pa-cite-section").first
    cite.wait_for(state="visible")
    assert "13.优化全周期科技金融服务" in cite.inner_text()
    assert "2025年全市科技工作要点" in answer.locator(".pa-cite-doc").first.inner_text()
    assert page.locator("#pa-question textarea").input_value() == ""  # the box stays free


def test_the_wechat_link_itself_opens_the_answer(ui_server, page):
    from assistant.wechat.compose import full_answer_link

    page.goto(full_answer_link(ui_server.url, QUESTION))  # ``/ui?q=…``, no trailing slash
    assert "无担保" in _final_answer(page).locator(".pa-answer").inner_text()


def test_link_question_streams_like_a_typed_one(assistant):
    from ui.app import ChatHandler

    seen = []
    handler = ChatHandler(assistant, on_answer=seen.append)
    contents = [
        chat[-1]["content"]
        for _box, chat, _convo in handler.respond_to_link(
            [], [], _request({"q": f"  {QUESTION}\n"})
        )
    ]
    assert len(contents) > 2 and all("▍" in c for c in contents[:-1])  # drafts, then the answer
    assert "无担保" in contents[-1] and "<details" in contents[-1]
    assert len(seen) == 1 and seen[0].question == QUESTION


@pytest.mark.parametrize(
    "query",
    [None, {"q": ""}, {"q": "   "}, {"other": QUESTION}, {"q": "鲁" * (MAX_QUESTION_CHARS + 1)}],
    ids=["missing", "empty", "blank", "other-param", "too-long"],
)
def test_no_usable_link_question_does_nothing(assistant, query):
    import gradio as gr

    from ui.app import ChatHandler

    seen = []
    handler = ChatHandler(assistant, on_answer=seen.append)
    earlier = [{"role": "user", "content": "鲁科贷是什么？"}]
    outputs = list(handler.respond_to_link(earlier, [], _request(query)))
    assert outputs == [(gr.skip(), gr.skip(), gr.skip())]  # explicit no-op for box, chat, turns
    assert seen == [] and earlier == [{"role": "user", "content": "鲁科贷是什么？"}]


def test_question_from_link_reads_both_request_forms():
    import gradio as gr

    from ui.app import question_from_link

    assert question_from_link(_request({"q": QUESTION})) == QUESTION
    # after queueing Gradio may hand over a plain-attribute request instead of Starlette's
    assert question_from_link(gr.Request(query_params={"q": QUESTION})) == QUESTION
    assert question_from_link(gr.Request(query_params={})) is None
    assert question_from_link(None) is None
    edge = "鲁" * MAX_QUESTION_CHARS
    assert question_from_link(_request({"q": edge})) == edge
