"""The document view behind every ``[n]``: a PDF's clause on its page, highlighted, with the
document's 公文 metadata; text formats with their own headings and the full heading path; follow-up
suggestions from the cited unit's neighbours."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_settings

DEVCORPUS = Path(__file__).resolve().parents[1] / "data" / "devcorpus"
PDF = "东港市科技成果转化奖励办法.pdf"


@pytest.fixture(scope="module")
def pdf_assistant(tmp_path_factory):
    from assistant.service import Assistant

    tmp = tmp_path_factory.mktemp("pdfview")
    (tmp / "corpus").mkdir()
    shutil.copy(DEVCORPUS / PDF, tmp / "corpus" / PDF)
    assistant = Assistant(make_settings(tmp))
    assistant.build_index()
    return assistant


def test_pdf_clause_is_shown_on_its_page_highlighted(pdf_assistant):
    from ui.docview import DocumentView

    view = DocumentView(pdf_assistant)
    chunks = view.chunks(PDF)
    later = next(c for c in chunks if c.page and c.page > 1)
    page = view.render(PDF, later.start + 1, later.end - 1)
    assert page is not None
    mark = re.search(r'<mark id="pa-hit">(.*?)</mark>', page.body, re.S)
    assert mark and html.unescape(mark.group(1)) == later.text[1:-1]  # exactly the cited span
    assert f"第{later.page}页" in page.body  # the page marker and the 出处 line
    assert f"（第{later.page}页）" in page.body.split("</header>")[0]
    info = view.info(PDF)
    assert info is not None and info.title in page.body


def test_seed_document_view_has_full_headings_and_escapes(assistant):
    from ui.docview import DocumentView

    view = DocumentView(assistant)
    cited = assistant.ask("科融信能提供什么贷款？").citations[0]
    page = view.render(cited.doc_id, cited.start, cited.end)
    header = page.body.split("</header>")[0]
    assert "四、夯实企业创新主体地位" in header and "…" not in header.split('class="where"')[1]
    assert "威海市科学技术局" in header and "<dt>成文日期</dt>" in header
    assert view.render("no-such-doc.txt", 0, 5) is None
    whole = view.render(cited.doc_id)  # no span: the whole document, no highlight
    assert whole is not None and "pa-hit" not in whole.body


def test_follow_ups_come_from_neighbouring_units_and_skip_the_cited_one(assistant):
    from ui.docview import DocumentView

    answer = assistant.ask("今年计划给多少家企业发放鲁科贷？")
    picks = DocumentView(assistant).suggestions(answer)
    assert 2 <= len(picks) <= 3
    assert all(p.startswith("“") and p.endswith("有哪些措施？") for p in picks)
    assert not any("优化全周期科技金融服务" in p for p in picks)  # the cited unit itself
    assert DocumentView(assistant).suggestions(answer.model_copy(update={"citations": []})) == []
