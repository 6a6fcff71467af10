"""The UI in a real headless Chromium: examples, streamed answers with citations, follow-ups,
abstentions, the documents tab — and not one request leaving 127.0.0.1 (the ``page`` fixture)."""

from __future__ import annotations

from PIL import Image


def _bot_messages(page):
    return page.locator('#pa-chat [data-testid="bot"]')


def _ask(page, question: str) -> None:
    page.locator("#pa-question textarea").fill(question)
    page.locator("#pa-send").click()


def _wait_for_answers(page, count: int):
    """Wait until ``count`` final answers are rendered (drafts end with ▍ and have no panel)."""
    final = page.locator("#pa-chat .pa-final")
    try:
        final.nth(count - 1).wait_for(timeout=90_000)  # generous: CI machines can be busy
    except Exception:
        print("CHAT:", page.locator("#pa-chat").inner_text()[-800:])
        print("BOX:", page.locator("#pa-question textarea").input_value())
        raise
    return _bot_messages(page).nth(count - 1)


def test_example_question_shows_answer_and_citation(ui_server, page, tmp_path):
    page.goto(f"{ui_server.url}/ui/")
    page.get_by_role("button", name="今年计划给多少家企业发放鲁科贷？").click()
    answer = _wait_for_answers(page, 1)
    assert "500家" in answer.locator(".pa-answer").inner_text()
    assert "25亿元" in answer.inner_text()

    section = answer.locator(".pa-cite-section").first
    assert not section.is_visible()  # the sources panel starts folded
    answer.locator("summary").click()
    section.wait_for(state="visible")
    assert section.inner_text().endswith("13.优化全周期科技金融服务")
    assert "2025年全市科技工作要点" in answer.locator(".pa-cite-doc").first.inner_text()
    # the answer already prints the clause word for word: the panel does not repeat it
    assert "鲁科贷" in answer.locator(".pa-answer").inner_text()
    assert answer.locator(".pa-cite-text").count() == 0
    assert "start=" in answer.locator(".pa-cite a.pa-open").first.get_attribute("href")

    shot = tmp_path / "ui-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    with Image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is None or len(colours) > 50  # a rendered page, not a blank or one colour


def test_follow_up_keeps_context_and_abstention_is_marked(ui_server, page):
    page.goto(f"{ui_server.url}/ui/")
    _ask(page, "鲁科贷是什么？")
    _wait_for_answers(page, 1)
    _ask(page, "今年目标是多少？")
    follow_up = _wait_for_answers(page, 2)
    assert "500家" in follow_up.inner_text()

    _ask(page, "创新券的申请截止日期是什么时候？")
    abstained = _wait_for_answers(page, 3)
    assert abstained.locator(".pa-abstain").is_visible()
    assert "未找到明确依据" in abstained.inner_text()
    assert abstained.locator("details").count() == 0


def test_documents_tab_lists_the_corpus_and_guards_uploads(ui_server, page, tmp_path):
    page.goto(f"{ui_server.url}/ui/")
    page.get_by_role("tab", name="文档管理").click()
    table = page.locator("#pa-docs")
    page.locator("#pa-docs >> text=威海市科学技术局 >> visible=true").first.wait_for()
    text = table.inner_text()
    assert "2025年全市科技工作要点" in text and "2025-04-14" in text

    upload = tmp_path / "新文件.txt"
    upload.write_text("威海市科技特派员工作方案。今年选派科技特派员120名。", encoding="utf-8")
    page.locator("#pa-admin-key input").fill("not-the-key")
    page.locator('#pa-upload input[type="file"]').set_input_files(str(upload))
    page.locator("text=新文件.txt >> visible=true").first.wait_for()
    page.get_by_role("button", name="上传并索引").click()
    page.locator("text=管理密钥错误 >> visible=true").first.wait_for()
    assert "新文件" not in table.inner_text()
