"""The eval report: the terminal summary of ``policy-assistant eval`` and the ``report.md`` +
``report.png`` it writes with ``--report``. Grading, metrics and the threshold gate live in
``assistant/evaluate.py``; this module only presents an :class:`~assistant.evaluate.EvalRun`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .evaluate import TOP_K, Check, EvalRun

BASELINE_NOTE = (
    "基线为 LangChain 教程式流水线：500/50 字切块、Chroma、同一嵌入模型、仅向量检索，"
    "以排第一的切块作答并作为引用，从不拒答；多轮追问只看本轮问题。"
)

CATEGORY_LABELS = {
    "target": "指标",
    "finance": "金融与贷款",
    "inclusive": "创新券/普惠",
    "institution": "机构与名单",
    "colloquial": "口语化",
    "followup": "多轮追问",
    "unanswerable": "无法回答",
    "adversarial": "对抗性",
}
CATEGORY_EN = {"inclusive": "inclusive", "colloquial": "colloquial", "followup": "follow-up"}
METRIC_LABELS = {
    "hit_at_1": "检索 hit@1",
    "hit_at_3": "检索 hit@3",
    "hit_at_5": "检索 hit@5",
    "mrr": "检索 MRR",
    "fact_accuracy": "事实准确率",
    "citation_accuracy": "引用准确率",
    "correctness": "答对率",
    "abstention_precision": "拒答精确率",
    "abstention_recall": "拒答召回率",
    "false_abstention_rate": "误拒答率",
    "median_answer_chars": "回答长度中位数（字）",
    "latency_p50_ms": "延迟 p50（毫秒）",
    "latency_p95_ms": "延迟 p95（毫秒）",
}


# -- the terminal summary --------------------------------------------------------------------


def _label(check) -> str:
    label = METRIC_LABELS[check.metric]
    return (
        f"{CATEGORY_LABELS.get(check.category, check.category)} · {label}"
        if check.category
        else label
    )


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "—"
    if metric.endswith(("_ms", "_chars")):
        return f"{value:.0f}" if metric.endswith("_chars") else f"{value:.1f}"
    return f"{value:.3f}"


def _rule(check: Check) -> str:
    if check.rule.startswith(">") and check.limit is not None:
        return f"{check.rule} {fmt(check.limit)}"
    return check.rule


def print_summary(run: EvalRun) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120, highlight=False)
    base = run.baseline
    table = Table(
        box=box.SIMPLE,
        title=f"问答回归评测（{run.meta['cases']} 条，用时 {run.meta['seconds']} 秒）",
    )
    table.add_column("指标")
    table.add_column("本产品", justify="right")
    if base:
        table.add_column("基线", justify="right")
    for name, label in METRIC_LABELS.items():
        row = [label, fmt(getattr(run.ours.overall, name), name)]
        if base:
            row.append(fmt(getattr(base.overall, name), name))
        table.add_row(*row)
    console.print(table)
    cats = Table(box=box.SIMPLE, title="分类别（本产品" + (" / 基线）" if base else "）"))
    for col in ("类别", "条数", "hit@1", "事实准确率", "引用准确率", "答对率"):
        cats.add_column(col, justify="left" if col == "类别" else "right")
    for cat, m in run.ours.categories.items():
        b = base.categories.get(cat) if base else None

        def cell(name: str, m=m, b=b) -> str:
            return fmt(getattr(m, name)) + (f" / {fmt(getattr(b, name))}" if b else "")

        cats.add_row(
            CATEGORY_LABELS.get(cat, cat),
            str(m.cases),
            cell("hit_at_1"),
            cell("fact_accuracy"),
            cell("citation_accuracy"),
            cell("correctness"),
        )
    console.print(cats)
    failed = [c for c in run.checks if c.passed is False]
    for c in run.checks:
        mark = {True: "通过", False: "未达标", None: "不适用"}[c.passed]
        console.print(f"{mark}：{_label(c)} {fmt(c.value)}（要求 {_rule(c)}）")
    console.print("全部阈值通过。" if not failed else f"有 {len(failed)} 项未达阈值。")


# -- the report ------------------------------------------------------------------------------


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Source Han Sans SC"):
        if name in names:
            return name
    return None


def write_chart(run: EvalRun, path: Path) -> None:
    """Ours vs baseline per category: 答对率 (facts, or abstaining when unanswerable) and hit@1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _cjk_font()
    cats = list(run.ours.categories)
    labels = [CATEGORY_LABELS.get(c, c) if font else CATEGORY_EN.get(c, c) for c in cats]
    panels = [
        ("correctness", "答对率（可答：事实齐全；不可答：拒答）" if font else "Correct answers"),
        ("hit_at_1", "检索 hit@1（按依据）" if font else "Retrieval hit@1 (by evidence)"),
    ]
    systems = [("本产品" if font else "ours", run.ours, "#1f77b4")]
    if run.baseline:
        systems.append(("朴素基线" if font else "naive baseline", run.baseline, "#bbbbbb"))
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with plt.rc_context(rc | {"svg.hashsalt": "pa", "axes.unicode_minus": False}):
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), constrained_layout=True)
        x = np.arange(len(cats))
        width = 0.8 / len(systems)
        for ax, (metric, title) in zip(axes, panels, strict=True):
            for i, (name, result, colour) in enumerate(systems):
                values = [getattr(result.categories[c], metric) for c in cats]
                bars = ax.bar(
                    x + (i - (len(systems) - 1) / 2) * width,
                    [v or 0 for v in values],
                    width,
                    label=name,
                    color=colour,
                )
                for bar, v in zip(bars, values, strict=True):
                    ax.annotate(
                        "—" if v is None else f"{v:.2f}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                    )
            ax.set_title(title)
            ax.set_xticks(x, labels, rotation=30, ha="right")
            ax.set_ylim(0, 1.25)
            ax.legend(loc="upper right", ncol=2, fontsize=8)
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)


def _quote(text: str | None, limit: int = 400) -> str:
    if not text:
        return "> （无）"
    if len(text) > limit:
        text = text[:limit] + f"…（共 {len(text)} 字）"
    return "\n".join("> " + line for line in text.splitlines())


def render_markdown(run: EvalRun, chart: str | None = "report.png") -> str:
    meta, ours, base = run.meta, run.ours, run.baseline
    out = [
        "# 问答回归评测报告",
        "",
        f"- 日期：{meta['date']}",
        f"- 提交：{meta['commit']}",
        f"- 机器：{meta['machine']}",
        f"- 问答集：`{meta['set']}`，{meta['cases']} 条（可回答 {meta['answerable']} 条）",
        f"- 嵌入模型：{meta['embedder']}",
        f"- 用时：{meta['seconds']} 秒"
        + (
            f"（其中建立基线 {meta['baseline_build_s']} 秒，{meta['baseline_chunks']} 个切块）"
            if "baseline_build_s" in meta
            else ""
        ),
        "",
        "由 `policy-assistant eval --baseline --report evals` 生成。判定规则见 `assistant/evaluate.py`"
        " 文件头。" + BASELINE_NOTE,
        "",
        "## 阈值",
        "",
        "| 指标 | 要求 | 实际 | 结果 |",
        "|---|---|---|---|",
    ]
    for c in run.checks:
        mark = {True: "✅ 通过", False: "❌ 未达标", None: "— 不适用"}[c.passed]
        out.append(f"| {_label(c)} | {_rule(c)} | {fmt(c.value)} | {mark} |")
    out += [
        "",
        "## 总体",
        "",
        "| 指标 | 本产品 | 基线 |" if base else "| 指标 | 本产品 |",
        "|---|---|---|" if base else "|---|---|",
    ]
    for name, label in METRIC_LABELS.items():
        row = f"| {label} | {fmt(getattr(ours.overall, name), name)} |"
        out.append(row + (f" {fmt(getattr(base.overall, name), name)} |" if base else ""))
    cols = [
        "hit_at_1",
        "hit_at_5",
        "mrr",
        "fact_accuracy",
        "citation_accuracy",
        "correctness",
        "abstention_recall",
        "false_abstention_rate",
    ]
    out += [
        "",
        "## 分类别" + ("（本产品 / 基线）" if base else ""),
        "",
        "| 类别 | 条数 | " + " | ".join(METRIC_LABELS[c] for c in cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for cat, m in ours.categories.items():
        b = base.categories.get(cat) if base else None
        cells = [fmt(getattr(m, c)) + (f" / {fmt(getattr(b, c))}" if b else "") for c in cols]
        out.append(
            f"| {CATEGORY_LABELS.get(cat, cat)}（{cat}） | {m.cases} | " + " | ".join(cells) + " |"
        )
    if chart:
        out += ["", f"![本产品与基线分类别对比]({chart})"]
    if meta.get("set_warnings"):
        out += ["", "## 问答集提示", ""] + [f"- {w}" for w in meta["set_warnings"]]
    failures = [g for g in ours.graded if g.problems]
    base_by_id = {g.case.id: g for g in base.graded} if base else {}
    out += ["", f"## 失败明细（本产品，{len(failures)} 条）", ""]
    if not failures:
        out.append("没有失败的用例。")
    for g in failures:
        c, o = g.case, g.outcome
        q = (
            c.question
            if len(c.question) <= 200
            else c.question[:200] + f"…（共 {len(c.question)} 字）"
        )
        expected = (
            "，".join(f"`{f}`" for f in c.facts) + f"；依据「{c.evidence}」"
            if c.answerable
            else "拒答"
        )
        rank = f"第 {g.rank} 位" if g.rank else (f"前 {TOP_K} 未命中" if c.answerable else "—")
        lines = [
            f"### {c.id} · {CATEGORY_LABELS.get(c.category, c.category)} · {'、'.join(g.problems)}",
            "",
            f"- 问题：{q}",
        ]
        if c.history:
            turns = " → ".join(t.get("content", "") for t in c.history if t.get("role") == "user")
            lines.append(f"- 上文（用户）：{turns}")
        lines += [f"- 期望：{expected}", f"- 依据检索位置：{rank}"]
        if base_by_id:
            lines.append(f"- 基线：{'答对' if base_by_id[c.id].correct else '答错'}")
        lines += [
            "- 实际回答：",
            "",
            _quote(o.answer),
            "",
            f"- 第一条引用{f'（{o.cited_section}）' if o.cited_section else ''}：",
            "",
            _quote(o.cited),
            "",
        ]
        out += lines
    return "\n".join(out).rstrip() + "\n"


def write_report(run: EvalRun, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    md, png = directory / "report.md", directory / "report.png"
    write_chart(run, png)
    md.write_text(render_markdown(run, png.name), encoding="utf-8")
    return md, png
