"""One question → one answer: scope, metadata fields, the targets ledger, retrieval, then each
part of the question answered from its best unit (or said to be missing), in one Answer."""

from __future__ import annotations

import re
from dataclasses import replace

from ..models import Answer, Citation
from ..retrieve import Filters, IndexReader, Scored
from .extractive import abstention, extractive_answer, quote_lines
from .fields import asked_fields, label, locate
from .query import _INTENT_WORDS, Query, analyse
from .question import Asked
from .scope import TAIL_CHARS, Scope
from .support import names_topic


def scoped_filters(filters: Filters | None, scope: Scope) -> Filters:
    filters = filters or Filters()
    if scope.excluded:  # all documents but a few (the repealed ones)
        return replace(filters, exclude=(*filters.exclude, *scope.excluded))
    if not scope.doc_ids:
        return filters
    ids = scope.doc_ids
    if filters.doc_ids:
        ids = tuple(d for d in filters.doc_ids if d in scope.doc_ids) or filters.doc_ids
    return replace(filters, doc_ids=ids)


def narrow_to(scope: Scope, prev_docs: list[str], reader: IndexReader) -> Scope:
    """The scope of a follow-up: its own candidates, kept to the earlier turn's documents or,
    when it names a year of its own, to the documents of that year in the same places."""
    if not prev_docs:
        return scope
    docs = reader.scope.docs
    allowed = set(scope.doc_ids) if scope.doc_ids else set(docs) - set(scope.excluded)
    if scope.unmatched_years or not any(docs[d].year for d in allowed if d in docs):
        return scope
    years = {docs[d].year for d in allowed if d in docs}
    own_year = len(years) == 1 and len(allowed) < len(docs)
    if own_year:  # "2025年呢？" — same places as before, the year it names
        places = {p for d in prev_docs for p in docs[d].places}
        keep = [d for d in allowed if set(docs[d].places) & places] or list(allowed)
    else:
        keep = [d for d in prev_docs if d in allowed] or list(allowed)
    return replace(scope, doc_ids=tuple(sorted(keep)), excluded=())


def strip_titles(text: str, scope: Scope, reader: IndexReader) -> str:
    """The question without the titles of the documents it names (they scope, they are not
    topic words that a clause must contain)."""
    docs = [reader.scope.docs[d] for d in scope.named if d in reader.scope.docs]
    titles = [d.title for d in docs]
    if not titles:
        return text
    original = text
    for title in titles:
        text = text.replace(f"《{title}》", " ").replace(title, " ")
    for doc in docs:  # named by the tail of its title ("2019年印发的那版……管理办法")
        tail = _longest_tail(doc.core, text)
        if tail:
            text = re.sub(_REFERENCE + re.escape(tail), " ", text)
    # a quoted short form of a named title ("《扶持办法》")
    text = re.sub(
        r"《([^》]+)》", lambda m: " " if any(m.group(1) in t for t in titles) else m.group(0), text
    )
    return re.sub(r"\s+", " ", text).strip() or original


# how a question refers to a document before its name: "印发的那版", "这份" (the year stays: it
# scopes)
_REFERENCE = r"(?:(?:印发|发布|出台|颁布|制定|修订|下发)的)?(?:那|这)?[版份个]?"


def _longest_tail(core: str, text: str) -> str | None:
    """The longest tail of a core title, of at least ``TAIL_CHARS`` characters, in ``text``."""
    for n in range(len(core), TAIL_CHARS - 1, -1):
        if core[-n:] in text:
            return core[-n:]
    return None


def part_query(part: str, previous: str | None, query: Query, reader: IndexReader) -> Query:
    """A part that asks nothing of its own ("生活补贴呢？") borrows the previous part's intent."""
    own = [w for w in _INTENT_WORDS.findall(part) if w not in ("呢", "吗")]
    if not own and previous:
        part = f"{part.rstrip('？?呢 ')} {' '.join(_INTENT_WORDS.findall(previous))}"
    others = tuple(t for t in query.terms if t not in part)
    q = analyse(part, reader.corrector, (*query.context, *others), reader.vocabulary)
    if previous and not any(names_topic(t) for t in q.terms):
        # "……能奖多少？一年最多奖多少": a part naming no topic of its own asks about the
        # previous part's, at full weight
        before = analyse(previous, reader.corrector, vocabulary=reader.vocabulary)
        q = replace(q, terms=tuple(dict.fromkeys((*before.terms, *q.terms))))
    return replace(q, original=query.original)


def cn_date(iso: str) -> str:
    """2025-03-01 → 2025年3月1日 (as the documents write dates)."""
    y, m, d = iso.split("-")
    return f"{y}年{int(m)}月{int(d)}日"


def field_answer(
    fields: list[str], doc_id: str | None, reader: IndexReader, first_id: int
) -> tuple[list[str], list[Citation]]:
    lines: list[str] = []
    cites: list[Citation] = []
    info = reader.scope.docs.get(doc_id) if doc_id else None
    if info is None:
        return [f"{label(f)}：文件中没有写明。" for f in fields], []
    meta = info.meta
    for f in fields:
        value = meta.get(f)
        if f == "status":
            value = meta.get("status") or "现行"
        loc = locate(f, meta, reader.doc_chunks.get(doc_id, []))
        locs = [loc] if loc is not None else []
        if f == "status" and meta.get("superseded_by"):
            new = reader.scope.docs.get(meta["superseded_by"])
            if new is not None:
                repeal = locate(
                    "status", {"status": "已废止"}, reader.doc_chunks.get(new.doc_id, [])
                )
                # what the document (or its page) states of itself, then the repeal: "有效性：
                # 已失效" is the document's own word, the repeal says by what
                stated = meta.get("stated_status") not in (None, "现行")
                own = [loc] if loc is not None and stated else []
                locs = own + ([repeal] if repeal is not None else [])
                since = new.meta.get("effective_from")
                value = f"已废止（已被《{new.title}》废止" + (
                    f"，新办法自{cn_date(since)}起施行）" if since else "）"
                )
        if not value or not locs:
            lines.append(f"《{info.title}》的{label(f)}：文件中没有写明。")
            continue
        quotes = []
        for where in locs:
            n = first_id + len(cites)
            cites.append(Citation.from_span(n, where.chunk, where.start, where.end, score=1.0))
            quotes.append(f"{cites[-1].text} [{n}]")
        shown = "、".join(value) if isinstance(value, list) else str(value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown):
            shown = cn_date(shown)
        lines.append(f"《{info.title}》的{label(f)}：{shown}。原文：{'；'.join(quotes)}")
    return lines, cites


def _doc_for_fields(
    fields: list[str], scope: Scope, hits: list[Scored], reader: IndexReader
) -> str | None:
    """The document a metadata question is about: the one it names, else the best-retrieved
    document that states the asked field at all."""
    if scope.named:
        return scope.named[0]
    ranked = list(dict.fromkeys(h.chunk.doc_id for h in hits))
    for doc_id in ranked:
        meta = reader.scope.docs[doc_id].meta if doc_id in reader.scope.docs else {}
        if any(meta.get(f) for f in fields if f != "status"):
            return doc_id
    return ranked[0] if ranked else None


def _renumber(answer: Answer, first_id: int) -> tuple[str, list[Citation]]:
    text = answer.answer
    cites = []
    for offset, c in enumerate(answer.citations):
        n = first_id + offset
        text = text.replace(f"[{c.id}]", f"[#{n}]")
        cites.append(c.model_copy(update={"id": n}))
    return text.replace("[#", "["), cites


def _only(answer: Answer, kept: list[Citation]) -> Answer:
    """An extractive answer quoting only ``kept`` of its citations."""
    return answer.model_copy(update={"answer": quote_lines(kept), "citations": kept})


def compose(
    asked: Asked, query: Query, scope: Scope, hits: list[Scored], reader: IndexReader
) -> Answer:
    parts = asked.parts if len(asked.parts) > 1 else (asked.ask,)
    lines: list[str] = []
    citations: list[Citation] = []
    answered = False
    previous = None
    single: Answer | None = None
    for part in parts:
        fields = asked_fields(part)
        if fields:
            doc_id = _doc_for_fields(fields, scope, hits, reader)
            got, cites = field_answer(fields, doc_id, reader, len(citations) + 1)
            lines += got
            citations += cites
            answered = answered or bool(cites)
            previous = part
            continue
        q = query if len(parts) == 1 else part_query(part, previous, query, reader)
        previous = part
        ans = extractive_answer(q, hits, reader)
        if len(parts) == 1:
            single = ans
            break
        if ans.abstained:
            shown = part.strip().replace("?", "？").replace(",", "，")
            lines.append(f"（{shown}）文件中没有写明。")
            continue
        # a later part must not repeat a quote an earlier part gave: its other quotes stay,
        # renumbered after the earlier parts'
        kept = [
            c
            for c in ans.citations
            if not any(c.start == d.start and c.doc_id == d.doc_id for d in citations)
        ]
        if not kept:
            continue
        if len(kept) < len(ans.citations):
            ans = _only(ans, kept)
        text, cites = _renumber(ans, len(citations) + 1)
        lines.append(text)
        citations += cites
        answered = True
    if single is not None:
        if scope.unmatched_years and not single.abstained:
            year = str(scope.unmatched_years[0])
            if not any(year in _read_in_context(c, hits) for c in single.citations):
                have = "、".join(str(y) for y in scope.have_years) or "其他"
                return abstention(query, hits, f"现有文件是{have}年的，没有{year}年的内容。")
        return _with_repeal_note(single, reader)
    if not answered:
        return abstention(query, hits)
    answer = Answer(
        question=query.original, answer="\n".join(lines), abstained=False, citations=citations
    )
    return _with_repeal_note(answer, reader)


def _read_in_context(citation: Citation, hits: list[Scored]) -> str:
    """A quote with what it stands under in its chunk: the lead-in of its list ("到2028年，……
    具体目标如下：" over "4. 年度培训达到500人次；"), which dates an item that does not
    repeat the year."""
    for h in hits:
        ch = h.chunk
        if ch.doc_id == citation.doc_id and ch.start <= citation.start < ch.end:
            lead = ch.lead_in or ""
            if ch.kind == "list" and citation.start > ch.start:
                lead += ch.text.split("\n", 1)[0]
            return f"{lead} {citation.text}"
    return citation.text


def _with_repeal_note(answer: Answer, reader: IndexReader) -> Answer:
    """An answer quoting a repealed document says so, and names what replaced it."""
    if answer.abstained:
        return answer
    notes = []
    for doc_id in dict.fromkeys(c.doc_id for c in answer.citations):
        info = reader.scope.docs.get(doc_id)
        if info and info.superseded_by and info.superseded_by in reader.scope.docs:
            new = reader.scope.docs[info.superseded_by]
            notes.append(f"注意：《{info.title}》已被《{new.title}》废止，以上为旧版规定。")
    if not notes or all(n in answer.answer for n in notes):
        return answer
    return answer.model_copy(update={"answer": answer.answer + "\n" + "\n".join(notes)})
