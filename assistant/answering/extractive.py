"""Extractive answering: choose the 1–3 sentences that answer, quote them verbatim with [n],
or abstain — honestly — when the evidence is weak or lacks the kind of fact asked for.

Scoring is lexical on purpose (IDF-weighted key-term coverage plus character bigrams for typos):
it costs microseconds, and a quoted sentence must contain what was asked about.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba

from ..models import Answer, Citation
from ..retrieve import IndexReader, Scored
from ..text import NUMBER_RE, is_word, sentences
from .decide import MAX_ACTION, MIN_COVERAGE, Signals, should_answer
from .instructions import flagged_spans, is_instruction, masked
from .query import (
    _INTENT_WORDS,
    DEFINING,
    DEFINITION_ASKED,
    FACT_KINDS,
    Query,
    asks_definition,
    defines,
)
from .question import OBTAINING, eligibility_spans
from .ranges import AMOUNT, amounts, row_fits
from .support import (
    absent_action,
    action_specificity,
    aspect_words,
    gap,
    is_verb,
    names_topic,
    other_level,
)

CONTEXT_WEIGHT = 0.3  # weight of a topic term inherited from an earlier turn
MISSING_WEIGHT = 0.5  # share of full weight for a key term the corpus never uses
# … when the term cannot name a topic: not a dictionary word, or a number, an asking word or a
# function word (answering.support.names_topic)
MISSING_FRAGMENT_WEIGHT = 0.15
# share of its weight left to a verb of applying or receiving ("申请", "领取") when an amount,
# rate or cap is asked — as much as a topic word from an earlier turn counts
OBTAIN_SHARE = CONTEXT_WEIGHT
# … and to the verb of handing in ("提交", "上传") when a list of materials or conditions is asked
MANNER_SHARE = CONTEXT_WEIGHT
AMOUNT_KINDS = frozenset({"money", "rate", "cap", "standard"})
SECOND_SENTENCE = 0.8  # a further sentence must score this share of the best
MAX_SENTENCES = 3
_HEADING_ONLY = re.compile(r"^\d{1,3}[.．、][^。]{0,30}。?$|^[一二三四五六七八九十]+、")
# …but a numbered line with a clause break or a figure is an item that states something
# ("4. 年度培训达到500人次；", "3. 新建成……的，一次性奖励20万元。"), not a heading
_STATES = re.compile(r"[，,；;：:]")
_ITEM_PREFIX = re.compile(r"^\d{1,3}[.．、]\s*")


@dataclass(frozen=True)
class Candidate:
    scored: Scored
    start: int  # offsets in the chunk text
    end: int
    text: str
    coverage: float
    score: float
    read: str = ""  # the text coverage was measured on: the unit with its title, heading, lead-in


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


class TermWeights:
    """IDF weights for a query's key terms over the index; a term the corpus never uses
    (and that is no typo of one it does) weighs the most — it is what the corpus cannot answer."""

    def __init__(self, reader: IndexReader, query: Query):
        self.weights: dict[str, float] = {}
        self.aliases: dict[str, list[str]] = {}  # question word → corpus words meaning the same
        self.missing: list[str] = []
        self.parts: dict[str, tuple[str, ...]] = {}  # an unknown compound → its known words
        vocab = reader.df
        intent, kind = _asking_spans(query.text, query.eligibility)
        for term in query.terms:
            # part of how the question asks ("能不能" → "不能"), or of the phrase asking for a
            # kind of fact that the corpus never words so, or that names no topic ("最多能"):
            # the kind check covers it
            if _inside(term, query.text, intent) or (
                (term not in reader.full_text or not names_topic(term))
                and _inside(term, query.text, kind)
            ):
                continue
            same = [w for w in synonyms(term) if w in reader.full_text]
            if same:
                self.aliases[term] = same
            if term in vocab:
                self.weights[term] = reader.idf[term]
            elif term in reader.full_text and not _glued_pair(term) and names_topic(term):
                self.weights[term] = reader.max_idf * 0.8
            else:
                close = _close_term(term, reader.vocab_by_length) or (same[0] if same else None)
                parts = _parts_known(term, reader.full_text)
                if close:
                    self.aliases.setdefault(term, []).append(close)
                    self.weights[term] = reader.idf.get(close, reader.max_idf) * 0.9
                elif parts:
                    # a compound the corpus never uses, of words it does ("文件格式": 文件, 格式):
                    # a unit saying each part says it
                    self.parts[term] = parts
                    self.weights[term] = (
                        max(reader.idf.get(p, 0.0) for p in parts) * 0.9 or reader.max_idf * 0.8
                    )
                else:
                    # Unknown to the corpus. Filler ("咋弄", "口号") and real gaps ("税率") look
                    # alike here; the fact-kind and place checks catch the gaps, so this term
                    # only dilutes coverage rather than deciding alone — and one that cannot
                    # name a topic ("十几万", "接着", jieba's HMM fragments such as "人到")
                    # dilutes less.
                    share = (
                        MISSING_WEIGHT
                        if names_topic(term) and not _everyday_verb(term)
                        else MISSING_FRAGMENT_WEIGHT
                    )
                    self.weights[term] = reader.max_idf * share
                    self.missing.append(term)
        if query.listing and _LIST_KINDS & set(query.kinds):
            # "要上传哪些材料", "得准备哪些资料": the verb before the interrogative says how the
            # listed things are handed in; the list that names them need not repeat it
            aspects = aspect_words(query.text)
            for term in self.weights:
                if term in aspects and is_verb(term):
                    self.weights[term] *= MANNER_SHARE
        if AMOUNT_KINDS & set(query.kinds):
            # "申请那个补贴最多能拿多少": how much of the thing is asked; the verb of applying for
            # or receiving it names no other amount, so a unit need not repeat it
            for term in self.weights:
                if OBTAINING.fullmatch(term):
                    self.weights[term] *= OBTAIN_SHARE
        self.total = sum(self.weights.values()) or 1.0
        # earlier turns' topic: helps choose between sentences, never needed to answer
        self.context = {t: reader.idf.get(t, 0.0) * CONTEXT_WEIGHT for t in query.context}
        # an eligibility question's situation, by corpus IDF (words the corpus never uses
        # cannot be matched and weigh nothing)
        self.situation = {t: reader.idf.get(t, 0.0) for t in query.situation}
        self.eligibility = query.eligibility
        # the kinds of figure the asker states ("营收才三千来万", "员工80来人")
        self.figures = (
            {kind for _v, kind in amounts(query.original)} if query.eligibility else set()
        )

    def _covers(self, term: str, text: str) -> bool:
        return (
            term in text
            or any(a in text for a in self.aliases.get(term, ()))
            or (term in self.parts and all(p in text for p in self.parts[term]))
        )

    def coverage(self, text: str) -> float:
        got = sum(w for term, w in self.weights.items() if self._covers(term, text))
        return got / self.total

    def own_coverage(self, text: str, title: str) -> float:
        """Coverage of ``text`` with the terms its document's title already says weighed at
        ``TITLE_SHARE``: every unit of a document stands under its title, so the words that set
        a unit apart from its neighbours are the ones the title does not say ("……人才公寓
        什么时候分配" under a title holding 人才公寓: the unit must say 分配)."""
        got = total = 0.0
        for term, w in self.weights.items():
            if self._covers(term, title):
                w *= TITLE_SHARE
            total += w
            if self._covers(term, text):
                got += w
        return got / total if total else 0.0

    def condition_bonus(self, text: str) -> float:
        """For an eligibility question: a unit stating a condition, the more so the more of
        the asker's situation it speaks to."""
        if not self.eligibility or not CONDITION.search(text):
            return 0.0
        total = sum(self.situation.values())
        spoken = sum(w for t, w in self.situation.items() if t in text)
        bonus = CONDITION_BONUS + (SITUATION_WEIGHT * spoken / total if total else 0.0)
        if self.figures & _thresholds(text):  # the threshold the asker's figure is checked against
            bonus += THRESHOLD_BONUS
        return bonus

    def context_bonus(self, text: str) -> float:
        """A tie-breaker: never more than ``CONTEXT_WEIGHT`` in all, however few words the
        question has of its own — else a short follow-up ("那奖金多久能发下来？") is
        answered with the earlier turn's sentence, which holds all of that turn's words."""
        got = sum(w for t, w in self.context.items() if t in text)
        if not got:
            return 0.0
        return min(got / self.total, CONTEXT_WEIGHT * got / sum(self.context.values()))


def _thresholds(text: str) -> set[str]:
    """The kinds of figure ``text`` sets a threshold on ("营业收入不超过2亿元" → money)."""
    out = set()
    for m in AMOUNT.finditer(text):
        near = text[max(m.start() - 4, 0) : m.end() + 3]
        if _THRESHOLD.search(near) and (found := amounts(m.group(0))):
            out.add(found[0][1])
    return out


def _parts_known(term: str, corpus: Container[str]) -> tuple[str, ...]:
    """The dictionary words a compound is made of ("文件格式" → 文件, 格式), when there are at
    least two, they cover it, and the corpus uses each; else ()."""
    if len(term) < 4 or not is_word(term):
        return ()
    subs = [p for p in jieba.cut_for_search(term) if p != term and len(p) >= 2]
    parts = tuple(dict.fromkeys(p for p in subs if not any(p != q and p in q for q in subs)))
    covered = {i for p in parts for i in range(term.find(p), term.find(p) + len(p))}
    if len(parts) < 2 or len(covered) < len(term) or any(p not in corpus for p in parts):
        return ()
    return parts


def _everyday_verb(term: str) -> bool:
    """A verb of everyday Chinese ("开始", "拿到", "允许") that no document uses: how people
    ask, not a topic — the other side of ``decide.MAX_ACTION``, the limit at which an absent
    verb is specific enough that the documents do not describe that action."""
    return is_verb(term) and action_specificity(term) < MAX_ACTION


def _glued_pair(term: str) -> bool:
    """A two-character fragment jieba's HMM glued together in the question ("能补" of "能补多
    少") that the corpus's own segmentation never yields: where the corpus has those characters
    side by side they straddle two of its words ("还能补报吗"), which is no evidence that it
    speaks of the term."""
    return len(term) == 2 and not is_word(term)


def _asking_spans(
    text: str, eligibility: bool = False
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Where the question asks ("能不能", "多少"), and where it asks for a kind of fact
    ("最多能拿多少", "什么时候")."""
    intent = [m.span() for m in _INTENT_WORDS.finditer(text)]
    if eligibility:  # "能申请……吗": how it asks whether one may, not its topic
        intent += eligibility_spans(text)
    kind = [m.span() for asked, _r, _l in FACT_KINDS.values() for m in asked.finditer(text)]
    kind += [m.span() for m in DEFINITION_ASKED.finditer(text)]  # "是个什么东西"
    return intent, kind


def _inside(term: str, text: str, spans: list[tuple[int, int]]) -> bool:
    at = text.find(term)
    return at != -1 and any(s <= at and at + len(term) <= e for s, e in spans)


@lru_cache(maxsize=1)
def _synonym_groups() -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    path = Path(__file__).with_name("synonyms.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) > 1 and not line.startswith("#"):
            for w in words:
                groups[w] = tuple(x for x in words if x != w)
    return groups


def synonyms(term: str) -> tuple[str, ...]:
    return _synonym_groups().get(term, ())


def _close_term(term: str, vocab_by_length: dict[int, list[str]]) -> str | None:
    if len(term) < 2 or not re.search(r"[\u4e00-\u9fff]", term):
        return None
    same_len = vocab_by_length.get(len(term), [])
    matches = difflib.get_close_matches(
        term, same_len, n=1, cutoff=0.66 if len(term) >= 3 else 0.99
    )
    return matches[0] if matches else None


# weight of the chunk's cosine similarity to the question (the semantic signal beside the
# lexical ones); fitted on the devcorpus dev split: 0 → 0.68, 0.5 → 0.70 facts+cite
DENSE_WEIGHT = 0.5
# a unit's own coverage weighs the terms its document's title already says at this share
# (TermWeights.own_coverage); chosen on the dev splits of bundled, devcorpus and unseen:
# 1 → facts+cite 0.987 / 0.94 / 0.875, 0.5 → 0.987 / 0.95 / 0.875, 0.25 → 0.987 / 0.93 / 0.875
TITLE_SHARE = 0.5
UNIT_BONUS = 0.15
# a unit stating the kind of fact asked for (a date for "什么时候", an amount for "多少钱"): the
# kind is required to answer, so among units on the topic the one that states it answers
KIND_BONUS = 0.25
DEFINITION_BONUS = 0.2  # a defining clause, for "什么是……"
TIER_FIT = 0.5  # a table row whose tier holds the question's amount (minus when it does not)  # a whole unit (list, table row, 答) that is the kind of answer asked for
_LIST_KINDS = {"conditions", "materials", "names"}
# An eligibility question ("……合同签了两年，这种情况能领住房补贴吗？") is answered by the
# condition it turns on: a unit stating one — a list the lead-in calls 条件 ("应当同时具备下列
# 条件"), an exclusion (不予, 不得, 不纳入, 不适用, 除外) — ranks up by ``CONDITION_BONUS``, and
# the more of the asker's situation (IDF-weighted) it speaks to, the more, up to
# ``SITUATION_WEIGHT``: as much as the ask's own coverage counts, since for such a question the
# situation is what the condition is matched against. Threshold words (以上, 不超过, 须) are not
# the signal: nearly every clause of a rule has one. General drafting words, not one corpus's.
CONDITION_BONUS = 0.25
SITUATION_WEIGHT = 1.0
# … and a condition setting a threshold ("不低于50万元") on a kind of figure the asker states
# ("营收才三千来万") is the one it turns on: as much again as stating a condition at all
THRESHOLD_BONUS = CONDITION_BONUS
_THRESHOLD = re.compile(r"不低于|不少于|不超过|不高于|不足|低于|高于|超过|达到|以上|以下|以内")
CONDITION = re.compile(
    r"(具备|符合|满足|达到)[^。；;\n]{0,10}条件|(申报|申请|申领|资格)条件|条件[:：]"
    r"|不予|不得|不纳入|不适用|不属于|除外|仅限"
)


# an enumeration run into one paragraph: "……下列材料：（一）……；（二）……"
_INLINE_LIST = re.compile(
    r"[（(][一二三四五六七八九十\d]+[）)][^（(]+[（(][一二三四五六七八九十\d]+[）)]"
)


def _answer_span(chunk) -> tuple[int, int] | None:
    """The part of a unit that answers: a 问/答 pair's 答, a table row or metadata block whole,
    a list with its lead-in whole; None for running text."""
    if chunk.kind == "qa":  # 问：…答：… → the 答; under a question heading → the whole text
        at = chunk.text.find("答：")
        return (at if at != -1 else 0, len(chunk.text))
    if chunk.kind in ("table_row", "metadata"):
        return (0, len(chunk.text))
    if chunk.kind in ("list", "article") and (
        "\n" in chunk.text or _INLINE_LIST.search(chunk.text)
    ):
        return (0, len(chunk.text))
    return None


def _wants_unit(query: Query, chunk) -> bool:
    if chunk.kind in ("qa", "metadata"):
        return True
    wants_list = query.listing or bool(_LIST_KINDS & set(query.kinds)) or query.eligibility
    if chunk.kind == "table_row":  # a row answers about its entity, not "哪些材料"
        return not wants_list or "materials" not in query.kinds
    return wants_list


def _dense_of(hits: list[Scored]) -> list[float]:
    """Each hit's cosine to the question. A hit that only keyword search found has no cosine
    (it was outside the dense top candidates): its cosine is at most the lowest one seen, so
    it gets that, instead of 0 — which would rank a unit only BM25 found below any other."""
    seen = [h.dense for h in hits if h.dense > 0]
    floor = min(seen) if seen else 0.0
    return [h.dense if h.dense > 0 else floor for h in hits]


def _candidates(hits: list[Scored], query: Query, weights: TermWeights) -> list[Candidate]:
    q_bigrams = _bigrams(query.text)
    defining = asks_definition(query)
    dense = _dense_of(hits)
    out = []
    for rank, scored in enumerate(hits):
        chunk = scored.chunk
        span = _answer_span(chunk)
        if span is not None and _wants_unit(query, chunk) and not flagged_spans(chunk.text):
            s, e = span
            unit = chunk.text[s:e]
            # a 答 is read with its 问, as a list is with its lead-in: "答：申报人应当符合下列
            # 条件……" under "问：申领住房补贴要符合什么条件？" speaks of 住房补贴
            lead = chunk.lead_in or (chunk.text[:s] if chunk.kind == "qa" else "")
            own = weights.own_coverage(f"{lead} {unit}", chunk.title)
            read = f"{chunk.title} {chunk.section} {chunk.lead_in or ''} {chunk.text}"
            cov = weights.coverage(read)
            score = 0.6 * own + 0.4 * cov + UNIT_BONUS + weights.context_bonus(unit)
            score += weights.condition_bonus(f"{chunk.lead_in or ''} {unit}")
            if chunk.kind == "table_row":  # a tier row the question's amount falls in
                fits = row_fits(query.original, _row_cells(chunk.text))
                score += TIER_FIT if fits else (-TIER_FIT if fits is False else 0.0)
            if q_bigrams:
                score += 0.15 * len(q_bigrams & _bigrams(chunk.text)) / len(q_bigrams)
            if query.quantity and NUMBER_RE.search(unit):
                score += 0.25
            heading = chunk.section.split(" › ")[-1] if chunk.section else ""
            # read as the fact-kind check reads a whole unit: with its heading and lead-in
            score += KIND_BONUS * _kinds_stated(query, f"{heading} {chunk.lead_in or ''} {unit}")
            score += 0.05 * scored.hit.score - 0.01 * rank + DENSE_WEIGHT * dense[rank]
            out.append(Candidate(scored, s, e, unit, cov, score, read))
        if chunk.kind in ("table_row", "metadata"):
            continue
        lo = span[0] if span is not None and chunk.kind == "qa" else 0
        spans = []
        for s, e in sentences(chunk.text):
            if s < lo:
                continue
            sent = chunk.text[s:e]
            if is_instruction(sent):  # a sentence talking to the assistant is never an answer
                continue
            heading = (
                bool(_HEADING_ONLY.match(sent))
                and len(sent) < 32
                and not _STATES.search(sent)
                and not NUMBER_RE.search(_ITEM_PREFIX.sub("", sent))
            )
            if heading and not query.asks_title:
                continue
            spans.append((s, e))
        context = chunk.text[:lo] if lo else (chunk.lead_in or "")

        def score_span(
            s: int, e: int, rank=rank, scored=scored, chunk=chunk, context=context
        ) -> Candidate:
            # a sentence is read in its context: under "13.优化全周期科技金融服务" or a
            # heading "甲科贷", the heading's words count as covered (for the gate), while the
            # ranking still prefers sentences that say the words themselves
            sent = chunk.text[s:e]
            own = weights.own_coverage(sent, chunk.title)
            read = f"{chunk.title} {chunk.section} {context} {sent}"
            cov = weights.coverage(read)
            score = 0.6 * own + 0.4 * cov + weights.context_bonus(sent)
            score += weights.condition_bonus(sent)
            if q_bigrams:
                score += 0.15 * len(q_bigrams & _bigrams(sent)) / len(q_bigrams)
            if query.quantity and NUMBER_RE.search(sent):
                score += 0.25
            score += KIND_BONUS * _kinds_stated(query, sent)
            if query.listing and sent.count("、") >= 2:
                score += 0.1
            if defining and DEFINING.search(sent):
                score += DEFINITION_BONUS
            score += 0.05 * scored.hit.score - 0.01 * rank + DENSE_WEIGHT * dense[rank]
            return Candidate(scored, s, e, sent, cov, score, read)

        singles = [score_span(s, e) for s, e in spans]
        out += singles
        out += _spanning(chunk.text, spans, singles, score_span, weights, query)
    out.sort(key=lambda c: -c.score)
    return out


# a run of sentences quoted as one unit is at most this long (a 第七条 of three clauses, not a
# page of them)
SPAN_CHARS = 160
_SENTENCE_END = re.compile(r"[。！？!?]\s*$")


def _spanning(text, spans, singles, score_span, weights: TermWeights, query: Query):
    """The whole sentence, or the whole paragraph, when what was asked spans its parts: a rule
    cut at "；" or after its lead sentence ("第七条 创新券额度实行年度上限管理。每家企业每年最高
    30万元；……") names the topic in one part and states the fact in another. Such a run is a
    candidate only when no single part covers as much of the question and states as much of the
    asked kinds of fact as the run does."""
    out = []
    groups: list[list[int]] = []
    for level in ("sentence", "paragraph"):
        run: list[int] = []
        for i, (s, e) in enumerate(spans):
            between = text[spans[run[-1]][1] : s] if run else ""
            if "\n" in between or between.strip():  # a new paragraph, or a part left out
                groups.append(run)
                run = []
            run.append(i)
            if level == "sentence" and _SENTENCE_END.search(text[s:e]):
                groups.append(run)
                run = []
        groups.append(run)
    seen = set()
    for run in groups:
        if len(run) < 2:
            continue
        s, e = spans[run[0]][0], spans[run[-1]][1]
        if (s, e) in seen or e - s > SPAN_CHARS:
            continue
        seen.add((s, e))
        whole = _what_it_states(text[s:e], weights, query)
        if any(
            all(
                a >= b
                for a, b in zip(
                    _what_it_states(singles[i].text, weights, query), whole, strict=True
                )
            )
            for i in run
        ):
            continue
        out.append(score_span(s, e))
    return out


def _what_it_states(text: str, weights: TermWeights, query: Query) -> tuple[float, float]:
    """What a span holds of the question: its key terms and the asked kinds of fact."""
    return weights.coverage(text), _kinds_stated(query, text)


def _kinds_stated(query: Query, text: str) -> float:
    """The share of the asked kinds of fact (deadline, amount …) that ``text`` states."""
    if not query.kinds:
        return 0.0
    return sum(bool(FACT_KINDS[k][1].search(text)) for k in query.kinds) / len(query.kinds)


# kinds of fact stated by a figure (a rate, an amount, a date, a length of time): a figure
# belongs to what the words around it are about
FIGURE_KINDS = frozenset({"rate", "money", "standard", "deadline", "duration"})
_CONTACT_KINDS = frozenset({"contact", "person"})


def _fact_after_topic(cand: Candidate, weights: TermWeights, query: Query) -> bool:
    """Does a unit of several sentences state the asked figure at or after its part most about
    the question? A rule reads topic first, figure after ("市科技局审核通过后……拨付至服务机构
    账户" after "服务机构应当在……30日内提交兑付申请"): a figure only before the part that is about
    the question belongs to something else, and the unit does not answer."""
    figures = [FACT_KINDS[k][1] for k in query.kinds if k in FIGURE_KINDS]
    if not figures and query.quantity and not query.listing:
        figures = [NUMBER_RE]
    parts = [cand.text[s:e] for s, e in sentences(cand.text)]
    if not figures or len(parts) < 2:
        return True
    cover = [weights.coverage(p) for p in parts]
    top = cover.index(max(cover))  # the first of the parts most about the question
    return all(
        any(f.search(p) for p in parts[top:]) or not any(f.search(p) for p in parts[:top])
        for f in figures
    )


def _row_cells(text: str) -> tuple[str, ...]:
    """A table row's cells from its text "表头：值；表头：值"."""
    return tuple(part.split("：", 1)[-1] for part in text.split("；"))


def _states_kinds(cand: Candidate, query: Query) -> bool:
    """Does the unit state every kind of fact asked for (read as the kind check reads it)?"""
    read = _read_with_context(cand)
    if not all(FACT_KINDS[k][1].search(read) for k in query.kinds):
        return False
    # asked to list the materials or conditions, a sentence that only refers to them ("……在线
    # 填报申请，上传相关材料。") states none of them: the unit must enumerate
    listed = _LIST_KINDS & set(query.kinds)
    if not (query.listing and listed):
        return True
    if not _enumerates(cand.text):
        return False
    # a list says what it lists in its lead ("应当提交下列材料：", "应当同时具备下列条件："): a list
    # of materials does not state the conditions asked for, nor the other way round
    lead = f"{cand.scored.chunk.lead_in or ''} {cand.text.split(chr(10), 1)[0]}"
    lead = lead[: lead.find("：") + 1] if "：" in lead else lead
    named = {k for k, pattern in _LIST_LEADS.items() if pattern.search(lead)}
    return not named or bool(named & listed)


# what a list's lead says it lists ("下列条件：", "以下材料："), by the kinds of list asked for
_LIST_LEADS = {
    "conditions": re.compile(r"(下列|以下|如下|相应)[^：:，,。]{0,4}(条件|资格|要求|情形)"),
    "materials": re.compile(r"(下列|以下|如下|相应)[^：:，,。]{0,4}(材料|资料|文件|证明)"),
}


_SERIES_LEAD = re.compile(r"包括|包含|如下|下列|以下|[:：]")


def _enumerates(text: str) -> bool:
    """Does ``text`` list several things: on lines, as numbered parts, or as a series after a
    lead ("包括……、……、……", "：……；……")?"""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) >= 2 or _INLINE_LIST.search(text):
        return True
    led = _SERIES_LEAD.search(text)
    return bool(led) and (text.count("、", led.end()) >= 2 or "；" in text[led.end() :])


def _read_with_context(cand: Candidate) -> str:
    """A unit as the fact-kind check reads it: a whole unit with its heading and lead-in
    ("五、申报材料" over its list), a sentence on its own."""
    chunk = cand.scored.chunk
    if cand.end - cand.start < len(chunk.text) and chunk.kind != "qa":
        return cand.text  # a sentence stands on its own
    return f"{chunk.section.split(' › ')[-1] if chunk.section else ''} {chunk.lead_in or ''} {cand.text}"


def _citation(n: int, cand: Candidate) -> Citation:
    return Citation.from_span(n, cand.scored.chunk, cand.start, cand.end, cand.scored.hit.score)


def _related(hits: list[Scored], limit: int = 3) -> list[Citation]:
    """The closest passages, for reference; a sentence addressing the assistant is masked."""
    out = []
    for n, scored in enumerate(hits[:limit], 1):
        cite = Citation.from_hit(n, scored.hit)
        if flagged_spans(cite.text):
            cite = cite.model_copy(update={"text": masked(cite.text)})
        out.append(cite)
    return out


_CLAUSES = re.compile(r"[，,。；;！!？?\n]+")
_TRAILING = re.compile(r"(?:[\s“”\"'（）()]|吗|呢|呀|啊|吧|么)+$")
_ASKING_TAIL = re.compile(
    r"(?:是|有|为|要|能|可以)?(?:多少钱|多少|几个|几项|几家|几天|几|多久|多长时间|什么时候|哪些|哪几|什么|怎么办|怎么|如何)$"
)
FOCUS_CHARS = 24


def _topic(query: Query, outside: tuple[str, ...] = ()) -> str:
    """What was asked, in the question's own words: the clause naming most of its key terms,
    without the asking words and particles that close it ("多少钱？") — never a string of key
    terms glued together."""
    if outside:
        return "、".join(outside[:2])
    clauses = [c.strip() for c in _CLAUSES.split(query.text) if c.strip()]
    if not clauses:
        return query.text[:FOCUS_CHARS]
    best = max(clauses, key=lambda c: (sum(t in c for t in query.terms), -clauses.index(c)))
    focus = best
    for _ in range(3):  # "能领多少钱呢" → "能领"
        trimmed = _TRAILING.sub("", _ASKING_TAIL.sub("", focus))
        if trimmed == focus or len(trimmed) < 2:
            break
        focus = trimmed
    return focus if len(focus) <= FOCUS_CHARS else focus[: FOCUS_CHARS - 1] + "…"


def abstention(
    query: Query,
    hits: list[Scored],
    why: str | None = None,
    outside: tuple[str, ...] = (),
    missing: str | None = None,
) -> Answer:
    """ "Not in the documents", naming what was asked about, with the closest passages.
    ``missing`` — the documents do speak of it but do not state this (金额, 期限 …): then the
    headline says exactly that, never that nothing was found about a topic the passages show."""
    topic = _topic(query, outside)
    if missing:
        text = f"文件中有与“{topic}”相关的内容，但没有写明{missing}。"
    else:
        text = f"已收录的政策文件中没有找到关于“{topic}”的规定。"
    if why:
        text += why
    related = _related(hits)
    if related:
        text += "\n相关内容（仅供参考）："
        for c in related:
            text += f"\n· 《{c.title}》{c.section}：{c.text}"
    return Answer(question=query.original, answer=text, abstained=True, related=related)


def extractive_answer(query: Query, hits: list[Scored], reader: IndexReader) -> Answer:
    if not hits:
        return abstention(query, hits)
    if not query.terms:
        return abstention(query, hits)
    weights = TermWeights(reader, query)
    cands = [c for c in _candidates(hits, query, weights) if _fact_after_topic(c, weights, query)]
    if not cands:
        return abstention(query, hits)
    # a unit that does not state the asked kind of fact cannot answer: the best one that does,
    # among those on the topic, answers before any that does not
    best = next(
        (c for c in cands if c.coverage >= MIN_COVERAGE and _states_kinds(c, query)), cands[0]
    )
    if asks_definition(query):
        # "什么是X": the clause defining X answers first
        best = next(
            (c for c in cands if c.coverage >= MIN_COVERAGE and defines(c.text, query.terms)), best
        )
    cands = [best, *(c for c in cands if c is not best)]
    if not should_answer(_signals(best, weights, query)):
        return abstention(query, hits)

    chosen = [best]
    # asked for a figure (an amount, a rate, a date, a length of time) or a contact: a further
    # sentence must state one too — one on the same topic that states none answers nothing
    # that was asked
    figures = [FACT_KINDS[k][1] for k in query.kinds if k in FIGURE_KINDS | _CONTACT_KINDS]
    # the list of materials or conditions asked for is the answer whole; nothing else is quoted
    whole_list = bool(query.listing and _LIST_KINDS & set(query.kinds)) and _enumerates(best.text)
    # … and so is the clause defining what was asked about
    definition = asks_definition(query) and defines(best.text, query.terms)
    for cand in [] if whole_list or definition else cands[1:]:
        if len(chosen) == MAX_SENTENCES:
            break
        if cand.score < SECOND_SENTENCE * best.score or cand.coverage < MIN_COVERAGE:
            continue
        if figures and not query.listing and not any(f.search(cand.text) for f in figures):
            continue
        if any(
            c.scored.chunk.chunk_id == cand.scored.chunk.chunk_id
            and c.start < cand.end
            and cand.start < c.end
            for c in chosen
        ):
            continue
        chosen.append(cand)

    # Asked for a kind of fact (interest rate, deadline …) that no chosen sentence states?
    for kind in query.kinds:
        _asked, required, label = FACT_KINDS[kind]
        if not any(required.search(_read_with_context(c)) for c in chosen):
            return abstention(query, hits, missing=label)
    # Asked for the contact of an office the documents name ("农业农村局的联系电话"): only a
    # unit naming that office gives it — another office's number is no answer
    offices = _offices_asked(query, reader) if _CONTACT_KINDS & set(query.kinds) else []
    states = FACT_KINDS["contact"][1]
    if offices and not any(o in c.text and states.search(c.text) for c in chosen for o in offices):
        return abstention(query, hits, missing=f"{offices[0]}的{FACT_KINDS['contact'][2]}")
    # "多少天" asks a quantity too; the length of time the duration kind required is it
    # ("电话多少" asks a number that counts nothing)
    counted = (
        query.quantity and not query.listing and not {"duration", "contact"} & set(query.kinds)
    )
    if counted and not any(NUMBER_RE.search(c.text) for c in chosen):
        return abstention(query, hits, missing="具体数量")

    citations = [_citation(n, c) for n, c in enumerate(chosen, 1)]
    body = quote_lines(citations)
    note = None
    if all(c.scored.chunk.low_confidence for c in chosen):
        note = "扫描件识别，请核对原件：所引原文来自识别可信度较低的扫描文字。"
    return Answer(
        question=query.original, answer=body, abstained=False, citations=citations, note=note
    )


def _offices_asked(query: Query, reader: IndexReader) -> list[str]:
    """The corpus's issuing offices the question names (``CorpusScope.offices``), in every
    form the documents write them."""
    return [
        form
        for forms in reader.scope.offices
        if any(f in query.original for f in forms)
        for form in forms
    ]


def quote_lines(citations: list[Citation]) -> str:
    """The answer's text: each quote on its own line with its [n]."""
    return "\n".join(
        f"{c.text if chr(10) in c.text else _strip_item_prefix(c.text)} [{c.id}]" for c in citations
    )


def _signals(cand: Candidate, weights: TermWeights, query: Query) -> Signals:
    chunk = cand.scored.chunk
    own = weights.coverage(f"{chunk.lead_in or ''} {cand.text}")
    missing = sum(weights.weights[t] for t in weights.missing) / weights.total
    terms = {t: weights.aliases.get(t, []) for t in weights.weights}
    left_out, _word = gap(query.text, terms, cand.read)
    action, _action_word = absent_action(query.text, weights.missing)
    return Signals(
        coverage=cand.coverage,
        own=own,
        dense=cand.scored.dense,
        missing=missing,
        gap=left_out,
        action=action,
        level=1.0 if other_level(query.original, cand.text) else 0.0,
    )


def _strip_item_prefix(sentence: str) -> str:
    return _ITEM_PREFIX.sub("", sentence, count=1)


def _corpus_places(corpus_text: str) -> str:
    """The places the corpus itself is about: the two it names most often."""
    from .query import places

    counts = {p: corpus_text.count(p) for p in places() if p in corpus_text}
    found = sorted(counts, key=lambda p: -counts[p])[:2]
    return "、".join(found) or "已收录地区"
