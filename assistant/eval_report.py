"""The eval report: the terminal tables of ``policy-assistant eval`` (returned as rich
renderables; the CLI prints them) and the ``report.md`` + ``report.png`` written with
``--report``. Grading, metrics, splits and the threshold gate live in ``assistant/evaluate.py``;
this module only presents an :class:`~assistant.evaluate.EvalRun`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .evaluate import TOP_K, Check, EvalRun, Metrics, SetRun, SplitResult, SystemResult

BASELINE_NOTE = (
    "基线为 LangChain 教程式流水线：500/50 字切块、Chroma、同一嵌入模型、仅向量检索，"
    "在同一评测集的同一语料上建立，以排第一的切块作答并作为引用，从不拒答；多轮追问只看本轮问题。"
)

CATEGORY_LABELS = {
    # bundled set
    "target": "指标",
    "finance": "金融与贷款",
    "inclusive": "创新券/普惠",
    "institution": "机构与名单",
    "colloquial": "口语化",
    "followup": "多轮追问",
    "unanswerable": "无法回答",
    "adversarial": "对抗性",
    # devcorpus set
    "amount": "金额比例",
    "rate": "比例",
    "condition": "条件",
    "deadline": "期限",
    "materials": "材料",
    "procedure": "流程",
    "definition": "定义",
    "metadata": "文件信息",
    "supersession": "新旧版本",
    "year": "年份",
    "list": "列举",
    "table": "表格",
    "faq": "问答解读",
    "multipart": "多问合一",
}
CATEGORY_EN = {"inclusive": "inclusive", "colloquial": "colloquial", "followup": "follow-up"}
SPLIT_LABELS = {"dev": "开发集", "holdout": "保留集", "all": "全部"}
METRIC_LABELS = {
    "facts_cite_accuracy": "事实+引用准确率",
    "correctness": "答对率",
    "fact_accuracy": "事实准确率",
    "citation_accuracy": "引用准确率",
    "hit_at_1": "检索 hit@1",
    "hit_at_3": "检索 hit@3",
    "hit_at_5": "检索 hit@5",
    "mrr": "检索 MRR",
    "abstention_precision": "拒答精确率",
    "abstention_recall": "拒答召回率",
    "false_abstention_rate": "误拒答率",
    "median_answer_chars": "回答长度中位数（字）",
    "median_single_fact_chars": "单一事实题回答长度中位数（字）",
    "latency_p50_ms": "延迟 p50（毫秒）",
    "latency_p95_ms": "延迟 p95（毫秒）",
}
GATE_OFF = "未纳入门禁"
RULES = (
    "答对：可回答的题须作答（不拒答）、事实齐全（“a|b”任一即可，忽略全半角与空白），"
    "且前 3 条引用之一含依据（忽略空白、表格竖线与 `**`；表格行依据的每个单元格都在引用中亦算）；"
    "无法回答的题须拒答。"
)


def cat_label(cat: str) -> str:
    return CATEGORY_LABELS.get(cat, cat)


def _label(check: Check) -> str:
    label = METRIC_LABELS[check.metric]
    return f"{cat_label(check.category)} · {label}" if check.category else label


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


def _pair(m: Metrics | None, b: Metrics | None, name: str, with_base: bool) -> str:
    """``ours / baseline`` for one figure (just ``ours`` without a baseline run)."""
    ours = fmt(getattr(m, name), name) if m is not None else "—"
    if not with_base:
        return ours
    return f"{ours} / {fmt(getattr(b, name), name) if b is not None else '—'}"


def _cat(result: SystemResult | None, cat: str) -> Metrics | None:
    return result.categories.get(cat) if result is not None else None


def gate_label(s: SetRun) -> str:
    return "纳入门禁" if s.gate else f"{GATE_OFF}（gate = false）"


def verdict(s: SetRun) -> str:
    failed = s.failures
    if not s.gate:
        tail = f"有 {len(failed)} 项未达阈值" if failed else "全部阈值通过"
        return f"{s.name}：{GATE_OFF}（gate = false），{tail}，不影响退出状态。"
    return f"{s.name}：全部阈值通过。" if not failed else f"{s.name}：有 {len(failed)} 项未达阈值。"


def _set_title(s: SetRun) -> str:
    m = s.meta
    counts = m["split_cases"]
    return (
        f"== 评测集 {s.name}：{m['cases']} 条（开发集 {counts['dev']} / 保留集 "
        f"{counts['holdout']}），{gate_label(s)}，用时 {m['seconds']} 秒 =="
    )


def _has_base(s: SetRun) -> bool:
    return any(r.baseline is not None for r in s.splits.values())


# -- the terminal summary --------------------------------------------------------------------


SUMMARY_METRICS = (
    "facts_cite_accuracy",
    "correctness",
    "fact_accuracy",
    "citation_accuracy",
    "hit_at_1",
    "hit_at_3",
    "mrr",
    "abstention_recall",
    "abstention_precision",
    "false_abstention_rate",
    "median_answer_chars",
    "median_single_fact_chars",
    "latency_p50_ms",
    "latency_p95_ms",
)


def summary(run: EvalRun) -> list:
    """What the CLI prints: per set, the per-split table, the per-category table, every check
    and the set's verdict; then the run's verdict. Rich renderables and plain strings."""
    from rich import box
    from rich.table import Table

    out: list = []
    for s in run.sets:
        base = _has_base(s)
        pair = "（本产品 / 基线）" if base else "（本产品）"
        out.append(_set_title(s))
        table = Table(box=box.SIMPLE)
        table.add_column("指标" + pair)
        for split, r in s.splits.items():
            table.add_column(f"{SPLIT_LABELS[split]}（{r.ours.overall.cases}）", justify="right")
        for name in SUMMARY_METRICS:
            table.add_row(
                METRIC_LABELS[name],
                *(
                    _pair(r.ours.overall, r.baseline.overall if r.baseline else None, name, base)
                    for r in s.splits.values()
                ),
            )
        out.append(table)
        whole = s.whole
        out.append(f"{s.name} · 分类别答对率{pair}")
        cats = Table(box=box.SIMPLE)
        cats.add_column("类别")
        cats.add_column("条数", justify="right")
        for split in s.splits:
            cats.add_column(SPLIT_LABELS[split], justify="right")
        cats.add_column(f"hit@1（{SPLIT_LABELS[whole.split]}）", justify="right")
        for cat, m in whole.ours.categories.items():
            cats.add_row(
                cat_label(cat),
                str(m.cases),
                *(
                    _pair(_cat(r.ours, cat), _cat(r.baseline, cat), "correctness", base)
                    for r in s.splits.values()
                ),
                _pair(m, _cat(whole.baseline, cat), "hit_at_1", base),
            )
        out.append(cats)
        for split, r in s.splits.items():
            for c in r.checks:
                mark = {True: "通过", False: "未达标", None: "不适用"}[c.passed]
                out.append(
                    f"[{SPLIT_LABELS[split]}] {mark}：{_label(c)} {fmt(c.value)}（要求 {_rule(c)}）"
                )
        out.append(verdict(s))
        out.append("")
    gated = [s.name for s in run.sets if s.gate]
    off = [s.name for s in run.sets if not s.gate]
    blocked = [s.name for s in run.sets if s.blocks]
    line = (
        f"门禁未通过：{'、'.join(blocked)}。"
        if blocked
        else f"门禁通过（{'、'.join(gated) or '无纳入门禁的评测集'}）。"
    )
    if off:
        line += f"{GATE_OFF}：{'、'.join(off)}。"
    out.append(line)
    return out


# -- the chart -------------------------------------------------------------------------------


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Source Han Sans SC"):
        if name in names:
            return name
    return None


def write_chart(run: EvalRun, path: Path) -> None:
    """One row per set: ours vs baseline per category, 答对率 and hit@1 (widest split run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    rows = len(run.sets)
    with plt.rc_context(rc | {"svg.hashsalt": "pa", "axes.unicode_minus": False}):
        fig, axes = plt.subplots(
            rows, 2, figsize=(14, 4.8 * rows), constrained_layout=True, squeeze=False
        )
        for row, s in zip(axes, run.sets, strict=True):
            whole = s.whole
            cats = list(whole.ours.categories)
            labels = [cat_label(c) if font else CATEGORY_EN.get(c, c) for c in cats]
            split = SPLIT_LABELS[whole.split] if font else whole.split
            panels = [
                (
                    "correctness",
                    f"{s.name} · 答对率（{split}）" if font else f"{s.name}: correct ({split})",
                ),
                ("hit_at_1", f"{s.name} · 检索 hit@1" if font else f"{s.name}: retrieval hit@1"),
            ]
            systems = [("本产品" if font else "ours", whole.ours, "#1f77b4")]
            if whole.baseline:
                systems.append(("朴素基线" if font else "naive baseline", whole.baseline, "#bbb"))
            x = np.arange(len(cats))
            width = 0.8 / len(systems)
            for ax, (metric, title) in zip(row, panels, strict=True):
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


# -- the markdown report ---------------------------------------------------------------------


def _quote(text: str | None, limit: int = 400) -> str:
    if not text:
        return "> （无）"
    if len(text) > limit:
        text = text[:limit] + f"…（共 {len(text)} 字）"
    return "\n".join("> " + line for line in text.splitlines())


REPORT_METRICS = tuple(METRIC_LABELS)
CATEGORY_COLUMNS = (
    "hit_at_1",
    "hit_at_3",
    "fact_accuracy",
    "citation_accuracy",
    "abstention_recall",
    "false_abstention_rate",
)


def _overview(run: EvalRun) -> list[str]:
    splits = list(run.sets[0].splits) if run.sets else []
    base = any(_has_base(s) for s in run.sets)
    heads = [f"事实+引用准确率 · {SPLIT_LABELS[sp]}" for sp in splits]
    if "all" in splits:
        heads.append("答对率 · 全部")
    out = [
        "## 一览" + ("（本产品 / 基线）" if base else ""),
        "",
        "| 评测集 | 门禁 | 结果 | 条数 | " + " | ".join(heads) + " |",
        "|---|---|---|---|" + "---|" * len(heads),
    ]
    for s in run.sets:
        failed = len(s.failures)
        result = "✅ 通过" if not failed else f"❌ {failed} 项未达标"
        overall = {
            sp: (r.ours.overall, r.baseline.overall if r.baseline else None)
            for sp, r in s.splits.items()
        }
        cells = [_pair(*overall[sp], "facts_cite_accuracy", base) for sp in splits]
        if "all" in splits:
            cells.append(_pair(*overall["all"], "correctness", base))
        out.append(
            f"| {s.name} | {gate_label(s)} | {result} | {s.meta['run_cases']} | "
            + " | ".join(cells)
            + " |"
        )
    return out


def _set_section(s: SetRun) -> list[str]:
    m = s.meta
    base = _has_base(s)
    pair = "（本产品 / 基线）" if base else ""
    counts = m["split_cases"]
    idx = m.get("index", {})
    out = [
        f"## 评测集 {s.name}" + ("" if s.gate else f"（{GATE_OFF}）"),
        "",
    ]
    if m.get("description"):
        out += [m["description"], ""]
    out += [
        "- 问答集："
        + "、".join(f"`{p}`" for p in m["qa"])
        + f"，{m['cases']} 条（可回答 {m['answerable']} 条）；"
        f"开发集 {counts['dev']} 条，保留集 {counts['holdout']} 条"
        + ("" if m["run_cases"] == m["cases"] else f"；本次只评测 {m['run_cases']} 条"),
        f"- 语料：`{m['corpus']}`；索引：`{m['index_dir']}`"
        + (f"（{idx['files']} 个文件，{idx['chunks']} 个片段）" if idx else ""),
        f"- 用时：{m['seconds']} 秒"
        + (
            f"（其中建立基线 {m['baseline_build_s']} 秒，{m['baseline_chunks']} 个切块）"
            if "baseline_build_s" in m
            else ""
        ),
        "- 门禁："
        + (
            "纳入（任一项未达标则 `policy-assistant eval` 以非零状态退出）"
            if s.gate
            else f"{GATE_OFF}（gate = false）：未达标项只作参考，不影响退出状态"
        ),
        "",
        f"### {s.name} · 阈值",
        "",
    ]
    checks = [(split, c) for split, r in s.splits.items() for c in r.checks]
    if not checks:
        out.append("（没有配置阈值。）")
    else:
        out += ["| 划分 | 指标 | 要求 | 实际 | 结果 |", "|---|---|---|---|---|"]
        for split, c in checks:
            mark = {True: "✅ 通过", False: "❌ 未达标", None: "— 不适用"}[c.passed]
            out.append(
                f"| {SPLIT_LABELS[split]} | {_label(c)} | {_rule(c)} | {fmt(c.value)} | {mark} |"
            )
    out += [
        "",
        f"### {s.name} · 总体{pair}",
        "",
        "| 指标 | "
        + " | ".join(
            f"{SPLIT_LABELS[sp]}（{r.ours.overall.cases} 条）" for sp, r in s.splits.items()
        )
        + " |",
        "|---|" + "---|" * len(s.splits),
    ]
    for name in REPORT_METRICS:
        cells = [
            _pair(r.ours.overall, r.baseline.overall if r.baseline else None, name, base)
            for r in s.splits.values()
        ]
        out.append(f"| {METRIC_LABELS[name]} | " + " | ".join(cells) + " |")
    whole = s.whole
    label_whole = SPLIT_LABELS[whole.split]
    out += [
        "",
        f"### {s.name} · 分类别{pair}",
        "",
        "答对率按划分列出；其余各列为" + label_whole + "。条数为“开发集/保留集”。",
        "",
        "| 类别 | 条数 | "
        + " | ".join(f"答对率 · {SPLIT_LABELS[sp]}" for sp in s.splits)
        + " | "
        + " | ".join(METRIC_LABELS[c] for c in CATEGORY_COLUMNS)
        + " |",
        "|---|---|" + "---|" * (len(s.splits) + len(CATEGORY_COLUMNS)),
    ]
    for cat, mc in whole.ours.categories.items():
        n = {
            sp: (_cat(r.ours, cat).cases if _cat(r.ours, cat) else 0) for sp, r in s.splits.items()
        }
        count = (
            f"{n.get('dev', '—')}/{n.get('holdout', '—')}" if len(s.splits) > 1 else f"{mc.cases}"
        )
        cells = [
            _pair(_cat(r.ours, cat), _cat(r.baseline, cat), "correctness", base)
            for r in s.splits.values()
        ]
        cells += [_pair(mc, _cat(whole.baseline, cat), c, base) for c in CATEGORY_COLUMNS]
        out.append(f"| {cat_label(cat)}（{cat}） | {count} | " + " | ".join(cells) + " |")
    if m.get("holdout_ids"):
        out += [
            "",
            "<details><summary>保留集 id（" + str(len(m["holdout_ids"])) + " 条）</summary>",
            "",
            "、".join(m["holdout_ids"]),
            "",
            "</details>",
        ]
    if m.get("set_warnings"):
        out += ["", f"### {s.name} · 问答集提示", ""] + [f"- {w}" for w in m["set_warnings"]]
    out += _failures(s, whole)
    return out


def _failures(s: SetRun, whole: SplitResult) -> list[str]:
    failures = [g for g in whole.ours.graded if g.problems]
    base_by_id = {g.case.id: g for g in whole.baseline.graded} if whole.baseline else {}
    out = ["", f"### {s.name} · 失败明细（本产品，{len(failures)} 条）", ""]
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
            f"#### {c.id} · {cat_label(c.category)} · {SPLIT_LABELS[c.split]} · "
            + "、".join(g.problems),
            "",
            f"- 问题：{q}",
        ]
        if c.history:
            turns = " → ".join(t.get("content", "") for t in c.history if t.get("role") == "user")
            lines.append(f"- 上文（用户）：{turns}")
        if c.doc:
            lines.append(f"- 文件：{c.doc}")
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
    return out


def render_markdown(run: EvalRun, chart: str | None = "report.png") -> str:
    meta = run.meta
    out = [
        "# 问答回归评测报告",
        "",
        f"- 日期：{meta['date']}",
        f"- 提交：{meta['commit']}",
        f"- 机器：{meta['machine']}",
        f"- 嵌入模型：{meta['embedder']}",
        f"- 评测集：{'、'.join(f'`{s.name}`' for s in run.sets)}（见 `evals/sets.toml`）",
        f"- 划分：{meta['split_rule']}；按 id 固定，与运行次数和文件顺序无关",
        f"- 本次划分：{'、'.join(SPLIT_LABELS[sp] for sp in meta.get('splits', []))}",
        f"- 用时：{meta['seconds']} 秒",
        "",
        "由 `policy-assistant eval --baseline --report evals` 生成。判定规则见 `assistant/evaluate.py`"
        " 文件头。" + RULES + BASELINE_NOTE,
        "",
        "门禁："
        + ("通过。" if run.passed else "未通过。")
        + "".join(f" {verdict(s)}" for s in run.sets),
        "",
    ]
    out += _overview(run)
    if chart:
        out += ["", f"![本产品与基线分类别对比]({chart})"]
    for s in run.sets:
        out += [""] + _set_section(s)
    return "\n".join(out).rstrip() + "\n"


def write_report(run: EvalRun, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    md, png = directory / "report.md", directory / "report.png"
    write_chart(run, png)
    md.write_text(render_markdown(run, png.name), encoding="utf-8")
    return md, png
