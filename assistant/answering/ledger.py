"""Answering target questions ("甲科贷要发多少？") exactly, from the rows of a ``TargetLedger``.

A question asks for a target when it asks how many / how much or names a 目标/指标, and not for a
per-unit standard or a cap. Each row's sentence is scored by the share of the question's key-term
weight (IDF over the corpus's sentences) it carries, and its subject (what is counted) by the same;
the unit the question asks in (多少家, 百分之几, 多少钱) filters or breaks ties. Only a confident
match answers — otherwise ``None``, and the normal pipeline answers or abstains.

The service calls ``answer(ledger, query, filters)`` after retrieval (no import cycle with the ledger).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ..models import Answer, Citation
from ..targets import ITEM_PREFIX, Target, TargetLedger
from ..text import is_word
from .query import FACT_KINDS, Query, analyse, places

# A question asks for a target when it asks how many / how much, or names a 目标/指标.
_ASKS_TARGET = re.compile(r"多少|几|目标|指标|要达到|达到|规模|总额|总投资|数量")
# "哪几类 / 哪几个 / 哪几项" asks which ones, not how many: its 几 asks for no count
_WHICH = re.compile(r"哪几")
# … but not for a per-unit standard or a cap, which a plan's total target never answers.
_PER_UNIT = re.compile(
    r"单个|单家|单笔|单项|每家|每个|每户|每人|每张|每月|每次|每项|一张|最多|最高|上限|至多|封顶"
)
_SCOPE = re.compile(r"全省|全国")
_PERCENT_UNITS = ("%", "‰", "个百分点")
_MONEY_UNITS = ("元",)
# The unit a question asks in, most specific first. A hard hint admits only rows in that unit
# (多少家 is never answered with 30项); the generic 几个/多少项 only breaks ties.
_UNIT_HINTS: list[tuple[re.Pattern, tuple[str, ...], bool]] = [
    (
        re.compile(
            r"百分之|%|百分点|占比|比例|比重|强度|[增长转化覆盖达标]率|增幅|增速|增长目标|增长多少|增长几"
        ),
        _PERCENT_UNITS,
        True,
    ),
    (re.compile(r"(多少|几)(个)?(人次|人|名)|几个人|多少人|派几"), ("人次", "人", "名"), True),
    (re.compile(r"(多少|几)家"), ("家",), True),
    (re.compile(r"(多少|几)(场|次)"), ("场", "场(次)", "场（次）", "场次", "次"), True),
    (re.compile(r"(多少|几)件"), ("件",), True),
    (re.compile(r"钱|(多少|几)(万|亿)?元|金额|资金|规模|总额|投资"), _MONEY_UNITS, True),
    (re.compile(r"(多少|几)([张台套篇亩吨批辆座所户款部条])"), (), True),  # filled in per question
    (re.compile(r"(多少|几)(个|项)"), ("项", "个"), False),
]
# Words that carry no topic in a target question; dropped rather than counted as missing.
_JOINERS = re.compile(r"以及|[和与及、,，;；]")
_FILLER = frozenset(
    "总共 一共 共计 总计 合计 大概 大约 大致 一般 这类 那类 这种 那种 上年 全年 年度内 预计 计划 争取 力争".split()  # noqa: SIM905
)
MISSING_WEIGHT = 0.5  # a question word the corpus never uses (its weight × the largest IDF)
VERB_WEIGHT = 0.5  # verbs, adverbs … count half: people say 覆盖/放/搞 for 发放/实施
CONTEXT_WEIGHT = 0.3  # a topic word inherited from an earlier turn
MIN_SENTENCE_COVERAGE = 0.6  # share of the question's key-term weight the sentence must carry
MIN_SUBJECT_COVERAGE = 0.2  # … and the row's subject (what is counted), unless
FULL_SENTENCE = 0.9  # … the sentence carries nearly all of it and the subject some, or
MIN_TOPIC_IDF = 1.0  # the weight of at least one noun the question and the sentence share
UNIT_DECIDED = 0.7  # … the question's unit (多少家) picked the row and the sentence carries this


def answer(ledger: TargetLedger, question: str | Query, filters=None, within=None) -> Answer | None:
    """The matching row(s) as an ``Answer`` (mode "targets"), or ``None`` when the question
    does not ask for a target or no row matches it with confidence — the normal pipeline
    then answers (or abstains). ``question`` may be a ``Query`` already analysed by the
    caller (condensed follow-up, corrected spelling); ``filters`` a ``retrieve.Filters``;
    ``within`` (doc_id, start, end) spans — the retrieved chunks — to weigh only their rows
    (looked up per document, so a target question costs the same at any corpus size)."""
    if ledger.empty:
        return None
    if isinstance(question, Query):
        query = question
    else:
        query = analyse(question, ledger.corrector, vocabulary=ledger.vocabulary)
    text = query.text
    if not _ASKS_TARGET.search(_WHICH.sub("", text)) or _PER_UNIT.search(text):
        return None
    if set(query.kinds) - {"money", "rate", "standard"}:
        return None  # a deadline, a contact, materials, conditions, names: not a target
    pool = ledger.targets if within is None else ledger.rows_within(within)
    rows = [r for r in pool if _in_scope(ledger, r, query, text, filters)]
    if "money" in query.kinds:
        rows = [r for r in rows if r.unit.endswith(_MONEY_UNITS)]
    if "rate" in query.kinds:
        evidence = FACT_KINDS["rate"][1]
        rows = [r for r in rows if r.unit in _PERCENT_UNITS and evidence.search(r.sentence)]
    hint = _unit_hint(text)
    if hint and hint[1]:
        rows = [r for r in rows if r.unit.endswith(hint[0])]
    terms = _weights(ledger, query)
    if not rows or not terms:
        return None
    total = sum(t.weight for t in terms.values()) or 1.0
    context = {t: ledger.idf(t) * CONTEXT_WEIGHT / total for t in query.context}
    q_bigrams, q_chars = _bigrams(text), set(text) - _QUESTION_CHARS

    scored: list[_Scored] = []
    for r in rows:
        sent = _coverage(terms, f"{r.item} {r.sentence}", total)
        if sent is None:
            continue  # a question word that this sentence cannot stand for
        subj = _coverage(terms, r.subject, total, veto=False) or 0.0
        bonus = sum(w for t, w in context.items() if t in r.sentence)
        overlap = (len(q_bigrams & _bigrams(r.subject)), len(q_chars & set(r.subject)))
        unit_fit = bool(hint) and r.unit.endswith(hint[0])
        scored.append(
            _Scored(sent + 0.5 * subj + bonus + 0.01 * overlap[0], sent, subj, overlap, unit_fit, r)
        )
    if not scored:
        return None
    best = max(scored, key=lambda x: x.score)
    if not _confident(best, hint) or not _names_something(terms, best.row):
        return None
    same = [x for x in scored if x.row.doc_id == best.row.doc_id and x.row.start == best.row.start]
    return _target_answer(query.original, _pick_rows(same, query, terms), round(best.sent, 3))


def _names_something(terms: dict[str, _Term], row: Target) -> bool:
    """The question names what is counted: a noun or name of some weight in the sentence
    (not only 创新 or 科技, which every sentence here has)."""
    return any(
        t.topic and t.weight >= MIN_TOPIC_IDF and t.alts and any(a in row.sentence for a in t.alts)
        for t in terms.values()
    )


def _in_scope(ledger: TargetLedger, row: Target, query: Query, text: str, filters) -> bool:
    if filters is not None:
        if not filters.allows_doc(row.doc_id):
            return False
        if filters.year is not None and row.year != filters.year:
            return False
    if row.year is not None and any(y != row.year for y in query.years):
        return False
    local = ledger.locality.get(row.doc_id, set())
    if any(p not in local and p not in row.sentence for p in query.places):
        return False  # 青岛/山东省 … : this document's targets are another place's
    return all(word in row.sentence for word in _SCOPE.findall(text))


def _weights(ledger: TargetLedger, query: Query) -> dict[str, _Term]:
    """Each key term's weight (IDF; verbs and adverbs count half — 覆盖 vs 发放 varies, the
    thing counted does not) and the words that stand for it in a text."""
    from .extractive import synonyms  # the same synonym groups the extractive answerer uses

    out: dict[str, _Term] = {}
    scope = {str(y) for y in query.years} | set(query.places)
    for term in query.terms:
        if term in _FILLER or term in scope or term.rstrip("市省区县") in places():
            continue  # a year or a place scopes the question (checked apart), not its topic
        topic = _is_topic(term)
        scale = 1.0 if topic else VERB_WEIGHT
        same = tuple(w for w in synonyms(term) if w in ledger.full_text)
        if term in ledger.df:
            out[term] = _Term(ledger.idf(term) * scale, (term, *same), topic)
        elif term in ledger.full_text:
            out[term] = _Term(ledger.max_idf * 0.8 * scale, (term, *same), topic)
        elif same:
            out[term] = _Term(max(ledger.idf(w) for w in same) * 0.9 * scale, same, topic)
        else:
            # unknown to the corpus: a noun vetoes a sentence that lacks it (担保费), but not a
            # fragment jieba's HMM glued together (人到), which is no evidence of anything
            out[term] = _Term(
                ledger.max_idf * MISSING_WEIGHT * scale, None, topic and is_word(term)
            )
    return out


_QUESTION_CHARS = frozenset("多少几个是的要了吗呢啊今年目标指标请问能会")
_TOPIC_FLAGS = ("n", "x", "j", "vn", "eng", "m")


@lru_cache(maxsize=4096)
def _is_topic(term: str) -> bool:
    """A noun, name, abbreviation or number (what a target counts), not a verb or an adverb."""
    import jieba.posseg

    return any(p.flag.startswith(_TOPIC_FLAGS) for p in jieba.posseg.lcut(term))


class _Term(NamedTuple):
    weight: float
    alts: tuple[str, ...] | None  # words that stand for the term; None: unknown to the corpus
    topic: bool


class _Scored(NamedTuple):
    score: float
    sent: float  # key-term coverage of the sentence (with the item heading)
    subj: float  # … of the row's subject
    overlap: tuple[int, int]  # bigrams, characters the question and the subject share (tie-break)
    unit_fit: bool  # in the unit the question asks in
    row: Target


def _unit_hint(question: str) -> tuple[tuple[str, ...], bool] | None:
    for pattern, units, hard in _UNIT_HINTS:
        if m := pattern.search(question):
            return (units or (m.group(2),)), hard
    return None


def _confident(best: _Scored, hint) -> bool:
    if best.sent < MIN_SENTENCE_COVERAGE:
        return False
    return (
        best.subj >= MIN_SUBJECT_COVERAGE
        or best.subj > 0
        and best.sent >= FULL_SENTENCE
        or best.unit_fit
        and hint[1]
        and best.sent >= UNIT_DECIDED
    )


def _coverage(
    terms: dict[str, _Term], haystack: str, total: float, veto: bool = True
) -> float | None:
    """Weighted share of the question's terms found in ``haystack``. A term the corpus never
    uses counts when each of its characters is there (放款 ~ 发放…贷款, jieba's 能派 ~ 选派);
    if it is a noun that is not there (担保费, 税率), the text is about something else: ``None``."""
    got = 0.0
    for term, t in terms.items():
        if t.alts is None:
            if all(ch in haystack for ch in term if ch not in _QUESTION_CHARS):
                got += t.weight
            elif veto and t.topic:
                return None
        elif any(a in haystack for a in t.alts):
            got += t.weight
    return got / total


def _pick_rows(candidates: list[_Scored], query: Query, terms: dict[str, _Term]) -> list[Target]:
    """The rows of the chosen sentence that answer: in the unit asked for, with the subject that
    matches best (several when they share it: 500家 and 25亿元 for 甲科贷). A question joining
    several things ("新增企业和新增平台分别是多少") gets the best row for each. In reading order."""
    candidates = [x for x in candidates if x.unit_fit] or candidates
    parts = [p for p in _JOINERS.split(query.text) if p.strip()]
    chosen: list[_Scored] = []
    if len(parts) > 1:
        for part in parts:
            own = {term: t for term, t in terms.items() if term in part}
            ranked = [(_subject_fit(own, x.row.subject, part), x) for x in candidates]
            top = max(fit for fit, _x in ranked)
            if top[0] > 0:
                chosen += [x for fit, x in ranked if fit == top and x not in chosen]
    if not chosen:
        top = max((x.subj, x.overlap) for x in candidates)
        chosen = [x for x in candidates if (x.subj, x.overlap) == top]
    return sorted((x.row for x in chosen), key=lambda r: r.number_start)


def _subject_fit(terms: dict[str, _Term], subject: str, text: str) -> tuple[float, int, int]:
    got = sum(t.weight for t in terms.values() if t.alts and any(a in subject for a in t.alts))
    return (
        got,
        len(_bigrams(text) & _bigrams(subject)),
        len((set(text) - _QUESTION_CHARS) & set(subject)),
    )


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _target_answer(question: str, rows: list[Target], score: float) -> Answer:
    first = rows[0]
    citation = Citation(
        id=1,
        doc_id=first.doc_id,
        title=first.title,
        section=first.section,
        text=first.sentence,
        score=score,
        start=first.start,
        end=first.end,
    )
    by_subject: dict[str, list[str]] = {}
    for r in rows:
        by_subject.setdefault(r.subject, []).append(r.display)
    summary = "；".join(f"{subject}：{'，'.join(values)}" for subject, values in by_subject.items())
    quote = ITEM_PREFIX.sub("", first.sentence, count=1)
    text = f"目标：{summary}。\n原文：{quote} [1]"
    return Answer(
        question=question, answer=text, abstained=False, mode="targets", citations=[citation]
    )
