"""Regression evals: run the Q&A set through the product (and optionally the naive baseline),
grade every case, gate on ``evals/thresholds.toml``, and hand the run to ``eval_report`` for the
terminal summary and ``report.md`` + ``report.png``.

Grading is string matching after normalisation (NFKC, all whitespace removed), so full-width
and ASCII punctuation or a line break inside a quote never decide a case:

- retrieval: a hit matches when its text contains the case's ``evidence``; hit@k and MRR over
  the top 5 (answerable cases; follow-ups are condensed with their history, as ``ask`` does);
- facts: every fact (``a|b`` = either) appears in a non-abstaining answer;
- citation: the first citation's text contains the evidence;
- abstention: positive = abstained (``InvalidQuestionError`` counts as a correct refusal),
  gold positive = ``answerable: false``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from .config import Settings, get_settings
from .errors import ConfigError, InvalidQuestionError

TOP_K = 5
_ROOT = Path(__file__).resolve().parents[1]


# -- the set ---------------------------------------------------------------------------------


class EvalCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str
    category: str
    answerable: bool
    facts: list[str] = []
    evidence: str = ""
    history: list[dict] | None = None


def load_set(path: Path) -> list[EvalCase]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"无法读取问答集 {path}：{exc.strerror or exc}") from exc
    cases, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate_json(line)
        except ValidationError as exc:
            raise ConfigError(
                f"问答集 {path} 第 {n} 行格式不正确：{exc.errors()[0]['msg']}"
            ) from exc
        if case.id in seen:
            raise ConfigError(f"问答集 {path} 第 {n} 行：id {case.id} 重复")
        if case.answerable and not (case.facts and case.evidence):
            raise ConfigError(f"问答集 {path} 第 {n} 行：可回答的问题必须有 facts 和 evidence")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise ConfigError(f"问答集 {path} 是空的")
    return cases


# -- grading ---------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def contains(haystack: str | None, needle: str) -> bool:
    return bool(haystack) and normalise(needle) in normalise(haystack)


def facts_present(answer: str, facts: Sequence[str]) -> bool:
    """Every fact appears; ``"148个|148"`` accepts either alternative."""
    return all(any(contains(answer, alt) for alt in fact.split("|") if alt) for fact in facts)


@dataclass(frozen=True)
class Outcome:
    """What one system did on one case."""

    answer: str
    abstained: bool
    latency_ms: float
    cited: str | None = None  # text of the first citation
    cited_section: str = ""
    hits: tuple[str, ...] = ()  # texts of the top-5 retrieved chunks, best first
    refused: bool = False  # InvalidQuestionError: a refusal before answering


@dataclass(frozen=True)
class Graded:
    case: EvalCase
    outcome: Outcome
    rank: int | None  # 1-based rank of the first hit holding the evidence (answerable only)
    facts_ok: bool | None  # None for unanswerable cases
    citation_ok: bool | None

    @property
    def correct(self) -> bool:
        """Answerable: the facts are there. Unanswerable: it abstained."""
        return bool(self.facts_ok) if self.case.answerable else self.outcome.abstained

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.case.answerable:
            if not self.outcome.abstained:
                out.append("未拒答")
            return out
        if self.outcome.abstained:
            out.append("误拒答")
        elif not self.facts_ok:
            out.append("事实缺失")
        if not self.citation_ok:
            out.append("引用不含依据")
        if self.rank is None:
            out.append(f"检索前 {TOP_K} 未命中")
        return out


def grade(case: EvalCase, outcome: Outcome) -> Graded:
    if not case.answerable:
        return Graded(case, outcome, rank=None, facts_ok=None, citation_ok=None)
    rank = next(
        (i for i, text in enumerate(outcome.hits[:TOP_K], 1) if contains(text, case.evidence)), None
    )
    return Graded(
        case,
        outcome,
        rank=rank,
        facts_ok=not outcome.abstained and facts_present(outcome.answer, case.facts),
        citation_ok=contains(outcome.cited, case.evidence),
    )


class Metrics(BaseModel):
    """Figures over a group of graded cases; ``None`` where a figure has no denominator."""

    model_config = ConfigDict(frozen=True)

    cases: int
    answerable: int
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    fact_accuracy: float | None
    citation_accuracy: float | None
    correctness: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    false_abstention_rate: float | None
    median_answer_chars: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(graded: Sequence[Graded]) -> Metrics:
    ans = [g for g in graded if g.case.answerable]
    unans = [g for g in graded if not g.case.answerable]
    abstained = [g for g in graded if g.outcome.abstained]
    lengths = [len(g.outcome.answer) for g in graded if not g.outcome.refused]
    latencies = [g.outcome.latency_ms for g in graded]
    return Metrics(
        cases=len(graded),
        answerable=len(ans),
        hit_at_1=_rate([g.rank is not None and g.rank <= 1 for g in ans]),
        hit_at_3=_rate([g.rank is not None and g.rank <= 3 for g in ans]),
        hit_at_5=_rate([g.rank is not None for g in ans]),
        mrr=round(sum(1 / g.rank for g in ans if g.rank) / len(ans), 4) if ans else None,
        fact_accuracy=_rate([bool(g.facts_ok) for g in ans]),
        citation_accuracy=_rate([bool(g.citation_ok) for g in ans]),
        correctness=_rate([g.correct for g in graded]),
        abstention_precision=_rate([not g.case.answerable for g in abstained]),
        abstention_recall=_rate([g.outcome.abstained for g in unans]),
        false_abstention_rate=_rate([g.outcome.abstained for g in ans]),
        median_answer_chars=float(statistics.median(lengths)) if lengths else None,
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 1) if latencies else None,
    )


def by_category(graded: Sequence[Graded]) -> dict[str, Metrics]:
    groups: dict[str, list[Graded]] = {}
    for g in graded:
        groups.setdefault(g.case.category, []).append(g)
    return {cat: summarise(items) for cat, items in groups.items()}


# -- running the two systems -----------------------------------------------------------------


def run_ours(assistant, case: EvalCase) -> Outcome:
    from .query import condense

    t0 = time.perf_counter()
    try:
        answer = assistant.ask(case.question, history=case.history)
    except InvalidQuestionError as exc:
        latency = (time.perf_counter() - t0) * 1000
        return Outcome(answer=str(exc), abstained=True, latency_ms=latency, refused=True)
    latency = (time.perf_counter() - t0) * 1000
    hits: tuple[str, ...] = ()
    if case.answerable:  # retrieval is graded by evidence, which only answerable cases have
        try:
            query = condense(case.question.strip(), case.history)
            hits = tuple(h.text for h in assistant.search(query, top_k=TOP_K))
        except InvalidQuestionError:
            pass
    first = answer.citations[0] if answer.citations else None
    return Outcome(
        answer=answer.answer,
        abstained=answer.abstained,
        latency_ms=latency,
        cited=first.text if first else None,
        cited_section=first.section if first else "",
        hits=hits,
    )


def run_baseline(baseline, case: EvalCase) -> Outcome:
    """The baseline sees the bare question (the tutorial has no condensing) and never abstains."""
    t0 = time.perf_counter()
    hits = tuple(baseline.search(case.question, top_k=TOP_K))
    latency = (time.perf_counter() - t0) * 1000
    top = hits[0] if hits else ""
    return Outcome(answer=top, abstained=False, latency_ms=latency, cited=top, hits=hits)


@dataclass
class SystemResult:
    graded: list[Graded]
    overall: Metrics
    categories: dict[str, Metrics]

    @classmethod
    def of(cls, graded: list[Graded]) -> SystemResult:
        return cls(graded, summarise(graded), by_category(graded))


@dataclass
class EvalRun:
    meta: dict
    ours: SystemResult
    baseline: SystemResult | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)


def evaluate(
    cases: Sequence[EvalCase],
    assistant,
    baseline=None,
    progress: Callable[[str], None] | None = None,
) -> tuple[SystemResult, SystemResult | None]:
    say = progress or (lambda _msg: None)
    # warm-up: the first call loads the index, jieba and the embedder; keep that out of latency
    assistant.search("科技创新", top_k=1)
    say(f"评测本产品：{len(cases)} 条")
    ours = SystemResult.of([grade(c, run_ours(assistant, c)) for c in cases])
    base = None
    if baseline is not None:
        say(f"评测朴素基线：{len(cases)} 条")
        base = SystemResult.of([grade(c, run_baseline(baseline, c)) for c in cases])
    return ours, base


# -- thresholds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    metric: str
    rule: str  # "≥ 0.9", "≤ 0.05", "> 基线"
    value: float | None
    limit: float | None
    passed: bool | None  # None: not applicable (no denominator, or no baseline run)
    category: str = ""  # empty: the whole set


def load_thresholds(path: Path) -> dict:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"无法读取阈值文件 {path}：{exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"阈值文件 {path} 格式不正确：{exc}") from exc
    known = set(Metrics.model_fields) - {"cases", "answerable"}
    names = [
        *data.get("min", {}),
        *data.get("max", {}),
        *data.get("baseline", {}).get("strictly_better", []),
        *(n for limits in data.get("category", {}).values() for n in limits),
    ]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"阈值文件 {path} 中有未知指标 {', '.join(unknown)}（可用：{', '.join(sorted(known))}）"
        )
    return data


def check_thresholds(
    thresholds: dict,
    ours: Metrics,
    baseline: Metrics | None,
    categories: dict[str, Metrics] | None = None,
) -> list[Check]:
    checks = []
    # [category.<name>] metric = minimum, e.g. target questions at ≥ 0.95 fact accuracy
    for cat, limits in thresholds.get("category", {}).items():
        for name, limit in limits.items():
            m = (categories or {}).get(cat)
            value = getattr(m, name) if m is not None else None
            # a configured category missing from the set is a failure, not "not applicable"
            ok = False if value is None else value >= limit
            checks.append(Check(name, f"≥ {limit}", value, limit, ok, category=cat))
    for name, limit in thresholds.get("min", {}).items():
        value = getattr(ours, name)
        checks.append(
            Check(name, f"≥ {limit}", value, limit, None if value is None else value >= limit)
        )
    for name, limit in thresholds.get("max", {}).items():
        value = getattr(ours, name)
        checks.append(
            Check(name, f"≤ {limit}", value, limit, None if value is None else value <= limit)
        )
    for name in thresholds.get("baseline", {}).get("strictly_better", []):
        value = getattr(ours, name)
        other = getattr(baseline, name) if baseline else None
        ok = None if value is None or other is None else value > other
        checks.append(Check(name, "> 基线", value, other, ok))
    return checks


# -- the command -----------------------------------------------------------------------------


def run_metadata(set_path: Path, cases: Sequence[EvalCase], settings: Settings) -> dict:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", "-C", str(_ROOT), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "（工作区有未提交的修改）"
    from .embed import get_embedder

    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z"),
        "commit": commit or "未知",
        "machine": f"{platform.platform()}，{os.cpu_count()} 核，Python {platform.python_version()}",
        "set": str(set_path),
        "cases": len(cases),
        "answerable": sum(c.answerable for c in cases),
        "embedder": getattr(get_embedder(settings), "embedder_id", settings.embedder),
        "set_warnings": set_warnings(cases, settings),
    }


def set_warnings(cases: Sequence[EvalCase], settings: Settings) -> list[str]:
    """Cases whose evidence is not in any loaded document: no system can cite them."""
    from .load import load_corpus

    texts = [normalise(d.page_content) for d in load_corpus(Path(settings.corpus_dir)).documents]
    return [
        f"{c.id}：依据「{c.evidence}」不在语料正文中（无法被检索或引用）"
        for c in cases
        if c.evidence and not any(normalise(c.evidence) in t for t in texts)
    ]


def run_eval_command(
    set_path: Path,
    baseline: bool,
    json_out: bool,
    report: Path | None,
    thresholds: Path,
    settings: Settings | None = None,
) -> int:
    """``policy-assistant eval``: returns the exit code (1 when a threshold is missed)."""
    from .eval_report import print_summary, write_report  # it imports this module
    from .service import Assistant

    settings = settings or get_settings()
    cases = load_set(set_path)
    limits = load_thresholds(thresholds)  # fail fast, before the long run

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    meta = run_metadata(set_path, cases, settings)
    naive = None
    if baseline:
        from .baseline import NaiveBaseline

        say("建立朴素基线（切块 500/50 + Chroma + 同一嵌入模型）……")
        tb = time.perf_counter()
        naive = NaiveBaseline(settings)
        meta["baseline_build_s"] = round(time.perf_counter() - tb, 1)
        meta["baseline_chunks"] = len(naive.chunks)
    try:
        ours, base = evaluate(cases, Assistant(settings), naive, progress=say)
    finally:
        if naive is not None:
            naive.close()
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    run = EvalRun(meta, ours, base)
    run.checks = check_thresholds(
        limits, ours.overall, base.overall if base else None, ours.categories
    )
    if report is not None:
        write_report(run, Path(report))
        say(f"报告已写入 {Path(report) / 'report.md'}")
    if json_out:
        print(json.dumps(run_as_dict(run), ensure_ascii=False, indent=2))
    else:
        print_summary(run)
    return 0 if run.passed else 1


def run_as_dict(run: EvalRun) -> dict:
    def pair(a: Metrics, b: Metrics | None) -> dict:
        return {"ours": a.model_dump(), **({"baseline": b.model_dump()} if b else {})}

    base = run.baseline
    return {
        "meta": run.meta,
        "passed": run.passed,
        "checks": [asdict(c) for c in run.checks],
        "overall": pair(run.ours.overall, base.overall if base else None),
        "categories": {
            cat: pair(m, base.categories.get(cat) if base else None)
            for cat, m in run.ours.categories.items()
        },
        "failures": [failure_dict(g) for g in run.ours.graded if g.problems],
    }


def failure_dict(g: Graded) -> dict:
    return {
        "id": g.case.id,
        "category": g.case.category,
        "question": g.case.question,
        "problems": g.problems,
        "facts": g.case.facts,
        "evidence": g.case.evidence,
        "answer": g.outcome.answer,
        "abstained": g.outcome.abstained,
        "cited": g.outcome.cited,
        "cited_section": g.outcome.cited_section,
        "rank": g.rank,
    }
