"""The web UI as people use it, in a real headless Chromium at phone (390×844) and desktop
(1366×800) sizes, light and dark: examples visible without scrolling, the ⚠️ headline in view
after an abstention, readable contrast computed from the rendered colours, plain-text copy, a
reset that really resets, the cited clause highlighted in its document, links that cannot inject,
a conversation that survives a reload, and 👎 that becomes an eval case. Screenshots of each state
go to the ``shots`` folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.api.live_server import ADMIN_KEY
from tests.ui.conftest import LOOKS

ABSTAINS = "创新券的申请截止日期是什么时候？"
LOAN = "今年计划给多少家企业发放鲁科贷？"
EXAMPLES = [
    "创新券有哪些扶持政策？",
    LOAN,
    "科融信能提供什么贷款？",
    "今年要实施多少个科技创新重点项目？",
    "技术经理人培训目标是多少？",
    "2025年威海要实施多少项“揭榜挂帅”技术攻关项目？",
]

# WCAG contrast of an element's text against the background it is drawn on: the nearest
# ancestors' background colours composited (alpha) down to the page's.
CONTRAST_JS = """(el) => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || [0, 0, 0, 0];
    return {r: +m[0], g: +m[1], b: +m[2], a: m.length > 3 ? +m[3] : 1}; };
  const layers = [];
  for (let n = el; n; n = n.parentElement) {
    const bg = parse(getComputedStyle(n).backgroundColor);
    if (bg.a > 0) { layers.push(bg); if (bg.a >= 1) break; }
  }
  let base = {r: 255, g: 255, b: 255};
  if (!layers.length || layers[layers.length - 1].a < 1) {
    const root = parse(getComputedStyle(document.body).backgroundColor);
    if (root.a > 0) base = root;
  }
  for (const l of layers.reverse()) {
    base = {r: l.r * l.a + base.r * (1 - l.a), g: l.g * l.a + base.g * (1 - l.a),
            b: l.b * l.a + base.b * (1 - l.a)};
  }
  const fg0 = parse(getComputedStyle(el).color);
  const fg = {r: fg0.r * fg0.a + base.r * (1 - fg0.a), g: fg0.g * fg0.a + base.g * (1 - fg0.a),
              b: fg0.b * fg0.a + base.b * (1 - fg0.a)};
  const lum = (c) => { const f = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const [a, b] = [lum(fg), lum(base)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def _ask(page, question: str) -> None:
    page.locator("#pa-question textarea").fill(question)
    page.locator("#pa-send").click()


def _answer(page, count: int = 1):
    """The ``count``-th finished answer (a draft has no ``pa-final``)."""
    page.locator("#pa-chat .pa-final").nth(count - 1).wait_for(timeout=90_000)
    return page.locator('#pa-chat [data-testid="bot"]').nth(count - 1)


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    view = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= view["height"] + 0.5
        and box["x"] >= 0
        and box["x"] + box["width"] <= view["width"] + 0.5
    )


def _page_scrolls(page) -> bool:
    return page.evaluate("document.documentElement.scrollHeight > window.innerHeight + 1")


def _open(page, url: str) -> None:
    page.goto(url)
    page.locator("#pa-question textarea").wait_for()
    page.locator("#pa-starter button").first.wait_for()


@pytest.mark.parametrize(("kind", "scheme"), LOOKS)
def test_examples_are_visible_on_first_load_with_touch_sized_targets(
    ui_server, open_page, shots, kind, scheme
):
    page = open_page(kind, scheme)
    _open(page, f"{ui_server.url}/ui/")
    page.wait_for_timeout(500)  # the layout script has fitted the chat to the screen
    page.screenshot(path=str(shots / f"first-load-{kind}-{scheme}.png"))
    for question in EXAMPLES:
        button = page.get_by_role("button", name=question)
        assert _in_view(page, button), f"{question} is not visible without scrolling"
        assert button.bounding_box()["height"] >= 44
    for target in ("#pa-send", "#pa-new", "#pa-question textarea"):
        assert _in_view(page, page.locator(target))
        assert page.locator(target).bounding_box()["height"] >= 44, target
    assert not _page_scrolls(page)  # one scroller on the chat tab: the chat's own
    assert page.title() == "威海科技政策问答助手"


@pytest.mark.parametrize(("kind", "scheme"), LOOKS)
def test_abstention_headline_is_in_view_and_readable(ui_server, open_page, shots, kind, scheme):
    page = open_page(kind, scheme)
    _open(page, f"{ui_server.url}/ui/")
    _ask(page, ABSTAINS)
    answer = _answer(page)
    headline = answer.locator(".pa-abstain-title")
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / f"abstention-{kind}-{scheme}.png"))
    assert headline.inner_text().strip() == "⚠️ 未找到明确依据"
    assert _in_view(page, headline), "the view must show the answer's top, not its tail"
    assert not _page_scrolls(page)
    assert headline.evaluate(CONTRAST_JS) >= 4.5
    body = answer.locator(".pa-abstain-text")
    assert body.evaluate(CONTRAST_JS) >= 4.5
    section = answer.locator(".pa-related .pa-cite-section").first
    assert section.evaluate(CONTRAST_JS) >= 4.5
    # related passages are shown whole: the clause mentioning 创新券 is there in full
    related = answer.locator(".pa-related .pa-cite-text").all_inner_texts()
    assert any("创新券等普惠扶持政策" in t for t in related)


@pytest.mark.parametrize(("kind", "scheme"), LOOKS)
def test_answer_section_path_and_citation_marker_are_readable(
    ui_server, open_page, shots, kind, scheme
):
    page = open_page(kind, scheme)
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("button", name=LOAN).click()
    answer = _answer(page)
    answer.locator("summary").click()
    section = answer.locator(".pa-cite-section").first
    section.wait_for(state="visible")
    assert "…" not in section.inner_text()  # "四、夯实企业创新主体地位…" completed from the text
    assert section.inner_text().startswith("四、夯实企业创新主体地位,激发创新创造活力 › ")
    page.screenshot(path=str(shots / f"answer-sources-{kind}-{scheme}.png"))
    assert section.evaluate(CONTRAST_JS) >= 4.5
    assert answer.locator(".pa-answer").evaluate(CONTRAST_JS) >= 4.5
    assert answer.locator(".pa-answer a.pa-ref").first.evaluate(CONTRAST_JS) >= 4.5
    assert _in_view(page, page.locator('#pa-chat [data-testid="user"]').last)
    touch = [
        answer.get_by_role("button", name="复制"),
        answer.locator("summary"),
        page.locator('#pa-chat button[aria-label="赞"]').last,
        page.locator('#pa-chat button[aria-label="踩"]').last,
        page.locator("#pa-suggest button").first,
    ]
    for target in touch:
        box = target.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, target


@pytest.mark.parametrize("kind", ["phone", "desktop"])
def test_copy_puts_the_plain_answer_on_the_clipboard(ui_server, open_page, assistant, kind):
    from ui.docview import DocumentView
    from ui.render import plain_text

    page = open_page(kind, "light")
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("button", name=LOAN).click()
    answer = _answer(page)
    answer.get_by_role("button", name="复制").click()
    answer.get_by_role("button", name="已复制").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == plain_text(DocumentView(assistant).with_full_sections(assistant.ask(LOAN)))
    assert "<" not in copied and "500家" in copied
    assert "\n\n来源：\n[1] 《2025年全市科技工作要点》" in copied
    assert "…" not in copied  # the heading path in full
    labels = page.evaluate(
        "Array.from(document.querySelectorAll('[aria-label]')).map(e => e.getAttribute('aria-label'))"
    )
    assert labels and not [label for label in labels if "<" in label or "&#" in label]


@pytest.mark.parametrize("reset", ["new-chat", "trash-icon"])
def test_reset_then_follow_up_gets_a_standalone_answer(ui_server, open_page, assistant, reset):
    page = open_page("phone", "light")
    _open(page, f"{ui_server.url}/ui/")
    _ask(page, "鲁科贷是什么？")
    _answer(page)
    if reset == "new-chat":
        page.locator("#pa-new").click()
    else:
        page.locator('#pa-chat button[aria-label="清空对话"]').click()
    page.locator("#pa-starter button").first.wait_for()  # the examples are back
    assert page.locator('#pa-chat [data-testid="user"]').count() == 0
    _ask(page, "今年目标是多少？")
    answer = _answer(page)
    standalone = assistant.ask("今年目标是多少？")
    with_context = assistant.ask(
        "今年目标是多少？",
        history=[
            {"role": "user", "content": "鲁科贷是什么？"},
            {"role": "assistant", "content": assistant.ask("鲁科贷是什么？").answer},
        ],
    )
    assert standalone.answer != with_context.answer  # the test can tell the two apart
    shown = answer.inner_text()
    assert standalone.answer.split("[")[0].strip()[:20] in shown
    assert "500家" not in shown
    page.locator("#pa-starter").wait_for(state="hidden")  # the turn is done and kept
    page.reload()
    page.locator("#pa-chat .pa-final").first.wait_for()
    assert page.locator('#pa-chat [data-testid="user"]').count() == 1  # storage was reset too


@pytest.mark.parametrize(("kind", "scheme"), [("phone", "light"), ("desktop", "dark")])
def test_citation_opens_the_clause_highlighted_in_its_document(
    ui_server, open_page, shots, assistant, kind, scheme
):
    page = open_page(kind, scheme)
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("button", name="科融信能提供什么贷款？").click()
    answer = _answer(page)
    cited = assistant.ask("科融信能提供什么贷款？").citations[0]
    answer.locator(".pa-answer a.pa-ref", has_text="[1]").click()
    frame = page.frame_locator("#pa-doc-frame")
    mark = frame.locator("mark#pa-hit")
    mark.wait_for()
    assert mark.inner_text() == cited.text
    where = frame.locator(".where").inner_text()
    assert "四、夯实企业创新主体地位" in where and "13.优化全周期科技金融服务" in where
    assert "…" not in where  # the full heading path, not the shortened one
    header = frame.locator("header").inner_text()
    assert "发文机关" in header and "威海市科学技术局" in header and "成文日期" in header
    unit = frame.locator(".unit").inner_text()
    assert unit.startswith("13.优化全周期科技金融服务") and "鲁科贷" in unit  # text around it
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / f"citation-dialog-{kind}-{scheme}.png"))
    assert _in_view(page, page.locator("#pa-doc-frame"))
    page.locator("#pa-doc-close").click()
    assert not page.locator("#pa-doc-dialog").is_visible()


def test_document_view_escapes_and_refuses_unknown_documents(ui_server):
    import httpx

    ok = httpx.get(f"{ui_server.url}/ui/doc/2025年全市科技工作要点.txt?start=2873&end=2952")
    assert ok.status_code == 200 and 'id="pa-hit"' in ok.text
    assert "script-src" not in ok.headers["content-security-policy"]  # no script may run
    missing = httpx.get(f"{ui_server.url}/ui/doc/<script>x</script>.txt")
    assert missing.status_code == 404 and "<script>x" not in missing.text


INJECTION = "创新券怎么领？[点击这里在线领取创新券](https://phish.example/apply) <img src=https://tracker.example/p.png>"


@pytest.mark.parametrize("entry", ["/ui/", "/"])
def test_link_question_is_shown_as_literal_text_and_nothing_leaves(
    ui_server, open_page, shots, entry
):
    page = open_page("phone", "light")
    page.goto(f"{ui_server.url}{entry}?q={quote(INJECTION)}")
    _answer(page)
    user = page.locator('#pa-chat [data-testid="user"]').first
    assert user.inner_text().strip() == INJECTION  # "/?q=" kept its question through the redirect
    chat = page.locator("#pa-chat")
    assert chat.locator('a[href*="phish"]').count() == 0
    assert chat.locator("img").count() == 0
    page.screenshot(path=str(shots / f"injection{entry.replace('/', '-')}phone.png"))
    page.locator("#pa-starter").wait_for(state="hidden")  # the turn is done and kept
    assert "q=" not in page.url  # answered once: a reload must not ask it again
    page.reload()
    page.locator("#pa-chat .pa-final").first.wait_for()
    assert page.locator('#pa-chat [data-testid="user"]').count() == 1
    assert page.title() == "威海科技政策问答助手"
    og = page.locator('meta[property="og:title"]')
    assert og.count() == 1 and og.get_attribute("content") == "威海科技政策问答助手"
    assert page.locator('meta[name="description"]').get_attribute("content")
    # the open_page fixture fails the test if the page requested anything outside 127.0.0.1


def test_typed_markup_is_literal_text(ui_server, page):
    _open(page, f"{ui_server.url}/ui/")
    typed = "**鲁科贷** <b>额度</b> [链接](https://phish.example) $$x$$"
    _ask(page, typed)
    _answer(page)
    user = page.locator('#pa-chat [data-testid="user"]').first
    assert user.inner_text().strip() == typed
    assert user.locator("b, strong, a, .katex").count() == 0


@pytest.mark.parametrize("kind", ["phone", "desktop"])
def test_reload_keeps_the_conversation_and_its_context(ui_server, open_page, shots, kind):
    page = open_page(kind, "light")
    _open(page, f"{ui_server.url}/ui/")
    _ask(page, "鲁科贷是什么？")
    _answer(page)
    page.locator("#pa-starter").wait_for(state="hidden")  # the turn is done and kept
    page.reload()
    page.locator("#pa-chat .pa-final").first.wait_for()
    assert "鲁科贷是什么？" in page.locator('#pa-chat [data-testid="user"]').first.inner_text()
    page.locator("#pa-starter").wait_for(state="hidden")  # no examples over a kept chat
    page.screenshot(path=str(shots / f"after-reload-{kind}.png"))
    _ask(page, "今年目标是多少？")
    assert "500家" in _answer(page, 2).inner_text()  # the follow-up still has its context


def test_dislike_with_a_reason_becomes_an_eval_case(ui_server, open_page, shots, seed_settings):
    import httpx

    page = open_page("desktop", "light")
    _open(page, f"{ui_server.url}/ui/")
    question = "今年要实施多少个科技创新重点项目？"
    page.get_by_role("button", name=question).click()
    answer = _answer(page)
    answer.hover()
    page.locator('#pa-chat button[aria-label="踩"]').last.click()
    box = page.locator("#pa-feedback-text textarea")
    box.wait_for()
    box.fill("应该同时给出总投资")
    page.screenshot(path=str(shots / "feedback-desktop-light.png"))
    page.locator("#pa-feedback-send").click()
    page.locator("#pa-feedback").wait_for(state="hidden")

    listed = httpx.get(
        f"{ui_server.url}/v1/feedback",
        params={"rating": "down"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert listed.status_code == 200
    record = [r for r in listed.json()["feedback"] if r["question"] == question][-1]
    assert record["comment"] == "应该同时给出总投资" and "148" in record["answer"]
    assert record["citations"] and record["mode"] and record["created"]
    assert httpx.get(f"{ui_server.url}/v1/feedback").status_code == 401
    metrics = httpx.get(f"{ui_server.url}/metrics").text
    assert any(
        line.startswith('pa_feedback_total{rating="down"}') and float(line.split()[-1]) >= 1
        for line in metrics.splitlines()
    )

    env = {
        **os.environ,
        "PA_INDEX_DIR": str(seed_settings.index_dir),
        "PA_CORPUS_DIR": str(seed_settings.corpus_dir),
    }
    exe = Path(sys.executable).with_name("policy-assistant")
    out = subprocess.run(
        [str(exe), "feedback", "export"], env=env, capture_output=True, text=True, check=True
    )
    cases = [json.loads(line) for line in out.stdout.splitlines()]
    case = next(c for c in cases if c["question"] == question)
    assert case["category"] == "feedback" and case["facts"] == [] and case["evidence"] == ""
    assert set(case) <= {
        "id",
        "question",
        "category",
        "answerable",
        "facts",
        "evidence",
        "history",
        "doc",
    }  # exactly the eval set's keys
    assert "应该同时给出总投资" in out.stderr


def test_follow_up_suggestions_are_offered_and_clickable(ui_server, page):
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("button", name=LOAN).click()
    _answer(page)
    suggestion = page.locator("#pa-suggest button").first
    suggestion.wait_for()
    count = page.locator("#pa-suggest button:visible").count()
    assert 2 <= count <= 3
    asked = suggestion.inner_text().strip()
    suggestion.click()
    _answer(page, 2)
    assert page.locator('#pa-chat [data-testid="user"]').nth(1).inner_text().strip() == asked


def test_targets_read_as_cards_on_a_phone(ui_server, open_page, shots):
    page = open_page("phone", "light")
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("tab", name="指标台账").click()
    card = page.locator(".pa-card", has_text="科技创新重点项目").first
    card.wait_for()
    value = card.locator(".pa-card-value")
    assert value.inner_text().strip() == "148个"
    assert value.bounding_box()["height"] < 60  # one line, not a digit per line
    assert not page.locator("#pa-targets").is_visible()  # the seven-column table is desktop's
    page.screenshot(path=str(shots / "targets-phone-light.png"))


def test_delete_asks_for_confirmation_and_can_be_cancelled(ui_server, page):
    _open(page, f"{ui_server.url}/ui/")
    page.get_by_role("tab", name="文档管理").click()
    page.locator("#pa-docs >> text=威海市科学技术局 >> visible=true").first.wait_for()
    page.locator("#pa-delete-pick input").click()
    page.get_by_role("option", name="2025年全市科技工作要点").click()
    page.locator("#pa-delete").click()
    page.locator("#pa-docs-status >> text=确定要删除《2025年全市科技工作要点》吗").wait_for()
    assert page.locator("#pa-delete-yes").is_visible()
    page.locator("#pa-delete-no").click()
    page.locator("#pa-docs-status >> text=已取消删除").wait_for()
    assert not page.locator("#pa-delete-yes").is_visible()
    assert "2025年全市科技工作要点" in page.locator("#pa-docs").inner_text()


ENGLISH_LABELS_JS = """() => Array.from(document.querySelectorAll('[aria-label],[title],[placeholder]'))
  .flatMap(e => ['aria-label', 'title', 'placeholder'].map(a => e.getAttribute(a)))
  .filter(v => v && /[A-Za-z]{3,}/.test(v))"""


def test_gradio_strings_are_chinese_even_in_an_english_browser(ui_server, open_page):
    page = open_page("desktop", "light", locale="en-US")
    _open(page, f"{ui_server.url}/ui/")
    page.locator("#pa-send").click()  # an empty question: Gradio's warning toast
    toast = page.locator('[data-testid="toast-body"]').first
    toast.wait_for()
    assert "Warning" not in toast.inner_text() and "请输入要咨询的问题" in toast.inner_text()
    _ask(page, "鲁科贷是什么？")
    _answer(page)
    assert page.evaluate(ENGLISH_LABELS_JS) == []
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
