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

Answering a question from the rows lives in ``answering.ledger`` (``answer(ledger, question)``).
"""

from __future__ import annotations

import csv
import io
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, computed_field, field_serializer

from .answering.query import normalise, places
from .chunk import SEP, chunk_document
from .config import Settings
from .load import load_corpus
from .manifest import MANIFEST, MANIFEST_VERSION, read_manifest
from .models import Chunk, FastPickle
from .text import (
    CN_DIGITS,
    STOPWORDS,
    add_terms,
    chinese_number,
    load_dictionary,
    quoted_terms,
    search_tokens,
    sentences,
)

# -- patterns --------------------------------------------------------------------------------

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
ITEM_PREFIX = re.compile(r"^\s*\d{1,3}[.．、]")
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
    value = float(chinese_number(whole) or 0)
    if frac:
        value += float("0." + "".join(str(CN_DIGITS[c]) for c in frac if c in CN_DIGITS))
    return value


def format_value(value: float) -> str:
    """148.0 → "148", 3.5 → "3.5" (never "148.0")."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- the row ---------------------------------------------------------------------------------


class Target(FastPickle, BaseModel):
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
    text = ITEM_PREFIX.sub("", text).strip(" 　,，:：、。；;！？!?")
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


def sentence_stats(text: str) -> tuple[Counter[str], int]:
    """How many sentences of ``text`` hold each search token, and how many sentences it has."""
    df: Counter[str] = Counter()
    n = 0
    for s, e in sentences(text):
        df.update(set(search_tokens(text[s:e])))
        n += 1
    return df, n


def locality_of(text: str, meta: dict) -> set[str]:
    """The places a document is about: named in its issuers or title, else in its text."""
    named = f"{' '.join(meta.get('issuers') or [])} {meta.get('title', '')}"
    return {p for p in places() if p in named} or {p for p in places() if p in text}


# -- the ledger ------------------------------------------------------------------------------


def _cell(value):
    """A document's text must not become a spreadsheet formula (=, +, -, @ lead a formula)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


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
        docs = list(documents)
        stats = [sentence_stats(d.page_content) for d in docs]
        self._setup(
            targets,
            {d.metadata["doc_id"]: d.page_content for d in docs},
            {d.metadata["doc_id"]: locality_of(d.page_content, d.metadata) for d in docs},
            sum((df for df, _n in stats), Counter()),
            sum(n for _df, n in stats),
            generation,
            terms,
        )

    @classmethod
    def from_parts(
        cls,
        targets: dict[str, list[Target]],
        texts: dict[str, str],
        locality: dict[str, set[str]],
        df: Counter[str],
        n_sentences: int,
        generation: str | None = None,
        terms: Iterable[str] = (),
        corrector_base=None,
        full_text=None,
    ) -> TargetLedger:
        """A ledger combined from per-document parts computed at index time (rows by document,
        sentence frequencies, places), so that opening an index does not re-read its corpus.
        ``targets`` maps each document that has rows to them (kept, not copied: the caller
        does not change it afterwards); ``corrector_base`` — an earlier state's
        spelling table, whose sounds this one's reuses; ``full_text`` — the index's searchable
        text of these documents (``CorpusText``), so that it is not joined a second time."""
        ledger = cls.__new__(cls)
        ledger._setup((), texts, locality, df, n_sentences, generation, terms, targets)
        ledger._corrector_base = corrector_base
        ledger._full_text = full_text
        return ledger

    def _setup(
        self, targets, texts, locality, df, n_sentences, generation, terms, by_doc=None
    ) -> None:
        # (by document when combined from an index: the flat list is made on first use — a
        # question looks rows up by document, so an update need not copy every row)
        self._targets: list[Target] | None = None if by_doc is not None else list(targets)
        self.generation = generation
        self._terms = list(terms)
        self.locality: dict[str, set[str]] = dict(locality)
        self._texts: list[str] = list(texts.values())
        self.df = df  # sentence frequency of each token, for the IDF weights answering uses
        self._n = max(n_sentences, 1)
        self.max_idf = math.log(1 + (self._n + 0.5) / 0.5)
        self._full_text = None  # str, or the index's CorpusText
        self._corrector_base = None
        self._by_doc: dict[str, list[Target]] = {}
        if by_doc is not None:
            self._by_doc = by_doc
        else:
            for row in self._targets:  # type: ignore[union-attr]
                self._by_doc.setdefault(row.doc_id, []).append(row)
        self._corrector = None
        self._vocabulary: frozenset[str] | None = None
        self._lock = threading.Lock()

    @property
    def targets(self) -> list[Target]:
        """Every row, document by document."""
        if self._targets is None:
            self._targets = list(chain.from_iterable(self._by_doc.values()))
        return self._targets

    @property
    def empty(self) -> bool:
        return not self._by_doc

    def rows_within(self, spans: Iterable[tuple[str, int, int]]) -> list[Target]:
        """Rows whose sentence starts inside one of the (doc_id, start, end) spans — the rows of
        the retrieved chunks, looked up per document instead of scanning the whole ledger."""
        out: dict[int, Target] = {}
        for doc_id, start, end in spans:
            for row in self._by_doc.get(doc_id, ()):
                if start <= row.start < end:
                    out[id(row)] = row
        return list(out.values())

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
        if manifest is None or manifest.get("version") != MANIFEST_VERSION:
            docs = load_corpus(corpus).documents if corpus.is_dir() else []
            return cls.from_documents(docs, None, terms)
        from .index import read_entry

        entries = [
            read_entry(Path(settings.index_dir), rec["entry"])
            for _rel, rec in sorted(manifest.get("files", {}).items())
            if rec.get("entry") and not rec.get("error")
        ]
        add_terms([*terms, *manifest.get("terms", [])])
        df: Counter[str] = Counter()
        for e in entries:
            df.update(e.sentence_df)
        return cls.from_parts(
            {e.doc_id: e.targets for e in entries if e.targets},
            {e.doc_id: e.text for e in entries},
            {e.doc_id: set(e.record.get("locality") or ()) for e in entries},
            df,
            sum(e.n_sentences for e in entries),
            manifest.get("generation"),
            [*terms, *manifest.get("terms", [])],
        )

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
            writer.writerow([_cell(data[key]) for key, _header in CSV_COLUMNS])
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
                for t in [*self.df, *self._terms]
                if len(t) >= 2 and not t.isascii() and t not in STOPWORDS
            )
        return self._vocabulary

    @property
    def full_text(self):
        """Every document's text, for ``term in full_text`` (joined on first use)."""
        if self._full_text is None:
            self._full_text = "\n".join(self._texts)
        return self._full_text

    @property
    def corrector(self):
        with self._lock:
            if self._corrector is None:
                from .spelling import Corrector

                base = self._corrector_base
                self._corrector = Corrector([*self.df.keys(), *self._terms], previous=base)
                self._corrector_base = None
            return self._corrector

    def built_corrector(self):
        """The spelling table if built, else the one it would be built from (or ``None``)."""
        return self._corrector or self._corrector_base

    def idf(self, term: str) -> float:
        """The term's IDF over the corpus's sentences (answering weighs question words by it)."""
        c = self.df.get(term, 0)
        return math.log(1 + (self._n - c + 0.5) / (c + 0.5))


def _keyword_match(row: Target, needle: str, tokens: list[str]) -> bool:
    hay = f"{row.subject} {row.sentence} {row.section} {row.title}"
    return needle in hay or bool(tokens) and all(t in hay for t in tokens)


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
