"""The 指标台账 tab: its handler over the real assistant (filters, the CSV it writes), and the tab in
a real headless Chromium — filter by keyword, see the row, download the CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

HEADERS = ["条目", "指标内容", "数值", "单位", "限定", "原文", "文件"]


def _read_csv(path: str | Path) -> list[list[str]]:
    data = Path(path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel/WPS keep the Chinese
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_export_folder_a_handler_makes_is_removed_with_it(assistant):
    import gc

    from ui.app import ALL_DOCS, ALL_ITEMS, TargetsHandler

    handler = TargetsHandler(assistant)
    _table, _summary, path, _cards = handler.filter("技术经理人", ALL_ITEMS, ALL_DOCS)
    folder = handler.export_dir
    assert Path(path).is_file() and Path(path).is_relative_to(folder)
    del handler
    gc.collect()
    assert not folder.exists()  # (each UI build used to leave one pa-targets-* folder in /tmp)


def test_handler_filters_rows_and_exports_the_same_rows(assistant, tmp_path):
    from ui.app import ALL_DOCS, ALL_ITEMS, TargetsHandler

    handler = TargetsHandler(assistant, export_dir=tmp_path)
    everything, summary, _path, _cards = handler.filter("", ALL_ITEMS, ALL_DOCS)
    assert len(everything) == len(assistant.target_rows()) and summary.startswith("共 ")

    table, summary, path, cards = handler.filter("技术经理人", ALL_ITEMS, ALL_DOCS)
    assert summary == "共 1 条指标"
    item, subject, value, unit, qualifier, sentence, title = table[0]
    assert (value, unit, qualifier) == ("100", "人次", "以上")
    assert item.startswith("16.") and "技术经理人" in subject and "技术经理人培训" in sentence
    assert title == "2025年全市科技工作要点"
    exported = _read_csv(path)
    assert len(exported) == 2 and "技术经理人" in exported[1][4]
    assert Path(path).name == "指标台账.csv" and Path(path).is_relative_to(tmp_path)

    six, _summary, _path, _cards = handler.filter("", "6.抓好科技创新重点项目实施", ALL_DOCS)
    assert [(r[2], r[3]) for r in six] == [
        ("148", "个"),
        ("97", "亿元"),
        ("33", "亿元"),
        ("11", "%"),
        ("300", "件"),
        ("20", "亿元"),
    ]
    none, summary, path, _cards = handler.filter("没有这个关键词", ALL_ITEMS, ALL_DOCS)
    assert none == [] and summary == "没有找到符合条件的指标。"
    assert len(_read_csv(path)) == 1  # the header row only


def test_handler_offers_the_items_and_documents_of_the_ledger(assistant, tmp_path):
    from ui.app import ALL_DOCS, ALL_ITEMS, TargetsHandler

    items, docs = TargetsHandler(assistant, export_dir=tmp_path).choices()
    labels = [c[0] for c in items.choices]
    assert labels[0] == ALL_ITEMS and "13.优化全周期科技金融服务" in labels
    assert [c[1] for c in docs.choices] == [ALL_DOCS, "2025年全市科技工作要点.txt"]


def _cell(page, row: int, col: int):
    return page.locator(f'#pa-targets [data-testid="cell-{row}-{col}"]')


def test_tab_filters_by_keyword_and_downloads_the_csv(ui_server, page):
    page.goto(f"{ui_server.url}/ui/")
    page.get_by_role("tab", name="指标台账").click()
    table = page.locator("#pa-targets")
    _cell(page, 0, 2).filter(has_text="15").wait_for()  # loaded unfiltered: item 5, 15项以上
    assert _cell(page, 1, 2).inner_text().strip() == "148"
    header = [h.strip() for h in table.locator('[role="columnheader"]').all_inner_texts()]
    assert header == HEADERS

    page.locator("#pa-targets-q textarea").fill("技术经理人")
    page.locator("#pa-targets-q textarea").press("Enter")
    page.locator("#pa-targets-count >> text=共 1 条指标").wait_for()
    _cell(page, 0, 1).filter(has_text="技术经理人").wait_for()
    cells = [_cell(page, 0, c).inner_text().strip() for c in range(len(HEADERS))]
    assert cells[2:5] == ["100", "人次", "以上"]
    assert cells[0].startswith("16.") and "技术经理人培训100人次以上" in cells[5]
    assert cells[6] == "2025年全市科技工作要点"
    assert _cell(page, 1, 0).count() == 0  # one row left
    assert "148" not in table.inner_text()

    with page.expect_download() as info:
        page.locator("#pa-targets-download").click()
    download = info.value
    assert download.suggested_filename == "指标台账.csv"
    exported = _read_csv(download.path())
    assert len(exported) == 2 and exported[1][5:8] == ["100", "人次", "以上"]
