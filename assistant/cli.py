"""``policy-assistant`` — a thin typer shell over ``Assistant``.

Every domain error becomes one Chinese line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer

from .errors import AssistantError

app = typer.Typer(
    help="威海科技政策问答助手：建索引、提问、检索、评测、服务。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_USAGE = 2
EXIT_FAILED = 1


def _err(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    typer.secho(f"错误：{message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def handles_errors(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except AssistantError as exc:
            raise _err(str(exc)) from None
        except KeyboardInterrupt:
            raise _err("已中断", 130) from None
        except Exception as exc:  # last resort: still one line, never a traceback
            raise _err(f"{type(exc).__name__}: {exc}") from None

    return wrapper


def _assistant():
    from .service import Assistant

    return Assistant()


def _print_json(data) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command()
@handles_errors
def index(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help=(
                "语料未变也重新读取、切分全部文件并写入新的向量集合；向量按文本哈希复用，"
                "不重新计算（要重新计算全部向量，请先删除索引目录 PA_INDEX_DIR）"
            ),
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help=(
                "检查语料目录、索引清单、文档条目与 Chroma 是否一致，并修复发现的问题"
                "（中断的上传、多余或缺失的向量、遗留集合与文件）"
            ),
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="以 JSON 输出摘要")] = False,
) -> None:
    """建立或增量更新索引（语料目录 PA_CORPUS_DIR，索引目录 PA_INDEX_DIR）。"""
    if check:
        from .index import IndexBuilder

        report = IndexBuilder(_assistant().settings).check(repair=True)
        if json_out:
            _print_json(report.as_dict())
            return
        if report.clean:
            typer.echo("索引一致：无需修复")
            return
        for problem in report.problems:
            typer.echo(f"发现：{problem}")
        for fix in report.repaired:
            typer.echo(f"已修复：{fix}")
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from .config import get_settings
    from .index import build_index

    settings = get_settings()
    labels = {
        "load": "读取文件",
        "ocr": "识别扫描页",
        "chunk": "切分文档",
        "embed": "计算向量",
        "store": "写入索引",
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=json_out or not sys.stderr.isatty(),
        console=None,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        # not through Assistant: a no-op run need not import the answering stack
        summary = build_index(settings, on_progress, force)
    if json_out:
        _print_json(summary.as_dict())
        return
    for err in summary.skipped:
        typer.secho(f"跳过 {err.path}：{err.reason}", err=True, fg=typer.colors.YELLOW)
    state = "已更新" if summary.changed else "无变化"
    typer.echo(
        f"索引{state}：{summary.files} 个文件，{summary.chunks} 个片段，"
        f"新计算向量 {summary.embedded} 个，复用 {summary.reused} 个，用时 {summary.seconds:.2f} 秒"
    )


def _filters(doc: list[str] | None, year: int | None):
    from .retrieve import Filters

    return Filters(doc_ids=tuple(doc or ()), year=year)


@app.command()
@handles_errors
def ask(
    question: Annotated[str, typer.Argument(help="要咨询的问题")],
    json_out: Annotated[
        bool, typer.Option("--json", help="输出 JSON（与 POST /v1/ask 相同）")
    ] = False,
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="只在指定文档中查找（doc_id）")
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="只查找某一年的文件")] = None,
) -> None:
    """提问，得到带出处的回答。"""
    answer = _assistant().ask(question, filters=_filters(doc, year))
    if json_out:
        _print_json(answer.model_dump())
        return
    typer.echo(answer.answer)
    if answer.citations:
        typer.echo("\n来源：")
        for c in answer.citations:
            typer.echo(f"[{c.id}] 《{c.title}》{c.where}")
    if answer.note:
        typer.echo(f"\n说明：{answer.note}")


@app.command()
@handles_errors
def search(
    query: Annotated[str, typer.Argument(help="检索词或问题")],
    json_out: Annotated[
        bool, typer.Option("--json", help="输出 JSON（与 POST /v1/search 相同）")
    ] = False,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50)] = 5,
    doc: Annotated[list[str] | None, typer.Option("--doc")] = None,
    year: Annotated[int | None, typer.Option("--year")] = None,
) -> None:
    """混合检索（BM25 + 向量），列出最相关的片段。"""
    hits = _assistant().search(query, top_k=top_k, filters=_filters(doc, year))
    if json_out:
        _print_json({"hits": [h.model_dump() for h in hits]})
        return
    if not hits:
        typer.echo("没有找到相关内容。")
    for n, h in enumerate(hits, 1):
        typer.echo(f"{n}. [{h.score:.3f}] 《{h.title}》{h.section}\n   {h.text[:120]}")


@app.command()
@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
) -> None:
    """启动 HTTP 服务（API、OpenAI 兼容接口、网页界面 /ui、微信回调）。"""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from .api.app import create_app, warm_up_early

    assistant = _assistant()
    warming = warm_up_early(assistant)  # loads the index while the app is built; the UI after
    app_ = create_app(assistant=assistant, warming=warming, defer_ui=True)
    uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command()
@handles_errors
def eval(  # noqa: A001 - the command is called eval
    set_names: Annotated[
        list[str] | None,
        typer.Option("--set", help="只评测这些评测集（可重复；默认 evals/sets.toml 中的全部）"),
    ] = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="同时评测朴素基线并对比")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="报告输出目录")] = None,
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split", help="只评测某个划分：dev | holdout | all（可重复；默认三者都报告）"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="以 JSON 输出全部数字")] = False,
    sets_file: Annotated[Path, typer.Option("--sets", help="评测集定义")] = Path("evals/sets.toml"),
    thresholds: Annotated[Path, typer.Option("--thresholds")] = Path("evals/thresholds.toml"),
) -> None:
    """运行问答回归评测（每个评测集各有语料、索引、阈值和开发/保留划分）；纳入门禁的评测集低于阈值时以非零状态退出。"""
    from rich.console import Console

    from .eval_report import summary, write_report
    from .evaluate import load_sets, load_thresholds, run_as_dict, run_eval, select_sets

    sets = load_sets(sets_file)
    chosen = select_sets(sets, set_names)
    limits = load_thresholds(thresholds, known_sets=sets)  # fail fast, before the long run

    def say(msg: str) -> None:
        typer.echo(msg, err=True)

    run = run_eval(chosen, limits, baseline=baseline, splits=split, progress=say)
    if report is not None:
        md, _png = write_report(run, Path(report))
        say(f"报告已写入 {md}")
    if json_out:
        _print_json(run_as_dict(run))
    else:
        console = Console(width=120, highlight=False)
        for part in summary(run):
            console.print(part)
    raise typer.Exit(run.exit_code)


@app.command()
@handles_errors
def targets(
    doc: Annotated[str | None, typer.Option("--doc", help="只看某个文件（doc_id 或标题）")] = None,
    section: Annotated[
        str | None, typer.Option("--section", help="条目编号（如 13）或章节文字")
    ] = None,
    q: Annotated[str | None, typer.Option("--q", help="关键词，如“鲁科贷”“技术经理人”")] = None,
    fmt: Annotated[str, typer.Option("--format", help="输出格式：table | csv | json")] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="同 --format json")] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="写入文件（CSV 带 BOM，可直接用 Excel 打开）"),
    ] = None,
) -> None:
    """指标台账：列出文件中的全部量化目标（数值、单位、出处），可筛选、导出 CSV/JSON。"""
    from .targets import TargetLedger, format_value

    fmt = "json" if json_out else fmt.lower()
    if fmt not in ("table", "csv", "json"):
        raise _err(f"不支持的输出格式 {fmt}（可选 table、csv、json）", EXIT_USAGE)
    rows = _assistant().target_rows(doc=doc, section=section, q=q)
    if fmt == "csv":
        data = TargetLedger.to_csv(rows)
    elif fmt == "json":
        payload = {"targets": TargetLedger.to_json(rows)}
        data = json.dumps(payload, ensure_ascii=False, indent=2).encode()
    else:
        data = None
    if data is not None:
        if output:
            output.write_bytes(data)
            typer.echo(f"已写入 {output}（{len(rows)} 条指标）", err=True)
        else:
            sys.stdout.buffer.write(data if fmt == "csv" else data + b"\n")
            sys.stdout.flush()
        return
    if not rows:
        typer.echo("没有找到符合条件的指标。")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"指标台账（{len(rows)} 条）", show_lines=False)
    for header in ("条目", "指标内容", "数值", "单位", "限定", "文件"):
        table.add_column(header, overflow="fold")
    for r in rows:
        table.add_row(r.item, r.subject, format_value(r.value), r.unit, r.qualifier, r.title)
    Console(width=max(120, Console().width)).print(table)


feedback_app = typer.Typer(help="网页界面收到的回答反馈（👍/👎）。", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
@handles_errors
def feedback_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="写入文件（默认输出到标准输出）")
    ] = None,
) -> None:
    """把 👎 反馈导出为 evals/qa.jsonl 格式的评测用例（facts、evidence 留空，由维护人员填写）。"""
    from .config import get_settings
    from .feedback import store_for

    store = store_for(get_settings())
    records = {f"feedback-{r.id:04d}": r for r in store.records("down")}
    cases = store.eval_cases()
    data = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    if output:
        output.write_text(data, encoding="utf-8")
    else:
        sys.stdout.write(data)
        sys.stdout.flush()
    for case in cases:  # what the maintainer needs beside each line, on stderr
        r = records[case["id"]]
        typer.echo(f"{case['id']}：{r.question}｜哪里不对：{r.comment or '（未填写）'}", err=True)
    where = f"，已写入 {output}" if output else ""
    typer.echo(
        f"共 {len(cases)} 条 👎 反馈{where}；请补全 facts 与 evidence 后加入问答集。", err=True
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
