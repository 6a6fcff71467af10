"""The UI's handlers called directly, over real assistants (no browser): streaming, follow-ups,
rendering, and the admin-key gate of the documents tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.models import Answer, Citation
from tests.api.live_server import ADMIN_KEY
from tests.conftest import copy_seed_corpus, make_settings


def test_chat_streams_drafts_then_the_final_answer(assistant):
    from ui.app import ChatHandler
    from ui.chat import history_of

    seen = []
    handler = ChatHandler(assistant, on_answer=seen.append)
    steps, contents = [], []
    for box, chat, convo in handler.respond("今年计划给多少家企业发放鲁科贷？", [], []):
        steps.append((box, chat, convo))
        contents.append(chat[-1]["content"])  # the handler reuses its list: snapshot each step
    assert len(steps) > 3  # the first placeholder, several drafts, the final answer
    assert all("▍" in c for c in contents[:-1]) and "▍" not in contents[-1]
    assert "500家" in contents[-1] and "<details" in contents[-1] and "pa-final" in contents[-1]
    _box, chat, convo = steps[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert convo[0]["q"] == "今年计划给多少家企业发放鲁科贷？" and convo[0]["a"]["citations"]
    turns = history_of(convo)
    assert turns[0] == {"role": "user", "content": "今年计划给多少家企业发放鲁科贷？"}
    assert "500家" in turns[1]["content"] and "<" not in turns[1]["content"]  # plain history
    assert len(seen) == 1 and seen[0].abstained is False


def test_chat_follow_up_reads_earlier_turns(assistant):
    from ui.app import ChatHandler

    handler = ChatHandler(assistant)
    *_, (_box, chat, convo) = handler.respond("鲁科贷是什么？", [], [])
    *_, (_box, chat, convo) = handler.respond("今年目标是多少？", chat, convo)
    assert "500家" in chat[-1]["content"] and len(convo) == 2


def test_chat_reset_empties_screen_and_context(assistant):
    from ui.app import ChatHandler

    handler = ChatHandler(assistant)
    *_, (_box, chat, convo) = handler.respond("鲁科贷是什么？", [], [])
    box, chat, convo, saved = handler.reset()
    assert (box, chat, convo, saved) == ("", [], [], [])
    *_, (_box, chat, convo) = handler.respond("今年目标是多少？", chat, convo)
    assert convo[0]["a"]["answer"] == assistant.ask("今年目标是多少？").answer  # standalone


def test_kept_conversation_is_rendered_again_and_bad_entries_dropped(assistant):
    from ui.chat import ChatHandler, restore

    handler = ChatHandler(assistant)
    *_, (_box, _chat, convo) = handler.respond("鲁科贷是什么？", [], [])
    saved = [*convo, {"q": 1}, "junk", {"q": "x", "a": {"answer": "no fields"}}]
    assert restore(saved) == convo and restore(None) == [] and restore("x") == []
    chat, restored, _starter = handler.load(saved)
    assert restored == convo and len(chat) == 2 and "pa-final" in chat[1]["content"]


def test_chat_ignores_an_empty_question(assistant):
    from ui.app import ChatHandler

    steps = list(ChatHandler(assistant).respond("   ", [], []))
    assert steps == [("", [], [])]


def test_chat_shows_domain_errors_in_the_conversation(assistant):
    from ui.app import ChatHandler

    *_, (_box, chat, convo) = ChatHandler(assistant).respond("鲁" * 2001, [], [])
    assert "pa-error" in chat[-1]["content"] and "2000" in chat[-1]["content"]
    assert convo[-1]["a"] is None and "2000" in convo[-1]["error"]


def test_rendering_escapes_document_and_user_text_and_marks_abstentions():
    from ui.render import plain_text, render_answer, render_question

    cite = Citation(
        id=1,
        doc_id="d",
        title="<b>标题</b>",
        section="一、总则",
        text="<script>x</script>",
        score=1.0,
        start=0,
        end=5,
    )
    html = render_answer(Answer(question="q", answer="回答 [1]", abstained=False, citations=[cite]))
    assert "<script>" not in html and "&#60;script&#62;" in html and "&#60;b&#62;标题" in html
    assert "\n" not in html  # one HTML block: markdown must not split it
    assert 'class="pa-ref" href="doc/d?start=0&amp;end=5#pa-hit"' in html  # [1] is a link
    abstained = render_answer(Answer(question="q", answer="没有找到。\n相关内容", abstained=True))
    assert "pa-abstain" in abstained and "未找到明确依据" in abstained
    assert "<details" not in abstained
    question = render_question("[点这里](https://phish.example) <img src=x> $$x$$ **粗**")
    for syntax in ("[", "]", "(", ")", "<", ">", "$", "*"):
        assert syntax not in question.removeprefix('<div class="pa-q">').removesuffix("</div>")
    plain = plain_text(Answer(question="q", answer="回答 [1]", abstained=False, citations=[cite]))
    assert plain == "回答 [1]\n\n来源：\n[1] 《<b>标题</b>》一、总则"


@pytest.fixture
def private_docs(tmp_path):
    from assistant.service import Assistant
    from ui.app import DocumentsHandler

    copy_seed_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path, api_key=ADMIN_KEY)
    assistant = Assistant(settings)
    assistant.build_index()
    return DocumentsHandler(assistant, settings), settings


def test_documents_tab_uploads_and_deletes_only_with_the_admin_key(private_docs, tmp_path):
    docs, settings = private_docs
    upload = tmp_path / "upload" / "科技特派员工作方案.txt"
    upload.parent.mkdir()
    upload.write_text(
        "威海市科技特派员工作方案。今年选派科技特派员120名，服务乡村振兴。", encoding="utf-8"
    )
    corpus = Path(settings.corpus_dir)
    before = sorted(p.name for p in corpus.iterdir())

    for key in ("", "wrong"):
        status, rows, _ = docs.upload(key, str(upload))
        assert status.startswith("❌") and "密钥" in status
        assert sorted(p.name for p in corpus.iterdir()) == before

    status, rows, dropdown = docs.upload(ADMIN_KEY, str(upload))
    assert status.startswith("✅"), status
    assert "科技特派员工作方案.txt" in [r[6] for r in rows]
    assert ("科技特派员工作方案", "科技特派员工作方案.txt") in dropdown.choices

    status, rows, _ = docs.delete("wrong", "科技特派员工作方案.txt")
    assert status.startswith("❌") and len(rows) == 2 and "请核对后重新填写" in status
    status, rows, _ = docs.delete(ADMIN_KEY, "科技特派员工作方案.txt")
    assert status.startswith("✅") and [r[6] for r in rows] == ["2025年全市科技工作要点.txt"]
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_documents_tab_reports_a_bad_file(private_docs, tmp_path):
    docs, _settings = private_docs
    bad = tmp_path / "报表.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0")
    status, rows, _ = docs.upload(ADMIN_KEY, str(bad))
    assert "不支持的文件类型 .xls" in status and len(rows) == 1


def test_documents_tab_marks_a_repealed_version_with_its_successor(tmp_path):
    from assistant.service import Assistant
    from ui.app import DocumentsHandler

    data = Path(__file__).resolve().parents[1] / "data" / "devcorpus"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("东港市科技创新券管理办法.txt", "东港市科技创新券管理暂行办法（2021）.txt"):
        (corpus / name).write_bytes((data / name).read_bytes())
    settings = make_settings(tmp_path)
    assistant = Assistant(settings)
    assistant.build_index()
    rows, _ = DocumentsHandler(assistant, settings).table()
    by_file = {r[6]: r for r in rows}
    old = by_file["东港市科技创新券管理暂行办法（2021）.txt"]
    new = by_file["东港市科技创新券管理办法.txt"]
    assert old[1] == "东科发〔2021〕8号"
    assert old[4].startswith("已废止") and "已被《东港市科技创新券管理办法》废止" in old[4]
    assert new[4].startswith("现行") and new[2] == "东港市科学技术局、东港市财政局"
    listed = {d.doc_id: d for d in assistant.documents()}
    assert listed["东港市科技创新券管理暂行办法（2021）.txt"].superseded_by == (
        "东港市科技创新券管理办法.txt"
    )


def test_documents_tab_exists_only_with_an_admin_key(seed_settings, assistant):
    from ui.app import build_ui

    def tabs(settings) -> list[str]:
        config = build_ui(assistant, settings).get_config_file()
        return [c["props"].get("label") for c in config["components"] if c["type"] == "tabitem"]

    assert "文档管理" not in tabs(seed_settings.model_copy(update={"api_key": None}))
    assert "文档管理" in tabs(seed_settings.model_copy(update={"api_key": ADMIN_KEY}))


def test_documents_tab_says_what_to_do_without_a_key(private_docs, tmp_path):
    docs, _settings = private_docs
    status, _rows, _ = docs.delete("", "2025年全市科技工作要点.txt")
    assert "请先在“管理密钥”框中填写管理密钥" in status and "Authorization" not in status
    message, _confirm = docs.ask_delete("2025年全市科技工作要点.txt")
    assert "确定要删除《2025年全市科技工作要点》吗" in message


def test_feedback_store_keeps_the_case_and_exports_eval_lines(tmp_path):
    from assistant.evaluate import EvalCase
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "fb.sqlite3")
    cite = Citation(id=1, doc_id="d.txt", title="t", section="s", text="x", score=1, start=0, end=1)
    answer = Answer(question="问？", answer="答 [1]", abstained=False, citations=[cite])
    history = [{"role": "user", "content": "前一问"}, {"role": "assistant", "content": "前一答"}]
    up = store.add("up", answer)
    down = store.add("down", answer, history=history)
    assert store.set_comment(down, "数字不对\x00") and not store.set_comment(999, "x")
    assert store.counts() == {"up": 1, "down": 1} and up != down
    (record,) = store.records("down")
    assert record.comment == "数字不对" and record.history == history
    assert record.citations == [cite] and record.mode == "extractive"
    (case,) = store.eval_cases()
    assert case["id"] == f"feedback-{down:04d}" and case["question"] == "问？"
    assert case["history"] == history and case["doc"] == "d.txt"
    filled = {**case, "facts": ["500家"], "evidence": "500家企业"}
    EvalCase.model_validate(filled)  # the eval loader takes it once a maintainer fills it


def test_sources_do_not_repeat_a_quote_the_answer_already_prints():
    from ui.render import render_answer

    quote = "用好“鲁科贷”政策,争取为500家企业发放科技成果转化贷款25亿元以上。"
    cite = Citation(id=1, doc_id="d", title="t", section="s", text=quote, score=1, start=0, end=9)
    ledger = Answer(
        question="q", answer=f"目标：500家。\n原文：{quote} [1]", abstained=False, citations=[cite]
    )
    assert "pa-cite-text" not in render_answer(ledger)  # shown once, in the answer
    other = ledger.model_copy(update={"answer": "500家 [1]"})
    assert "pa-cite-text" in render_answer(other)
