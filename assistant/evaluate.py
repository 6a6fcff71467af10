"""Regression evals over several Q&A sets, each with its own corpus, index, thresholds and a
fixed dev/holdout split; optionally the naive baseline on the same documents. The library
returns data (an :class:`EvalRun`); ``assistant/cli.py`` prints it and ``eval_report`` renders
the terminal tables and ``report.md`` + ``report.png``.

The sets are described in ``evals/sets.toml`` (Q&A files, corpus dir, index dir); the runner
builds or updates each set's index through the normal :class:`~assistant.index.IndexBuilder`
and answers every case through the normal :class:`~assistant.service.Assistant` for that
set's settings.

Split: ``sha1(id) % 3 == 0`` → holdout (保留集), else dev (开发集) — stable across runs and
independent of file order. Every figure is reported for dev, holdout and all.

Grading is string matching after normalisation (NFKC, all whitespace removed), so full-width
and ASCII punctuation or a line break inside a quote never decide a case:

- facts: every fact (``a|b`` = either) appears in a non-abstaining answer;
- evidence: a text holds a case's ``evidence`` when, after also removing markdown table pipes
  and ``**``, it contains the evidence — or, for a table-row evidence
  (``| 500万元以上至2000万元（含） | 12% | 200万元 |``), every non-empty cell of it, so a row
  rendered as "研发费用增量：…；补助比例：12%；…" still counts;
- citation: one of the first three citations holds the evidence;
- correct (the issue's definition): answerable → answered, every fact present and the evidence
  cited; unanswerable → abstained (``InvalidQuestionError`` counts as a correct refusal);
- retrieval: hit@k and MRR over the top 5 by evidence (answerable cases; follow-ups are
  condensed with their history, as ``ask`` does);
- length: the median answer in characters, of every answer and of single-fact questions
  (answerable, one entry in ``facts``, answered — the bar for short answers; lists and
  multi-part questions may run longer).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import statistics
import subprocess
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from .config import Settings, get_settings
from .errors import ConfigError, InvalidQuestionError

TOP_K = 5
CITED_K = 3  # the evidence must be in one of the first three citations
SPLITS = ("dev", "holdout", "all")
HOLDOUT_MOD = 3
_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SETS = _ROOT / "evals" / "sets.toml"
DEFAULT_THRESHOLDS = _ROOT / "evals" / "thresholds.toml"

Progress = Callable[[str], None]


# -- the cases -------------------------------------------------------------------------------


class EvalCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str
    category: str
    answerable: bool
    facts: list[str] = []
    evidence: str = ""
    history: list[dict] | None = None
    doc: str = ""  # the document the case was written from (devcorpus sets); informative only

    @property
    def split(self) -> str:
        return split_of(self.id)


def split_of(case_id: str) -> str:
    """``"holdout"`` for about a third of the ids, ``"dev"`` for the rest; fixed by the id."""
    digest = int(hashlib.sha1(case_id.encode("utf-8")).hexdigest(), 16)
    return "holdout" if digest % HOLDOUT_MOD == 0 else "dev"


def in_split(case: EvalCase, split: str) -> bool:
    return split == "all" or case.split == split


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


def load_cases(paths: Iterable[Path]) -> list[EvalCase]:
    """Several Q&A files as one set; an id may appear only once across them."""
    cases: list[EvalCase] = []
    where: dict[str, Path] = {}
    for path in paths:
        for c in load_set(path):
            if c.id in where:
                raise ConfigError(f"问答集 {path}：id {c.id} 与 {where[c.id]} 重复")
            where[c.id] = Path(path)
            cases.append(c)
    return cases


# -- the sets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalSet:
    """One entry of ``evals/sets.toml``: Q&A files over one corpus with its own index."""

    name: str
    qa: tuple[Path, ...]
    corpus: Path
    index: Path
    description: str = ""

    def settings(self, base: Settings | None = None) -> Settings:
        """The product's settings (embedder, knobs, LLM…) with this set's corpus and index."""
        base = base or get_settings()
        return base.model_copy(update={"corpus_dir": self.corpus, "index_dir": self.index})


_SET_KEYS = {"qa", "corpus", "index", "description"}


def load_sets(path: Path = DEFAULT_SETS) -> dict[str, EvalSet]:
    """``[name]`` tables with ``qa`` (a path or a list), ``corpus`` and ``index``; relative
    paths resolve against ``root`` (itself relative to the file's directory; default ``..``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"无法读取评测集文件 {path}：{exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"评测集文件 {path} 格式不正确：{exc}") from exc
    root = (path.resolve().parent / str(data.pop("root", ".."))).resolve()
    sets = {}
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"评测集文件 {path}：{name} 应为一个表（[{name}]）")
        unknown = set(spec) - _SET_KEYS
        missing = {"qa", "corpus", "index"} - set(spec)
        if unknown or missing:
            what = [f"未知项 {', '.join(sorted(unknown))}"] if unknown else []
            what += [f"缺少 {', '.join(sorted(missing))}"] if missing else []
            raise ConfigError(f"评测集文件 {path} 的 [{name}]：{'；'.join(what)}")
        qa = spec["qa"] if isinstance(spec["qa"], list) else [spec["qa"]]
        sets[name] = EvalSet(
            name=name,
            qa=tuple(root / q for q in qa),
            corpus=root / spec["corpus"],
            index=root / spec["index"],
            description=str(spec.get("description", "")),
        )
    if not sets:
        raise ConfigError(f"评测集文件 {path} 中没有评测集")
    return sets


def select_sets(sets: dict[str, EvalSet], names: Sequence[str] | None) -> list[EvalSet]:
    if not names:
        return list(sets.values())
    unknown = [n for n in names if n not in sets]
    if unknown:
        raise ConfigError(
            f"没有评测集 {', '.join(unknown)}（可用：{', '.join(sets)}，见 evals/sets.toml）"
        )
    return [sets[n] for n in dict.fromkeys(names)]


# -- grading ---------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def contains(haystack: str | None, needle: str) -> bool:
    return bool(haystack) and normalise(needle) in normalise(haystack)


def facts_present(answer: str, facts: Sequence[str]) -> bool:
    """Every fact appears; ``"148个|148"`` accepts either alternative."""
    return all(any(contains(answer, alt) for alt in fact.split("|") if alt) for fact in facts)


_MARKUP = re.compile(r"\*\*|\|")
_TABLE_RULE = re.compile(r"^:?-{3,}:?$")


def _squash(text: str) -> str:
    """Normalised, without markdown table pipes and bold markers."""
    return _MARKUP.sub("", normalise(text))


def evidence_in(text: str | None, evidence: str) -> bool:
    """Whether ``text`` holds ``evidence``, tolerating how a format is rendered: whitespace,
    width, ``|`` and ``**`` do not count, and a table-row evidence matches when every one of
    its non-empty cells is in the text (the row may be cited as "列名：值；列名：值")."""
    if not text or not evidence:
        return False
    hay, needle = _squash(text), _squash(evidence)
    if not needle:
        return False
    if needle in hay:
        return True
    cells = [_squash(c) for c in normalise(evidence).split("|")]
    cells = [c for c in cells if c and not _TABLE_RULE.match(c)]
    return len(cells) > 1 and all(c in hay for c in cells)


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
    citations: tuple[str, ...] | None = None  # texts of the first citations; None → (cited,)

    @property
    def cited_texts(self) -> tuple[str, ...]:
        if self.citations is not None:
            return self.citations[:CITED_K]
        return (self.cited,) if self.cited else ()


@dataclass(frozen=True)
class Graded:
    case: EvalCase
    outcome: Outcome
    rank: int | None  # 1-based rank of the first hit holding the evidence (answerable only)
    facts_ok: bool | None  # None for unanswerable cases; False when it abstained
    citation_ok: bool | None  # one of the first three citations holds the evidence

    @property
    def correct(self) -> bool:
        """Answerable: answered, the facts are there and the evidence is cited.
        Unanswerable: it abstained."""
        if not self.case.answerable:
            return self.outcome.abstained
        return bool(self.facts_ok) and bool(self.citation_ok)

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
        (i for i, text in enumerate(outcome.hits[:TOP_K], 1) if evidence_in(text, case.evidence)),
        None,
    )
    return Graded(
        case,
        outcome,
        rank=rank,
        facts_ok=not outcome.abstained and facts_present(outcome.answer, case.facts),
        citation_ok=any(evidence_in(t, case.evidence) for t in outcome.cited_texts),
    )


class Metrics(BaseModel):
    """Figures over a group of graded cases; ``None`` where a figure has no denominator."""

    model_config = ConfigDict(frozen=True)

    cases: int
    answerable: int
    facts_cite_accuracy: float | None  # answerable: correct by the definition
    correctness: float | None  # all cases: answerable correct, unanswerable abstained
    fact_accuracy: float | None
    citation_accuracy: float | None
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    mrr: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    false_abstention_rate: float | None
    median_answer_chars: float | None
    # answers to answerable questions that ask for one fact (one entry in ``facts``): the
    # issue's "short answers" bar, which lists and multi-part answers are exempt from
    median_single_fact_chars: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None


METRIC_NAMES = tuple(n for n in Metrics.model_fields if n not in ("cases", "answerable"))


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise(graded: Sequence[Graded]) -> Metrics:
    ans = [g for g in graded if g.case.answerable]
    unans = [g for g in graded if not g.case.answerable]
    abstained = [g for g in graded if g.outcome.abstained]
    lengths = [len(g.outcome.answer) for g in graded if not g.outcome.refused]
    single = [
        len(g.outcome.answer)
        for g in ans
        if len(g.case.facts) == 1 and not g.outcome.abstained and not g.outcome.refused
    ]
    latencies = [g.outcome.latency_ms for g in graded]
    return Metrics(
        cases=len(graded),
        answerable=len(ans),
        facts_cite_accuracy=_rate([g.correct for g in ans]),
        correctness=_rate([g.correct for g in graded]),
        fact_accuracy=_rate([bool(g.facts_ok) for g in ans]),
        citation_accuracy=_rate([bool(g.citation_ok) for g in ans]),
        hit_at_1=_rate([g.rank is not None and g.rank <= 1 for g in ans]),
        hit_at_3=_rate([g.rank is not None and g.rank <= 3 for g in ans]),
        hit_at_5=_rate([g.rank is not None for g in ans]),
        mrr=round(sum(1 / g.rank for g in ans if g.rank) / len(ans), 4) if ans else None,
        abstention_precision=_rate([not g.case.answerable for g in abstained]),
        abstention_recall=_rate([g.outcome.abstained for g in unans]),
        false_abstention_rate=_rate([g.outcome.abstained for g in ans]),
        median_answer_chars=float(statistics.median(lengths)) if lengths else None,
        median_single_fact_chars=float(statistics.median(single)) if single else None,
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 1) if latencies else None,
    )


def by_category(graded: Sequence[Graded]) -> dict[str, Metrics]:
    groups: dict[str, list[Graded]] = {}
    for g in graded:
        groups.setdefault(g.case.category, []).append(g)
    return {cat: summarise(items) for cat, items in groups.items()}


# -- running the two systems -----------------------------------------------------------------


def _standalone(question: str, history: list[dict] | None) -> str:
    """The follow-up condensed with its history, as ``ask`` does, for grading retrieval."""
    from .answering import query

    condense = getattr(query, "condense", None)
    return condense(question, history) if condense and history else question


def run_ours(assistant, case: EvalCase) -> Outcome:
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
            query = _standalone(case.question.strip(), case.history)
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
        citations=tuple(c.text for c in answer.citations[:CITED_K]),
    )


def run_baseline(baseline, case: EvalCase) -> Outcome:
    """The baseline sees the bare question (the tutorial has no condensing) and never abstains;
    its one citation is its answer, the top chunk."""
    t0 = time.perf_counter()
    hits = tuple(baseline.search(case.question, top_k=TOP_K))
    latency = (time.perf_counter() - t0) * 1000
    top = hits[0] if hits else ""
    return Outcome(
        answer=top,
        abstained=False,
        latency_ms=latency,
        cited=top,
        hits=hits,
        citations=(top,) if top else (),
    )


@dataclass
class SystemResult:
    graded: list[Graded]
    overall: Metrics
    categories: dict[str, Metrics]

    @classmethod
    def of(cls, graded: list[Graded]) -> SystemResult:
        return cls(graded, summarise(graded), by_category(graded))

    def split(self, split: str) -> SystemResult:
        return SystemResult.of([g for g in self.graded if in_split(g.case, split)])


def evaluate(
    cases: Sequence[EvalCase],
    assistant,
    baseline=None,
    progress: Progress | None = None,
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
    category: str = ""  # empty: the whole split


@dataclass(frozen=True)
class SetThresholds:
    """One ``[set]`` section: whether it gates the exit code, and the limits per split."""

    gate: bool = True
    splits: dict[str, dict] = field(default_factory=dict)  # split → {min, max, baseline, …}


_LIMIT_KEYS = {"min", "max", "baseline", "category"}
_BASELINE_KEYS = {"strictly_better", "by_category"}


def load_thresholds(
    path: Path, known_sets: Iterable[str] | None = None
) -> dict[str, SetThresholds]:
    """``[<set>] gate = true|false`` and ``[<set>.<split>.min|max|baseline|category.<cat>]``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"无法读取阈值文件 {path}：{exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"阈值文件 {path} 格式不正确：{exc}") from exc
    known = set(known_sets) if known_sets is not None else None
    out = {}
    for name, section in data.items():
        where = f"阈值文件 {path} 的 [{name}]"
        if not isinstance(section, dict):
            raise ConfigError(f"{where}：应为一个评测集的表")
        if known is not None and name not in known:
            raise ConfigError(f"{where}：没有这个评测集（可用：{', '.join(sorted(known))}）")
        unknown = set(section) - {"gate", *SPLITS}
        if unknown:
            raise ConfigError(
                f"{where}：未知项 {', '.join(sorted(unknown))}（可用：gate、{'、'.join(SPLITS)}）"
            )
        gate = section.get("gate", True)
        if not isinstance(gate, bool):
            raise ConfigError(f"{where}：gate 应为 true 或 false")
        splits = {s: section[s] for s in SPLITS if s in section}
        for split, limits in splits.items():
            _validate_limits(f"阈值文件 {path} 的 [{name}.{split}]", limits)
        out[name] = SetThresholds(gate=gate, splits=splits)
    return out


def _validate_limits(where: str, limits: dict) -> None:
    unknown_keys = set(limits) - _LIMIT_KEYS
    if unknown_keys:
        raise ConfigError(
            f"{where}：未知项 {', '.join(sorted(unknown_keys))}"
            f"（可用：{'、'.join(sorted(_LIMIT_KEYS))}）"
        )
    base = limits.get("baseline", {})
    if set(base) - _BASELINE_KEYS:
        raise ConfigError(
            f"{where}：baseline 下未知项 {', '.join(sorted(set(base) - _BASELINE_KEYS))}"
        )
    names = [
        *limits.get("min", {}),
        *limits.get("max", {}),
        *base.get("strictly_better", []),
        *base.get("by_category", []),
        *(n for cat in limits.get("category", {}).values() for n in cat),
    ]
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown:
        raise ConfigError(
            f"{where} 中有未知指标 {', '.join(unknown)}（可用：{', '.join(sorted(METRIC_NAMES))}）"
        )


def check_thresholds(
    thresholds: dict,
    ours: Metrics,
    baseline: Metrics | None,
    categories: dict[str, Metrics] | None = None,
    baseline_categories: dict[str, Metrics] | None = None,
) -> list[Check]:
    """The checks of one split's limits (``{min, max, baseline, category}``)."""
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
    base = thresholds.get("baseline", {})
    for name in base.get("strictly_better", []):
        value = getattr(ours, name)
        other = getattr(baseline, name) if baseline else None
        ok = None if value is None or other is None else value > other
        checks.append(Check(name, "> 基线", value, other, ok))
    # by_category: strictly better than the baseline in every category of the split
    for name in base.get("by_category", []):
        for cat, m in (categories or {}).items():
            value = getattr(m, name)
            b = (baseline_categories or {}).get(cat) if baseline else None
            other = getattr(b, name) if b is not None else None
            ok = None if value is None or other is None else value > other
            checks.append(Check(name, "> 基线", value, other, ok, category=cat))
    return checks


# -- a run over several sets -----------------------------------------------------------------


@dataclass
class SplitResult:
    split: str
    ours: SystemResult
    baseline: SystemResult | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)


@dataclass
class SetRun:
    spec: EvalSet
    meta: dict
    gate: bool
    splits: dict[str, SplitResult]  # in SPLITS order, only the splits that were asked for

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.splits.values())

    @property
    def blocks(self) -> bool:
        """A gated set that missed a threshold: the only thing that fails the run."""
        return self.gate and not self.passed

    @property
    def failures(self) -> list[Checked]:
        return [(s.split, c) for s in self.splits.values() for c in s.checks if c.passed is False]

    @property
    def whole(self) -> SplitResult:
        """The widest split that was run ("all" unless a narrower ``--split`` was asked for)."""
        return self.splits.get("all") or next(iter(self.splits.values()))


Checked = tuple[str, Check]


@dataclass
class EvalRun:
    meta: dict
    sets: list[SetRun]

    @property
    def passed(self) -> bool:
        return not any(s.blocks for s in self.sets)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def finish_set(
    spec: EvalSet,
    meta: dict,
    ours: SystemResult,
    base: SystemResult | None,
    limits: SetThresholds | None,
    splits: Sequence[str] = SPLITS,
) -> SetRun:
    """Cut the graded cases into the splits and check each split against its limits."""
    limits = limits or SetThresholds()
    results = {}
    for split in [s for s in SPLITS if s in splits]:
        o = ours.split(split)
        b = base.split(split) if base else None
        checks = check_thresholds(
            limits.splits.get(split, {}),
            o.overall,
            b.overall if b else None,
            o.categories,
            b.categories if b else None,
        )
        results[split] = SplitResult(split, o, b, checks)
    return SetRun(spec, meta, limits.gate, results)


def validate_splits(splits: Sequence[str] | None) -> tuple[str, ...]:
    if not splits:
        return SPLITS
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ConfigError(f"未知划分 {', '.join(bad)}（可选：{'、'.join(SPLITS)}）")
    return tuple(s for s in SPLITS if s in splits)


def run_eval(
    sets: Sequence[EvalSet],
    thresholds: dict[str, SetThresholds],
    baseline: bool = False,
    splits: Sequence[str] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Build each set's index, answer its cases (only those of the asked splits), optionally
    the baseline over the same corpus, and check every split. Returns data; prints nothing."""
    from .baseline import NaiveBaseline
    from .index import IndexBuilder
    from .service import Assistant

    say = progress or (lambda _msg: None)
    base_settings = settings or get_settings()
    splits = validate_splits(splits)
    loaded = [(spec, load_cases(spec.qa)) for spec in sets]  # fail fast, before the long run
    t0 = time.perf_counter()
    runs = []
    for spec, cases in loaded:
        ts = time.perf_counter()
        s = spec.settings(base_settings)
        chosen = [c for c in cases if any(in_split(c, sp) for sp in splits)]
        say(f"[{spec.name}] 建立或更新索引：{spec.corpus}")
        built = IndexBuilder(s).build()
        meta = set_metadata(spec, cases, chosen, s)
        meta["index"] = {"files": built.files, "chunks": built.chunks, "rebuilt": built.changed}
        naive = None
        if baseline:
            say(f"[{spec.name}] 建立朴素基线（切块 500/50 + Chroma + 同一嵌入模型）……")
            tb = time.perf_counter()
            naive = NaiveBaseline(s)
            meta["baseline_build_s"] = round(time.perf_counter() - tb, 1)
            meta["baseline_chunks"] = len(naive.chunks)
        try:
            ours, base = evaluate(
                chosen, Assistant(s), naive, progress=lambda m, n=spec.name: say(f"[{n}] {m}")
            )
        finally:
            if naive is not None:
                naive.close()
        meta["seconds"] = round(time.perf_counter() - ts, 1)
        runs.append(finish_set(spec, meta, ours, base, thresholds.get(spec.name), splits))
    meta = run_metadata(base_settings)
    meta["splits"] = list(splits)
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    return EvalRun(meta, runs)


# -- metadata --------------------------------------------------------------------------------


def _rel(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return str(path)


def run_metadata(settings: Settings) -> dict:
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
        "embedder": getattr(get_embedder(settings), "embedder_id", settings.embedder),
        "split_rule": f"sha1(id) % {HOLDOUT_MOD} == 0 → 保留集（holdout），其余 → 开发集（dev）",
    }


def set_metadata(
    spec: EvalSet, cases: Sequence[EvalCase], chosen: Sequence[EvalCase], settings: Settings
) -> dict:
    return {
        "qa": [_rel(p) for p in spec.qa],
        "corpus": _rel(spec.corpus),
        "index_dir": _rel(spec.index),
        "description": spec.description,
        "cases": len(cases),
        "answerable": sum(c.answerable for c in cases),
        "run_cases": len(chosen),
        "split_cases": {
            "dev": sum(c.split == "dev" for c in cases),
            "holdout": sum(c.split == "holdout" for c in cases),
            "all": len(cases),
        },
        "holdout_ids": sorted(c.id for c in cases if c.split == "holdout"),
        "set_warnings": set_warnings(chosen, settings),
    }


def set_warnings(cases: Sequence[EvalCase], settings: Settings) -> list[str]:
    """Cases whose evidence is not in any loaded document: no system can cite them."""
    from .load import load_corpus

    texts = [d.page_content for d in load_corpus(Path(settings.corpus_dir)).documents]
    return [
        f"{c.id}：依据「{c.evidence}」不在语料正文中（无法被检索或引用）"
        for c in cases
        if c.evidence and not any(evidence_in(t, c.evidence) for t in texts)
    ]


# -- JSON ------------------------------------------------------------------------------------


def run_as_dict(run: EvalRun) -> dict:
    def pair(a: Metrics, b: Metrics | None) -> dict:
        return {"ours": a.model_dump(), **({"baseline": b.model_dump()} if b else {})}

    def split_dict(r: SplitResult) -> dict:
        base = r.baseline
        return {
            "passed": r.passed,
            "checks": [asdict(c) for c in r.checks],
            "overall": pair(r.ours.overall, base.overall if base else None),
            "categories": {
                cat: pair(m, base.categories.get(cat) if base else None)
                for cat, m in r.ours.categories.items()
            },
        }

    return {
        "meta": run.meta,
        "passed": run.passed,
        "sets": {
            s.name: {
                "meta": s.meta,
                "gate": s.gate,
                "passed": s.passed,
                "splits": {name: split_dict(r) for name, r in s.splits.items()},
                "failures": [failure_dict(g) for g in s.whole.ours.graded if g.problems],
            }
            for s in run.sets
        },
    }


def failure_dict(g: Graded) -> dict:
    return {
        "id": g.case.id,
        "split": g.case.split,
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
