"""Targets ledger (指标台账): every quantitative target in the corpus as a row — what is counted,
value, unit, qualifier, document, section, item and the verbatim sentence with its offsets — and
exact answers to target questions ("鲁科贷要发多少？") straight from those rows.

What counts as a target (patterns over the text, no list of expected sentences):

- a number glued to a unit of count or amount — 148个, 97亿元, 11%, 100人次, 15场(次), 十五项,
  两千万元, 3.5亿元 (Arabic or Chinese numerals, decimals); a year (2025年), a duration (三年),
  the item numbering (1.–23.) and a plan name (十四五, 二十大) carry no such unit and never match;
- that the plan commits to: a qualifier (以上, 不少于, 左右, 超过 …) or a commitment verb before
  it in the same clause (实施, 新增, 培育, 开展, 争取, 力争, 促成, 选派, 发布 …, and 增长 for
  a growth rate);
- and that is not one of these look-alikes: a number inside quotes or a book title (“2+10”,
  “三高一核心”, 《…》), part of a formula (2+10, 1+4), an ordinal (第三个), a count of the
  things just enumerated (政务、人才…文化八个生态 — eight names, eight 生态), a condition or
  attribute (…500万元以上的企业), a support standard or cap (最高, 给予, 补助, 奖励 …), a
  status already reached (现有, 已有 …), or a bare Chinese "一" (一批, 一个) without a qualifier.
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, computed_field, field_serializer

from .chunk import SEP, chunk_document
from .config import Settings
from .errors import LoadError
from .index import MANIFEST, read_manifest
from .load import load_corpus, load_file
from .models import Answer, Chunk, Citation
from .query import FACT_KINDS, Query, analyse, normalise, places
from .text import (
    STOPWORDS,
    add_terms,
    is_word,
    load_dictionary,
    quoted_terms,
    search_tokens,
    sentences,
)

# -- patterns --------------------------------------------------------------------------------

_CN_DIGITS = dict(
    zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True)
)
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN = "零〇一二两三四五六七八九十百千万亿"
_BASE_UNITS = (
    r"人次|人(?![才民员口])|家|个百分点|个|项|件|名|场[(（]次[)）]|场次|场|次|所(?![有以在属])|台|套|篇|户|座"
    r"|条|部(?![门署分])|款|吨|亩|平方米|元|%|‰"
)
TARGET_RE = re.compile(
    rf"(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|[{_CN}]+?(?:点[{_CN}]+?)?)"
    rf"\s*(?P<approx>余|多)?\s*(?P<unit>(?:万亿|亿|万|千)?(?:{_BASE_UNITS}))"
    r"(?P<post>以上|左右|以内|以下)?"
)
PERCENT_RE = re.compile(
    rf"百分之(?P<num>\d+(?:\.\d+)?|[{_CN}]+?(?:点[{_CN}]+)?)(?![{_CN}点\d])"
    r"(?P<post>以上|左右|以内|以下)?"
)
_PRE_QUALIFIER = re.compile(r"(不少于|不低于|至少|超过|达到|突破|约|近)$")
_COMMIT = re.compile(
    r"实施|实现|新增|新建|新备案|新认定|培育|培养|开展|争取|力争|促成|选派|组织|发布|推动|完成|建设|建成"
    r"|引进|招引|吸引|举办|签署|签订|立项|获批|入选|发放|培训|打造|认定|备案|转化|孵化|突破|达到|提高"
    r"|提升|增长|增加|带动|服务|支持|落地|攻克|征集|遴选|储备|布局|覆盖|惠及|吸纳|设立|搭建|推广|申报"
)
# A support standard or cap (创新券每家企业最高支持20万元), not a target the plan commits to.
_STANDARD = re.compile(
    r"最高|最多|不超过|给予|补助|奖励|奖补|补贴|资助|贴息|每家|每个|每人|每项|单个|单笔"
)
_STATUS = re.compile(r"现有|已有|已经|已累计|截至|共有|拥有")
_ENUMERATION = re.compile(r"((?:[^、,，。；;：:\s]{1,12}、)+[^、,，。；;：:\s]{1,12})$")
_CLAUSE_RE = re.compile(r"(?:[^,，:：]|(?<=\d),(?=\d{3}))+")  # 1,500 stays whole
_ITEM_PREFIX = re.compile(r"^\s*\d{1,3}[.．、]")
_ITEM_LABEL = re.compile(r"^(\d{1,3}[.．、]|第[一二三四五六七八九十百零〇\d]+条)")
_LEAD_WORDS = re.compile(r"^(争取|力争|全力|确保|努力|预计|计划|力求|并|同时|其中|另外|此外)+")
_ITEM_NUMBER = re.compile(r"(\d{1,3})[.．、]?")
_OPEN_QUOTES = {"“": "”", "《": "》", "「": "」", "『": "』", "〈": "〉"}
MAX_SUBJECT = 40


def parse_number(text: str) -> float:
    """148 → 148.0, "1,500" → 1500.0, "3.5" → 3.5, 十五 → 15.0, 两千 → 2000.0, 三点五 → 3.5."""
    text = text.replace(",", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    whole, _, frac = text.partition("点")
    value = float(_parse_cn_int(whole))
    if frac:
        value += float("0." + "".join(str(_CN_DIGITS[c]) for c in frac if c in _CN_DIGITS))
    return value


def _parse_cn_int(text: str) -> int:
    total = section = digit = 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_SMALL:
            section += (digit or 1) * _CN_SMALL[ch]
            digit = 0
        elif ch in _CN_BIG:
            total = (total + section + digit) * _CN_BIG[ch]
            section = digit = 0
    return total + section + digit


def format_value(value: float) -> str:
    """148.0 → "148", 3.5 → "3.5" (never "148.0")."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- the row ---------------------------------------------------------------------------------


class Target(BaseModel):
    """One quantitative target. ``start``/``end`` index the sentence in the document text (as a
    ``Citation`` does); ``number_start``/``number_end`` the number itself, its unit following."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    title: str
    section: str = ""  # "四、夯实企业创新主体地位… › 13.优化全周期科技金融服务"
    item: str = ""  # "13.优化全周期科技金融服务"
    subject: str  # what is counted: "为企业发放科技成果转化贷款"
    value: float
    unit: str  # 个 项 家 人 名 件 亿元 万元 人次 场(次) % …
    qualifier: str = ""  # 以上 不少于 左右 超过 … or ""
    sentence: str  # verbatim
    start: int
    end: int
    number_start: int
    number_end: int
    year: int | None = None

    @field_serializer("value")
    def _value_out(self, value: float) -> int | float:
        return int(value) if value.is_integer() else value  # 148, not 148.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def display(self) -> str:
        """The quantity as people write it: "148个", "25亿元以上", "不少于15场(次)"."""
        amount = f"{format_value(self.value)}{self.unit}"
        if self.qualifier in ("以上", "左右", "以内", "以下", "余", "多"):
            return amount + self.qualifier
        return self.qualifier + amount


CSV_COLUMNS: list[tuple[str, str]] = [
    ("doc_id", "文档ID"),
    ("title", "文件"),
    ("section", "章节"),
    ("item", "条目"),
    ("subject", "指标内容"),
    ("value", "数值"),
    ("unit", "单位"),
    ("qualifier", "限定"),
    ("display", "指标值"),
    ("sentence", "原文"),
    ("start", "原文起点"),
    ("end", "原文终点"),
]


# -- extraction ------------------------------------------------------------------------------


def _inside_quotes(before: str) -> bool:
    for opening, closing in _OPEN_QUOTES.items():
        if before.count(opening) > before.count(closing):
            return True
    return before.count('"') % 2 == 1


def _section_at(chunks: list[Chunk], offset: int) -> str:
    section = ""
    for chunk in chunks:  # chunks are in document order
        if chunk.start > offset:
            break
        section = chunk.section
        if offset < chunk.end:
            return section
    return section


def _item_of(section: str) -> str:
    parts = [p for p in section.split(SEP) if p]
    return next((p for p in reversed(parts) if _ITEM_LABEL.match(p)), "")


def _clean_subject(text: str) -> str:
    text = _ITEM_PREFIX.sub("", text).strip(" 　,，:：、。；;！？!?")
    text = _LEAD_WORDS.sub("", text).strip()
    return text[-MAX_SUBJECT:]


class _Found(NamedTuple):
    cut: int  # where the quantity starts in the clause, a pre-qualifier (不少于) included
    n_start: int
    n_end: int
    end: int  # after the unit and any post-qualifier (以上)
    value: float
    unit: str
    qualifier: str


def _matches(clause: str) -> list[tuple[int, int, int, str, str, str]]:
    """(number start, number end, match end, number text, unit, post qualifier) in a clause."""
    out = []
    for m in TARGET_RE.finditer(clause):
        post = m.group("post") or m.group("approx") or ""
        out.append((m.start("num"), m.end("num"), m.end(), m.group("num"), m.group("unit"), post))
    for m in PERCENT_RE.finditer(clause):
        out.append(
            (m.start("num"), m.end("num"), m.end(), m.group("num"), "%", m.group("post") or "")
        )
    return sorted(out)


def _is_target(clause: str, n_start: int, end: int, num: str, value: float, post: str) -> bool:
    before, after = clause[:n_start], clause[end:]
    prev = before[-1:] if before else ""
    if num[0] in _CN:
        if num.strip("百千万亿") == "" or prev in _CN or prev == "第":
            return False  # 千家万户, 百家 … are words; 第三个 is an ordinal
        if value == 1 and not post:
            return False  # 一批, 一个平台: an article, not a quantity
    elif prev and (prev.isdigit() or prev in "+.,-/×xX" or prev.isascii() and prev.isalpha()):
        return False  # part of a formula or code (2+10, mRNA5)
    if after.startswith(("+", "的")):
        return False  # 2+10; an attribute or condition (500万元以上的企业)
    if _inside_quotes(before):
        return False
    if _STANDARD.search(clause) or _STATUS.search(before):
        return False
    enum = _ENUMERATION.search(before)
    if enum and enum.group(1).count("、") + 1 == value:
        return False  # 政务、人才…文化八个生态: counts the names just listed
    return bool(post or _PRE_QUALIFIER.search(before) or _COMMIT.search(before))


def extract_targets(
    doc_id: str, title: str, text: str, chunks: list[Chunk], year: int | None = None
) -> list[Target]:
    """Every target in one document's text, in reading order; several in a sentence → several rows."""
    rows: list[Target] = []
    for s_start, s_end in sentences(text):
        sentence = text[s_start:s_end]
        section = ""
        previous_clause = ""
        for cm in _CLAUSE_RE.finditer(sentence):
            clause = cm.group(0)
            found = []
            for n_start, n_end, end, num, unit, post in _matches(clause):
                value = parse_number(num)
                if _is_target(clause, n_start, end, num, value, post):
                    pre = _PRE_QUALIFIER.search(clause[:n_start])
                    qualifier = post or (pre.group(1) if pre else "")
                    cut = pre.start() if pre else n_start
                    found.append(_Found(cut, n_start, n_end, end, value, unit, qualifier))
            if found:
                section = section or _section_at(chunks, s_start)
                subject = clause
                for f in reversed(found):  # the subject is the clause without its quantities
                    subject = subject[: f.cut] + subject[f.end :]
                subject = _clean_subject(subject)
                if len(subject) <= 2 and previous_clause:  # "增长11%以上" → "年度新增投资增长"
                    subject = _clean_subject(previous_clause + subject)
                base = s_start + cm.start()
                rows += [
                    Target(
                        doc_id=doc_id,
                        title=title,
                        section=section,
                        item=_item_of(section),
                        subject=subject,
                        value=f.value,
                        unit=f.unit,
                        qualifier=f.qualifier,
                        sentence=sentence,
                        start=s_start,
                        end=s_end,
                        number_start=base + f.n_start,
                        number_end=base + f.n_end,
                        year=year,
                    )
                    for f in found
                ]
            previous_clause = _strip_numbers(clause)
    return rows


def _strip_numbers(clause: str) -> str:
    return TARGET_RE.sub("", clause)


def targets_of_document(doc: Document, chunks: list[Chunk] | None = None) -> list[Target]:
    meta = doc.metadata
    return extract_targets(
        meta["doc_id"],
        meta.get("title", meta["doc_id"]),
        doc.page_content,
        chunks if chunks is not None else chunk_document(doc),
        meta.get("year"),
    )


# -- the ledger ------------------------------------------------------------------------------

# A question asks for a target when it asks how many / how much, or names a 目标/指标.
_ASKS_TARGET = re.compile(r"多少|几|目标|指标|要达到|达到|规模|总额|总投资|数量")
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


class TargetLedger:
    """All targets of a set of documents, filterable, exportable, and able to answer.

    Build it with ``TargetLedger.from_settings(settings)`` (the documents the index manifest
    lists) or ``TargetLedger.from_documents(docs)``; ``rows()`` filters, ``to_csv()`` exports,
    ``answer()`` answers a target question or returns ``None``.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        documents: Iterable[Document] = (),
        generation: str | None = None,
        terms: Iterable[str] = (),
    ):
        self.targets: list[Target] = list(targets)
        self.generation = generation
        self._terms = list(terms)
        self._locality: dict[str, set[str]] = {}
        self._texts: list[str] = []
        df: Counter[str] = Counter()  # sentence frequency of each token, for IDF weights
        n_sentences = 0
        for doc in documents:
            text, meta = doc.page_content, doc.metadata
            self._texts.append(text)
            named = f"{meta.get('issuer', '')} {meta.get('title', '')}"
            self._locality[meta["doc_id"]] = {p for p in places() if p in named} or {
                p for p in places() if p in text
            }
            for s, e in sentences(text):
                df.update(set(search_tokens(text[s:e])))
                n_sentences += 1
        self._df = df
        self._n = max(n_sentences, 1)
        self._max_idf = math.log(1 + (self._n + 0.5) / 0.5)
        self._full_text = "\n".join(self._texts)
        self._corrector = None
        self._vocabulary: frozenset[str] | None = None
        self._lock = threading.Lock()

    # -- building --------------------------------------------------------------------------

    @classmethod
    def from_documents(
        cls, docs: Iterable[Document], generation: str | None = None, terms: Iterable[str] = ()
    ) -> TargetLedger:
        docs = list(docs)
        terms = list(terms)
        add_terms(terms)
        quoted = sorted(
            set().union(*(quoted_terms(d.page_content) for d in docs)) if docs else set()
        )
        add_terms(quoted)  # so “鲁科贷” stays one token in questions, as in the index
        targets: list[Target] = []
        for doc in docs:
            targets.extend(targets_of_document(doc))
        return cls(targets, docs, generation, [*terms, *quoted])

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetLedger:
        """The documents the index manifest lists (so the ledger matches what ``ask`` searches);
        before the first ``index`` run, every readable file of the corpus. Unreadable files are
        skipped, as indexing skips them."""
        corpus = Path(settings.corpus_dir)
        terms = load_dictionary(corpus)
        manifest = read_manifest(Path(settings.index_dir))
        if manifest is None:
            docs = load_corpus(corpus).documents if corpus.is_dir() else []
            return cls.from_documents(docs, None, terms)
        docs = []
        for rel, rec in sorted(manifest.get("files", {}).items()):
            if rec.get("error"):
                continue
            try:
                docs.append(load_file(corpus / rel, corpus))
            except LoadError:
                continue
        return cls.from_documents(docs, manifest.get("generation"), terms)

    # -- querying --------------------------------------------------------------------------

    def rows(
        self, doc: str | None = None, section: str | None = None, q: str | None = None
    ) -> list[Target]:
        """Rows filtered by document (doc_id or title), section (a substring of the path; a bare
        number "13" or "13." means item 13) and keyword (a substring of subject, sentence,
        section or title, or all of its jieba terms in them)."""
        out = self.targets
        if doc:
            out = [t for t in out if doc in (t.doc_id, t.title)]
        if section:
            if m := _ITEM_NUMBER.fullmatch(section.strip()):  # "13" / "13." → item 13 only
                out = [t for t in out if re.match(rf"{m.group(1)}[.．、]", t.item)]
            else:
                out = [t for t in out if section in t.section]
        if q and q.strip():
            needle = normalise(q)
            tokens = search_tokens(needle)
            out = [t for t in out if _keyword_match(t, needle, tokens)]
        return list(out)

    @staticmethod
    def to_csv(rows: Iterable[Target]) -> bytes:
        """UTF-8 with BOM, Chinese headers: Excel and WPS open it with the Chinese intact."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow([header for _key, header in CSV_COLUMNS])
        for row in rows:
            data = row.model_dump()
            data["value"] = format_value(row.value)
            writer.writerow([data[key] for key, _header in CSV_COLUMNS])
        return buf.getvalue().encode("utf-8-sig")

    @staticmethod
    def to_json(rows: Iterable[Target]) -> list[dict]:
        return [row.model_dump() for row in rows]

    # -- answering -------------------------------------------------------------------------

    @property
    def vocabulary(self) -> frozenset[str]:
        """Corpus words to find in a question even where jieba splits it differently."""
        if self._vocabulary is None:
            self._vocabulary = frozenset(
                t
                for t in [*self._df, *self._terms]
                if len(t) >= 2 and not t.isascii() and t not in STOPWORDS
            )
        return self._vocabulary

    @property
    def corrector(self):
        with self._lock:
            if self._corrector is None:
                from .spelling import Corrector

                self._corrector = Corrector([*self._df.keys(), *self._terms])
            return self._corrector

    def answer(self, question: str | Query, filters=None) -> Answer | None:
        """The matching row(s) as an ``Answer`` (mode "targets"), or ``None`` when the question
        does not ask for a target or no row matches it with confidence — the normal pipeline
        then answers (or abstains). ``question`` may be a ``Query`` already analysed by the
        caller (condensed follow-up, corrected spelling); ``filters`` a ``retrieve.Filters``."""
        if not self.targets:
            return None
        if isinstance(question, Query):
            query = question
        else:
            query = analyse(question, self.corrector, vocabulary=self.vocabulary)
        text = query.text
        if not _ASKS_TARGET.search(text) or _PER_UNIT.search(text):
            return None
        if set(query.kinds) - {"money", "rate"}:
            return None  # a deadline, a contact, materials, conditions, names: not a target
        rows = [r for r in self.targets if self._in_scope(r, query, text, filters)]
        if "money" in query.kinds:
            rows = [r for r in rows if r.unit.endswith(_MONEY_UNITS)]
        if "rate" in query.kinds:
            evidence = FACT_KINDS["rate"][1]
            rows = [r for r in rows if r.unit in _PERCENT_UNITS and evidence.search(r.sentence)]
        hint = _unit_hint(text)
        if hint and hint[1]:
            rows = [r for r in rows if r.unit.endswith(hint[0])]
        terms = self._weights(query)
        if not rows or not terms:
            return None
        total = sum(t.weight for t in terms.values()) or 1.0
        context = {t: self._idf(t) * CONTEXT_WEIGHT / total for t in query.context}
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
                _Scored(
                    sent + 0.5 * subj + bonus + 0.01 * overlap[0], sent, subj, overlap, unit_fit, r
                )
            )
        if not scored:
            return None
        best = max(scored, key=lambda x: x.score)
        if not _confident(best, hint) or not self._names_something(terms, best.row):
            return None
        same = [
            x for x in scored if x.row.doc_id == best.row.doc_id and x.row.start == best.row.start
        ]
        return _target_answer(query.original, _pick_rows(same, query, terms), round(best.sent, 3))

    def _names_something(self, terms: dict[str, _Term], row: Target) -> bool:
        """The question names what is counted: a noun or name of some weight in the sentence
        (not only 创新 or 科技, which every sentence here has)."""
        return any(
            t.topic
            and t.weight >= MIN_TOPIC_IDF
            and t.alts
            and any(a in row.sentence for a in t.alts)
            for t in terms.values()
        )

    def _in_scope(self, row: Target, query: Query, text: str, filters) -> bool:
        if filters is not None:
            if filters.doc_ids and row.doc_id not in filters.doc_ids:
                return False
            if filters.year is not None and row.year != filters.year:
                return False
        if row.year is not None and any(y != row.year for y in query.years):
            return False
        local = self._locality.get(row.doc_id, set())
        if any(p not in local and p not in row.sentence for p in query.places):
            return False  # 青岛/山东省 … : this document's targets are another place's
        return all(word in row.sentence for word in _SCOPE.findall(text))

    def _idf(self, term: str) -> float:
        c = self._df.get(term, 0)
        return math.log(1 + (self._n - c + 0.5) / (c + 0.5))

    def _weights(self, query: Query) -> dict[str, _Term]:
        """Each key term's weight (IDF; verbs and adverbs count half — 覆盖 vs 发放 varies, the
        thing counted does not) and the words that stand for it in a text."""
        from .answer import synonyms  # the same synonym groups the extractive answerer uses

        out: dict[str, _Term] = {}
        scope = {str(y) for y in query.years} | set(query.places)
        for term in query.terms:
            if term in _FILLER or term in scope or term.rstrip("市省区县") in places():
                continue  # a year or a place scopes the question (checked apart), not its topic
            topic = _is_topic(term)
            scale = 1.0 if topic else VERB_WEIGHT
            same = tuple(w for w in synonyms(term) if w in self._full_text)
            if term in self._df:
                out[term] = _Term(self._idf(term) * scale, (term, *same), topic)
            elif term in self._full_text:
                out[term] = _Term(self._max_idf * 0.8 * scale, (term, *same), topic)
            elif same:
                out[term] = _Term(max(self._idf(w) for w in same) * 0.9 * scale, same, topic)
            else:
                # unknown to the corpus: a noun vetoes a sentence that lacks it (担保费), but not a
                # fragment jieba's HMM glued together (人到), which is no evidence of anything
                out[term] = _Term(
                    self._max_idf * MISSING_WEIGHT * scale, None, topic and is_word(term)
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


def _keyword_match(row: Target, needle: str, tokens: list[str]) -> bool:
    hay = f"{row.subject} {row.sentence} {row.section} {row.title}"
    return needle in hay or bool(tokens) and all(t in hay for t in tokens)


def _pick_rows(candidates: list[_Scored], query: Query, terms: dict[str, _Term]) -> list[Target]:
    """The rows of the chosen sentence that answer: in the unit asked for, with the subject that
    matches best (several when they share it: 500家 and 25亿元 for 鲁科贷). A question joining
    several things ("新增专利和新增销售收入分别是多少") gets the best row for each. In reading order."""
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
    quote = _ITEM_PREFIX.sub("", first.sentence, count=1)
    text = f"目标：{summary}。\n原文：{quote} [1]"
    return Answer(
        question=question, answer=text, abstained=False, mode="targets", citations=[citation]
    )


class LedgerCache:
    """The ledger for a settings object, rebuilt when the index manifest changes (a new
    generation after ``index``, an upload or a delete) — as ``Retriever.reader`` does."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._ledger: TargetLedger | None = None
        self._stamp: tuple | None = None
        self._lock = threading.Lock()

    def get(self) -> TargetLedger:
        path = Path(self.settings.index_dir) / MANIFEST
        try:
            stamp: tuple = ("manifest", path.stat().st_mtime_ns)
        except FileNotFoundError:
            stamp = ("corpus", _corpus_stamp(Path(self.settings.corpus_dir)))
        with self._lock:
            if self._ledger is None or stamp != self._stamp:
                self._ledger = TargetLedger.from_settings(self.settings)
                self._stamp = stamp
            return self._ledger


def _corpus_stamp(corpus: Path) -> tuple:
    if not corpus.is_dir():
        return ()
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in corpus.rglob("*") if p.is_file()))
