"""Which documents may answer a question, from what the corpus itself is about.

The places, years and titles a question names are matched against the indexed documents'
metadata (their places, years, titles, status), so a new city's documents work without editing
a word list. A question about a place or year that no document covers is out of scope (the
answer says which ones the corpus has). A superseded document answers only when the question
asks about it by name or year; otherwise the documents in force do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from dataclasses import dataclass, field

from .places import question_places, same_place, strip_place

# A year, not a date — and not the year of an event in the asker's own life or firm ("1964年
# 出生的", "2019年成立的"), nor a year the asker states a figure for in a premise ("2023年度营收
# 800万元，…": the figure closes a clause the question goes on from) — those date facts about
# the asker, not the documents asked for. A figure the question asks about ("2026年高企数量要
# 达到300家吗？") leaves the year a year.
_YEAR = re.compile(
    r"((?:19|20)\d{2})\s*(?:年度|年)(?!\s*\d{1,2}\s*月)(?!\s*(?:出生|生人|生的|成立|创办|注册成立))"
    r"(?![^，,。？?；;！!\d]{0,12}?\d+(?:\.\d+)?\s*(?:万亿元|亿元|万元|千元|元|万|亿|%)\s*[，,、；;])"
)
# words that ask about an earlier version of a policy
_OLD_VERSION = re.compile(r"暂行|旧版|老版|原来的|原先的|以前的|之前的|废止前|修订前|当时")


@dataclass(frozen=True)
class DocInfo:
    doc_id: str
    title: str
    year: int | None
    places: tuple[str, ...]
    status: str
    superseded_by: str | None
    meta: dict
    core: str = ""  # the title without its place and year (``_core_title``)


# A question names a document by its core title's tail when it holds a tail of at least this
# many characters ("人才住房补贴实施细则"); every such tail ends with the core's last
# TAIL_CHARS characters, so those find the candidates.
TAIL_CHARS = 6


@dataclass
class Scope:
    doc_ids: tuple[str, ...] = ()  # empty: every document (but ``excluded``)
    # every document but these: how a scope of most of the corpus is put (the documents in
    # force, all but the few repealed), so that filtering by it costs in proportion to the few
    excluded: tuple[str, ...] = ()
    outside_places: tuple[str, ...] = ()
    missing_years: tuple[int, ...] = ()
    named: tuple[str, ...] = ()  # documents the question names by title
    note: str | None = None
    why: str | None = None  # why the question is out of scope
    stripped: str = ""  # the question without the titles it names
    # years no document is dated, though the text mentions them: only a quote that names the
    # year itself may answer ("2023年度营业收入" yes; a 2025 plan's target for "2023年" no)
    unmatched_years: tuple[int, ...] = ()
    have_years: tuple[int, ...] = ()
    # a place outside the covered one the question names beside it ("乙市的机构……甲市的服务券"),
    # as the documents say it ("市外", "县外"), when they do
    elsewhere: str = ""

    @property
    def out_of_scope(self) -> bool:
        return bool(self.why)


def doc_info(rel: str, rec: dict) -> DocInfo | None:
    """What scoping knows of one manifest record (``None`` for a file that did not load)."""
    if rec.get("error") or not rec.get("doc_id"):
        return None
    return DocInfo(
        doc_id=rec["doc_id"],
        title=rec.get("title") or rel,
        year=rec.get("year"),
        places=tuple(rec.get("places") or ()),
        status=rec.get("status") or "现行",
        superseded_by=rec.get("superseded_by"),
        meta=rec,
        core=_core_title(rec.get("title") or rel),
    )


@dataclass
class CorpusScope:
    docs: dict[str, DocInfo] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: dict) -> CorpusScope:
        docs = {}
        for rel, rec in (manifest.get("files") or {}).items():
            if (info := doc_info(rel, rec)) is not None:
                docs[info.doc_id] = info
        return cls(docs)

    def updated(self, manifest: dict, removed: list[str], changed: list[str]) -> CorpusScope:
        """This scope after an update: ``removed`` doc_ids dropped, the documents at the
        ``changed`` corpus paths (re)read from ``manifest`` — work in proportion to the change."""
        docs = dict(self.docs)
        for doc_id in removed:
            docs.pop(doc_id, None)
        files = manifest.get("files") or {}
        for rel in changed:
            if (info := doc_info(rel, files.get(rel) or {})) is not None:
                docs[info.doc_id] = info
        return type(self)(docs)

    # Derived lookups, built on first use per state: a question's scoping then costs work in
    # proportion to the question, not to the number of documents.
    @functools.cached_property
    def places(self) -> set[str]:
        return {p for d in self.docs.values() for p in d.places}

    @functools.cached_property
    def offices(self) -> tuple[tuple[str, ...], ...]:
        """The documents' issuing offices without their place ("农业农村局" of "乙县农业农村局"),
        each in the forms documents write it ("科学技术局", "科技局")."""
        out: dict[str, tuple[str, ...]] = {}
        for d in self.docs.values():
            for issuer in d.meta.get("issuers") or ():
                office = strip_place(issuer)
                if len(office) >= 3:
                    out[office] = tuple(dict.fromkeys((office, office.replace("科学技术", "科技"))))
        return tuple(out.values())

    @functools.cached_property
    def years(self) -> set[int]:
        return {d.year for d in self.docs.values() if d.year}

    @functools.cached_property
    def _by_name(self) -> dict[str, list[DocInfo]]:
        """Documents by full title and by core title (a 《quoted》 name is either)."""
        out: dict[str, list[DocInfo]] = {}
        for d in self.docs.values():
            for name in dict.fromkeys((d.title, d.core)):
                out.setdefault(name, []).append(d)
        return out

    @functools.cached_property
    def _by_tail(self) -> dict[str, list[DocInfo]]:
        """Documents by the last ``TAIL_CHARS`` characters of their core title."""
        out: dict[str, list[DocInfo]] = {}
        for d in self.docs.values():
            if len(d.core) >= TAIL_CHARS:
                out.setdefault(d.core[-TAIL_CHARS:], []).append(d)
        return out

    @functools.cached_property
    def _title_lengths(self) -> tuple[int, ...]:
        return tuple(sorted({len(d.title) for d in self.docs.values()}))

    def named_docs(self, text: str) -> list[DocInfo]:
        """Documents the question names: 《title》 or the title written out; failing that, the
        title without its place and year, or a long tail of it ("人才住房补贴实施细则"),
        when no year in the question contradicts the document's."""
        quoted = re.findall(r"《([^》]+)》", text)
        found: dict[str, DocInfo] = {}
        for q in quoted:
            for d in self._by_name.get(q, ()):
                found[d.doc_id] = d
        for n in self._title_lengths:  # a title written out: each window of its length
            if n > len(text):
                break
            for i in range(len(text) - n + 1):
                for d in self._by_name.get(text[i : i + n], ()):
                    if d.title == text[i : i + n]:
                        found[d.doc_id] = d
        if found:
            return self._in_order(found)
        years = {int(y) for y in _YEAR.findall(text)}
        for i in range(len(text) - TAIL_CHARS + 1):
            for d in self._by_tail.get(text[i : i + TAIL_CHARS], ()):
                if not (years and d.year and d.year not in years):
                    found[d.doc_id] = d
        return self._in_order(found)

    def _in_order(self, found: dict[str, DocInfo]) -> list[DocInfo]:
        """In the corpus's order, as a scan of every document would list them."""
        if len(found) <= 1:
            return list(found.values())
        rank = self._rank
        return sorted(found.values(), key=lambda d: rank[d.doc_id])

    @functools.cached_property
    def _rank(self) -> dict[str, int]:
        return {doc_id: i for i, doc_id in enumerate(self.docs)}

    def resolve(self, text: str, full_text: Container[str], situation: str = "") -> Scope:
        """The scope of the asking ``text``; ``situation`` — what the asker says of themselves
        before asking — does not scope, but a place it names beside a covered one is the
        asker's ``elsewhere`` ("我们请乙市的机构做测试，甲市的服务券能用吗？")."""
        scope = Scope(stripped=text)
        if not self.docs:
            return scope
        named = self.named_docs(text)
        scope.named = tuple(d.doc_id for d in named)
        candidates = list(named) or list(self.docs.values())

        corpus_places = self.places
        asked = [p for p in question_places(text, corpus_places)]
        others = [p for p in asked if not any(same_place(p, c) for c in corpus_places)]
        outside = [p for p in others if p not in full_text]
        if situation:
            others += [
                p
                for p in question_places(situation, corpus_places)
                if not any(same_place(p, c) for c in corpus_places)
            ]
        inside = [p for p in asked if any(same_place(p, c) for c in corpus_places)]
        # a question about a covered place may name another as part of the asker's situation
        # ("在外地的公司做的检测，甲市的补贴能用吗？"): the covered place is its scope
        if outside and not inside:
            have = "、".join(sorted(corpus_places)) or "已收录地区"
            scope.outside_places = tuple(outside)
            scope.why = f"现有文件只涉及{have}的政策。"
            return scope
        if inside and others:
            # …and the documents speak of such a place as outside theirs ("市外服务机构"): the
            # word for it, by the level of the covered place, is what a unit must speak to
            covered = next(c for c in corpus_places if any(same_place(p, c) for p in inside))
            word = f"{covered[-1:]}外" if covered[-1:] in "省市县区" else ""
            if word and word in full_text:
                scope.elsewhere = word
        if inside:
            candidates = [
                d for d in candidates if any(same_place(p, q) for p in inside for q in d.places)
            ] or candidates

        years = [int(y) for y in _YEAR.findall(text)]
        doc_years = {d.year for d in candidates if d.year}
        if years:
            match = [d for d in candidates if d.year in years]
            missing = [y for y in years if y not in doc_years and str(y) not in full_text]
            scope.unmatched_years = tuple(y for y in years if y not in doc_years)
            scope.have_years = tuple(sorted(self.years))
            if missing and not match:
                have = "、".join(str(y) for y in sorted(self.years)) or "其他"
                scope.missing_years = tuple(missing)
                scope.why = f"现有文件是{have}年的，没有{missing[0]}年的内容。"
                return scope
            # a dated plan (工作要点 of 2024 and 2025) answers for its own year
            if match and _dated_series(candidates, match):
                candidates = match

        asks_old = bool(_OLD_VERSION.search(text)) or any(
            d.status != "现行" and d.year in years for d in candidates
        )
        named_old = [d for d in named if d.status != "现行"]
        if not named_old and not asks_old:
            current = [d for d in candidates if not d.superseded_by]
            candidates = current or candidates
        elif named_old and not asks_old and all(d.superseded_by for d in named_old):
            # "那份暂行规定如今还管用吗？" — both the old one and what replaced it may answer
            candidates = [
                *candidates,
                *(self.docs[d.superseded_by] for d in named_old if d.superseded_by in self.docs),
            ]
        if len(candidates) < len(self.docs):
            ids = dict.fromkeys(d.doc_id for d in candidates)
            if 2 * len(ids) > len(self.docs):
                scope.excluded = tuple(d for d in self.docs if d not in ids)
            else:
                scope.doc_ids = tuple(ids)
        return scope


def _core_title(title: str) -> str:
    """A title without its place and year: "甲川市2026年人才工作要点" → "人才工作要点"."""
    t = re.sub(r"^《|》$", "", title)
    t = re.sub(r"(?:19|20)\d{2}\s*年度?", "", t)
    return re.sub(r"^[\u4e00-\u9fff]{2,4}?[省市县区]", "", t)


def _dated_series(candidates: list[DocInfo], match: list[DocInfo]) -> bool:
    """Do the year-matching documents stand for their year among documents of the same kind
    (a 2024 and a 2025 工作要点)? Then the year picks the document; otherwise a year in the
    question ("2024年度研发费用") is about the text, not about which document answers."""
    cores = {d.core for d in match}
    return any(d.core in cores for d in candidates if d not in match)
