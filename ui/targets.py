"""The targets ledger tab (指标台账): a filterable table, the same rows as cards on a phone, and a
CSV download."""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
import threading
from pathlib import Path

import gradio as gr

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.targets import Target, TargetLedger, format_value

TARGET_HEADERS = ["条目", "指标内容", "数值", "单位", "限定", "原文", "文件"]
ALL_ITEMS = "全部条目"
ALL_DOCS = "全部文件"


class TargetsHandler:
    """Filters the ledger for the table and writes the same rows as a CSV (UTF-8 with BOM) for
    the download button. Each distinct export goes to a file named by its content's hash, so
    concurrent users never overwrite each other's download and repeats reuse one file."""

    def __init__(self, assistant: Assistant, export_dir: Path | None = None):
        self.assistant = assistant
        # private to this process: a shared, predictable /tmp path could be pre-seeded; removed
        # with its files when the handler goes (at the latest when the process exits)
        self._tmp = None if export_dir else tempfile.TemporaryDirectory(prefix="pa-targets-")
        self.export_dir = export_dir or Path(self._tmp.name)  # type: ignore[union-attr]

    def choices(self) -> tuple[gr.Dropdown, gr.Dropdown]:
        rows = self._rows()
        items = list(dict.fromkeys(r.item for r in rows if r.item))
        docs = list(dict.fromkeys((r.title, r.doc_id) for r in rows))
        return (
            gr.Dropdown(choices=[ALL_ITEMS, *items], value=ALL_ITEMS),
            gr.Dropdown(choices=[(ALL_DOCS, ALL_DOCS), *docs], value=ALL_DOCS),
        )

    def filter(self, q: str, item: str | None, doc: str | None) -> tuple[list[list], str, str, str]:
        section = None if item in (None, "", ALL_ITEMS) else item
        rows = self._rows(
            doc=None if doc in (None, "", ALL_DOCS) else doc, section=section, q=q or None
        )
        table = [
            [r.item, r.subject, format_value(r.value), r.unit, r.qualifier, r.sentence, r.title]
            for r in rows
        ]
        summary = f"共 {len(rows)} 条指标" if rows else "没有找到符合条件的指标。"
        return table, summary, str(self._export(rows)), cards(rows)

    def _rows(self, **filters) -> list[Target]:
        try:
            return self.assistant.target_rows(**filters)
        except AssistantError as exc:
            gr.Warning(f"指标台账暂不可用：{exc}", title="提示")
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


def cards(rows: list[Target]) -> str:
    """The ledger as cards for a phone: the value first and whole, then what it measures and
    the sentence it comes from (a seven-column table there prints "148" one digit a line)."""
    out = []
    for r in rows:
        value = html.escape(f"{format_value(r.value)}{r.unit}{r.qualifier}")
        out.append(
            '<div class="pa-card">'
            f'<div class="pa-card-value">{value}</div>'
            f'<div class="pa-card-subject">{html.escape(r.subject)}</div>'
            f'<div class="pa-card-item">{html.escape(r.item)}</div>'
            f'<div class="pa-card-sentence">{html.escape(r.sentence)}</div>'
            f'<div class="pa-card-doc">《{html.escape(r.title)}》</div></div>'
        )
    return f'<div class="pa-cards-list">{"".join(out)}</div>'
