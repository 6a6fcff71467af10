"""The one service object every shell (CLI, API, UI, WeChat) calls."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from .answering.compose import compose, narrow_to, scoped_filters, strip_titles
from .answering.extractive import abstention
from .answering.fields import asked_fields
from .answering.ledger import answer as ledger_answer
from .answering.llm import Generator, get_generator
from .answering.query import (
    Query,
    analyse,
    condense_with_context,
    content_terms,
    content_text,
    has_searchable_content,
    normalise,
    previous_question,
)
from .answering.question import antecedent, asks_yes_no, understand
from .answering.ranges import amounts
from .answering.support import names_topic
from .config import MAX_QUESTION_CHARS, Settings, get_settings
from .errors import (
    SUPPORTED_SUFFIXES,
    AssistantError,
    DocumentNotFoundError,
    IndexCorruptError,
    IndexNotReadyError,
    InvalidQuestionError,
    LoadError,
    UnsupportedFileType,
)
from .index import (
    RETIRE_GRACE_S,
    BuildSummary,
    IndexBuilder,
    ProgressFn,
    build_index,
    read_manifest,
)
from .ingest.ocr import OcrOptions, ocr_options
from .load import RESERVED_NAMES, doc_id_for, load_bytes
from .manifest import manifest_stamp
from .models import Answer, DocumentInfo, Hit, StreamEvent
from .retrieve import Filters, Retriever, Scored
from .targets import LedgerCache, Target, TargetLedger

log = logging.getLogger(__name__)


def validate_question(question: str | None) -> str:
    if question is None or not question.strip().replace("\ufeff", ""):  # a BOM is no text
        raise InvalidQuestionError("问题不能为空，请输入要咨询的政策问题")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"问题过长（{len(question)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内"
        )
    # A lone UTF-16 surrogate (JSON "\ud800") is no character: opencc, jieba's dictionary and
    # every encoder downstream raise on it. Every shell comes through here, so refuse it here.
    if bad := re.search("[\ud800-\udfff]", question):
        raise InvalidQuestionError(
            f"问题含有无效字符（孤立的代理项 U+{ord(bad.group()):04X}），请检查文本编码后重新输入"
        )
    return question.strip()


@dataclass(frozen=True)
class Evidence:
    """Everything known before an answer is generated; ``extractive`` is the fallback."""

    question: str  # as the user asked it
    query: Query  # standalone, analysed
    hits: list[Scored]
    extractive: Answer
    t0: float
    t1: float  # retrieval done

    def stamp(self, answer: Answer) -> Answer:
        """The user's own question and timings (``llm`` stays when the generator set it)."""
        t2 = time.perf_counter()
        timings = {
            **answer.timings_ms,
            "retrieve": round((self.t1 - self.t0) * 1000, 2),
            "answer": round((t2 - self.t1) * 1000, 2),
            "total": round((t2 - self.t0) * 1000, 2),
        }
        return answer.model_copy(update={"question": self.question, "timings_ms": timings})


MAX_HISTORY_TURNS = 10
ANSWER_CANDIDATES = (
    12  # fitted on the devcorpus dev split: 5 → 0.80, 8 → 0.81, 12 → 0.82, 16 → 0.80
)
_DOC_FIELDS = (
    "doc_no",
    "issuers",
    "date",
    "published",
    "effective_from",
    "effective_to",
    "status",
    "superseded_by",
    "interprets",
    "index_no",
    "places",
    "year",
    "flagged",
)


def trim_history(history: list[dict] | None) -> list[dict]:
    """Only the recent turns matter for a follow-up; each is cut to the question limit, so a
    long history cannot make one request expensive."""
    out = []
    for turn in (history or [])[-MAX_HISTORY_TURNS:]:
        if isinstance(turn, dict) and (content := content_text(turn.get("content"))):
            # earlier turns are context only: a lone surrogate in one is replaced, not refused
            content = re.sub("[\ud800-\udfff]", "\ufffd", content[:MAX_QUESTION_CHARS])
            out.append({"role": turn.get("role", "user"), "content": content})
    return out


def _retrieved(answer: Answer, hits: list[Scored]) -> bool:
    """Does a retrieved chunk hold one of the answer's quotes?"""
    return any(
        c.doc_id == h.chunk.doc_id and h.chunk.start <= c.start and c.end <= h.chunk.end
        for c in answer.citations
        for h in hits
    )


MAX_NAME_BYTES = 240  # file systems allow 255 bytes; the upload's temp name adds 8 (".….upload")


def safe_filename(name: str) -> str:
    """The bare file name of an upload: no directories, no traversal, no control characters,
    at most 200 characters and ``MAX_NAME_BYTES`` bytes of UTF-8 (150 Chinese characters are
    450): a longer stem is shortened, at a character boundary, keeping the extension."""
    name = re.sub("[\ud800-\udfff]", "_", name)  # no lone surrogates: they cannot be encoded
    base = PurePath(name.replace("\\", "/")).name
    base = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", base).strip(" .")
    if not base or base in (".", ".."):
        raise LoadError(name or "（空文件名）", "文件名无效")
    if len(base) > 200 or len(base.encode()) > MAX_NAME_BYTES:
        suffix = PurePath(base).suffix
        suffix = suffix if len(suffix.encode()) <= 16 else ""
        stem = base[: len(base) - len(suffix)][: 200 - len(suffix)]
        room = MAX_NAME_BYTES - len(suffix.encode())
        stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .")
        if not stem:
            raise LoadError(name, "文件名无效")
        base = stem + suffix
    return base


def _rel_of(manifest: dict, doc_id: str) -> str | None:
    """The corpus path of ``doc_id`` in ``manifest``."""
    files = manifest.get("files", {})
    return next((r for r, rec in files.items() if rec.get("doc_id", doc_id_for(r)) == doc_id), None)


class Assistant:
    def __init__(self, settings: Settings | None = None, generator: Generator | None = None):
        self.settings = settings or get_settings()
        self.retriever = Retriever(self.settings)
        # None → extractive only; an LLM answers when PA_LLM_BASE_URL and PA_LLM_MODEL are set
        self.generator = generator or get_generator(self.settings)
        self.ledger = LedgerCache(self.settings)
        self._build_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot_of: str | None = None
        if IndexBuilder.has_pending(self.settings):  # an update killed mid-way: finish it
            try:
                IndexBuilder(self.settings).recover()
            except Exception:
                log.exception("could not recover the interrupted index update")

    # -- index -------------------------------------------------------------------------------

    def build_index(self, progress: ProgressFn | None = None, force: bool = False) -> BuildSummary:
        """Bring the index in line with the corpus folder; when it changed, also save the
        combined structures (snapshot), so that the next ``serve`` starts without them."""
        with self._build_lock:  # the snapshot is of this process's own, refreshed, state
            summary = build_index(self.settings, progress, force, state=self.retriever.refresh)
        self._updated(summary)
        return summary

    def add_document(
        self, filename: str, data: bytes, progress: ProgressFn | None = None
    ) -> tuple[str, BuildSummary]:
        """Validate an upload fully *before* it touches the corpus, then index it as a
        transaction: the file enters the corpus once the index holds it. A bad file raises
        ``LoadError`` and leaves corpus and index exactly as they were."""
        name = safe_filename(filename)
        if name in RESERVED_NAMES or name.startswith("."):
            raise LoadError(name, "文件名被保留（词典或说明文件），请改名后上传")
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UnsupportedFileType(name, suffix)
        max_bytes = self.settings.max_upload_mb * 1024 * 1024
        if len(data) > max_bytes:
            raise LoadError(name, f"文件过大（上限 {self.settings.max_upload_mb} MB）")
        # raises on corrupt / encrypted / empty input; a scan is OCRed here (cached for the build)
        ocr = OcrOptions.from_settings(
            self.settings, progress=(lambda _n, d, t: progress("ocr", d, t)) if progress else None
        )
        with ocr_options(ocr):
            load_bytes(data, name)
        corpus = Path(self.settings.corpus_dir)
        corpus.mkdir(parents=True, exist_ok=True)
        if (corpus / name).resolve().parent != corpus.resolve():
            raise LoadError(name, "文件名无效")
        with self._build_lock:
            builder = IndexBuilder(self.settings, progress, **self._state_for_update())
            summary = builder.add(name, data)
        self._updated(summary, builder.committed, builder.delta)
        return doc_id_for(name), summary

    def _state_for_update(self) -> dict:
        """The state in memory, for an update to start from: its manifest (with the stamp of
        the file it was read from) and, when the reader is of that manifest's generation, its
        text."""
        known = self.retriever.known()
        reader = self.retriever.current
        text = None
        if known is not None and reader is not None:
            if reader.generation == known[0].get("generation"):
                text = reader.full_text
        return {"known": known, "text": text}

    def delete_document(self, doc_id: str) -> BuildSummary:
        with self._build_lock:
            index_dir = Path(self.settings.index_dir)
            known = self.retriever.known()
            if known is not None and manifest_stamp(index_dir) != known[1]:
                known = None  # another process committed since: read what it wrote
            reader = self.retriever.current
            if known is not None and reader is not None and reader.manifest is known[0]:
                rel = reader.rel_of(doc_id)  # (the state in memory is that manifest's)
            else:
                rel = _rel_of(
                    known[0] if known is not None else read_manifest(index_dir) or {}, doc_id
                )
            if rel is None:
                raise DocumentNotFoundError(doc_id)
            builder = IndexBuilder(self.settings, known=known)
            summary = builder.remove(rel)
        self._updated(summary, builder.committed, builder.delta)
        return summary

    def _updated(self, summary: BuildSummary, committed=None, delta=None) -> None:
        """After this process's own update: answer from the new state at once (from the
        manifest the update wrote, ``committed``, patched by what it changed, ``delta``), and
        delete what it replaced once the grace period has passed."""
        if not summary.changed:
            return
        try:
            self.retriever.refresh(committed, delta)
        except AssistantError:
            log.exception("the index was updated but could not be reopened")
        timer = threading.Timer(RETIRE_GRACE_S + 1, self._collect)
        timer.daemon = True
        timer.start()

    def _collect(self) -> None:
        """Once updates have settled: delete what they replaced, and save the current state's
        snapshot (one write per burst of uploads, not one per upload)."""
        try:
            IndexBuilder(self.settings).collect()
        except Exception:  # garbage waits for the next update or ``index --check``
            log.exception("could not collect retired index data")
        with self._snapshot_lock:
            reader = self.retriever.reader
            manifest = read_manifest(Path(self.settings.index_dir)) or {}
            if manifest.get("generation") == reader.generation != self._snapshot_of:
                try:
                    reader.write_snapshot()
                    self._snapshot_of = reader.generation
                except Exception:
                    log.exception("could not save the index snapshot")

    def _ledger(self, reader=None) -> TargetLedger:
        try:
            return (reader or self.retriever.reader).ledger
        except IndexCorruptError:
            raise
        except IndexNotReadyError:  # before the first ``index``: the corpus itself
            return self.ledger.get()

    def documents(self) -> list[DocumentInfo]:
        manifest = read_manifest(Path(self.settings.index_dir)) or {"files": {}}
        out = []
        for rel, rec in sorted(manifest["files"].items()):
            if rec.get("error"):
                continue
            out.append(
                DocumentInfo(
                    doc_id=rec["doc_id"],
                    title=rec.get("title", rel),
                    source=rel,
                    chunks=rec.get("chunks", 0),
                    **{k: rec[k] for k in _DOC_FIELDS if rec.get(k) is not None},
                )
            )
        return out

    def target_rows(
        self, doc: str | None = None, section: str | None = None, q: str | None = None
    ) -> list[Target]:
        """The targets ledger (指标台账), filtered; rebuilt when the index changes."""
        return self._ledger().rows(doc=doc, section=section, q=q)

    # -- questions ---------------------------------------------------------------------------

    def search(
        self, query: str, top_k: int | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        query = validate_question(query)
        if not has_searchable_content(query):
            return []
        reader = self.retriever.reader
        # scoped as a question is (its place, year, named documents; repealed versions only
        # when asked for), but ranked by all its words: a preamble's words, which must not
        # count toward an answer's coverage, still help find the passage (measured on the
        # eval sets: hit@1 devcorpus dev 0.65 → 0.71, fresh dev 0.52 → 0.59)
        scope = reader.scope.resolve(understand(normalise(query)).ask, reader.full_text)
        if not scope.out_of_scope:  # (out of scope: the closest passages, as ask shows them)
            filters = scoped_filters(filters, scope)
        text = analyse(query, reader.corrector).text
        return self.retriever.retrieve(text, top_k or self.settings.top_k, filters, reader)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        ev = self.evidence(question, history, filters)
        answer = ev.extractive
        if self.generator is not None:  # verified, or the extractive answer with a note
            answer = self.generator.answer(ev.query.text, ev.hits, ev.extractive)
        return ev.stamp(answer)

    def stream(
        self, question: str, history: list[dict] | None = None, filters: Filters | None = None
    ) -> Iterator[StreamEvent]:
        """Stream an answer: ``delta`` pieces, at most one ``replace`` (the LLM's text failed
        verification; the extractive answer takes its place), then the final ``answer``.
        Extractive answers are complete at once, so they arrive clause by clause."""
        if self.generator is None:
            answer = self.ask(question, history=history, filters=filters)
            for piece in re.findall(r"[^,，。；;\n]+[,，。；;\n]?|[,，。；;\n]", answer.answer):
                yield StreamEvent("delta", text=piece)
            yield StreamEvent("answer", answer=answer)
            return
        ev = self.evidence(question, history, filters)
        for event in self.generator.stream(ev.query.text, ev.hits, ev.extractive):
            if event.answer is not None:
                event = replace(event, answer=ev.stamp(event.answer))
            yield event

    def _follow_up_scope(self, scope, history: list[dict], reader):
        """A follow-up stays with the documents the earlier turn was about (the same place;
        the year it names, if any, picks among them)."""
        previous = previous_question(history)
        if not previous:
            return scope
        prev_scope = reader.scope.resolve(understand(normalise(previous)).ask, reader.full_text)
        if prev_scope.out_of_scope:
            return scope
        prev_hits = self.retriever.retrieve_scored(
            previous, 3, scoped_filters(None, prev_scope), reader=reader
        )
        prev_docs = list(dict.fromkeys(h.chunk.doc_id for h in prev_hits))[:2]
        return narrow_to(scope, prev_docs, reader)

    def evidence(
        self, question: str, history: list[dict] | None = None, filters: Filters | None = None
    ) -> Evidence:
        """Validate, condense, retrieve, answer extractively: everything before the LLM.
        With no hits (nothing to search for, or a ledger answer) the generator is not called."""
        t0 = time.perf_counter()
        question = validate_question(question)
        history = trim_history(history)
        standalone, context = condense_with_context(question, history)
        if self.generator is not None and history:
            standalone = self.generator.condense(question, history)  # rules on any failure
        reader = self.retriever.reader
        asked = understand(normalise(standalone))
        scope = reader.scope.resolve(asked.ask, reader.full_text, asked.context)
        ask = strip_titles(asked.ask, scope, reader)
        query = analyse(ask, reader.corrector, context, reader.vocabulary)
        if asked.context and len(query.terms) < 2:
            # the ask names hardly a topic of its own ("这次能按多少比例补？"): the preamble's
            # words help find it, at the weight of context
            preamble = tuple(t for t in content_terms(asked.context) if t not in query.terms)
            context = (*context, *preamble)
            query = analyse(ask, reader.corrector, context, reader.vocabulary)
        if asked.context and not any(
            t in reader.vocabulary and names_topic(t) for t in query.terms
        ):
            # an elliptical ask ("……听说还有奖励，能给多少？"), none of whose words the documents
            # use as a topic: the clause before it names the topic, at full weight
            topic = antecedent(asked.context, reader.vocabulary)
            if topic:
                query = replace(query, terms=tuple(dict.fromkeys((*topic, *query.terms))))
        if not query.terms and context:  # "2025年呢？": the earlier turn's topic is the topic
            query = replace(query, terms=tuple(context), context=())
        query = replace(query, original=question)
        elsewhere = scope.elsewhere
        if elsewhere:
            # "找乙市的机构做测试，甲市的服务券能用吗？": the asker's situation is a place
            # outside the covered one — what the documents say of a 市外 one is the condition
            # the answer turns on
            query = replace(query, terms=(*query.terms, elsewhere))
        # "……合同签了两年，这种情况能领住房补贴吗？": the asker's situation is what the
        # condition must be matched against, so it takes part in retrieval (the whole question
        # is searched, one query embedding as before) and in choosing the unit
        search_text = query.text
        if asked.eligibility:
            # (its figures are matched against a condition's thresholds, not as strings)
            situation = tuple(
                t for t in content_terms(asked.context) if t not in query.terms and not t.isdigit()
            )
            query = replace(query, situation=situation, eligibility=True)
            search_text = analyse(f"{asked.context}，{ask}", reader.corrector).text
        if elsewhere and (asked.eligibility or asks_yes_no(asked.ask)):
            query = replace(query, situation=(*query.situation, elsewhere), eligibility=True)
        if not has_searchable_content(question) or not (query.terms or scope.named):
            why = "请用文字描述想了解的政策，例如“鲁科贷今年的目标是多少？”"
            return Evidence(question, query, [], abstention(query, [], why), t0, t0)
        if scope.out_of_scope:  # the closest passages are still shown, as 相关内容
            extra = " ".join(query.context)
            near = self.retriever.retrieve_scored(query.text, 3, filters, extra, reader)
            why, outside = scope.why, scope.outside_places
            return Evidence(question, query, near, abstention(query, near, why, outside), t0, t0)
        if context and not scope.named and history:
            scope = self._follow_up_scope(scope, history, reader)
        filters = scoped_filters(filters, scope)
        extra = " ".join((*query.context,))
        # the answerer weighs more candidates than a search shows: the unit that answers is
        # often not the chunk that ranks first
        k = max(self.settings.top_k, ANSWER_CANDIDATES)
        if elsewhere:
            search_text = f"{search_text} {elsewhere}"
        hits = self.retriever.retrieve_scored(search_text, k, filters, extra, reader)
        t1 = time.perf_counter()
        # A question asking for a target is answered from the ledger row, when one matches
        # and retrieval agrees that the row's sentence is about the question.
        # (not when what was actually done is asked: a target is no answer to that)
        # (nor when the asker states a sum of their own — "检测花了30万，能抵掉多少？" asks what
        # applies to it, not a plan's figure)
        own_sum = any(kind == "money" for _v, kind in amounts(question))
        if (
            len(asked.parts) == 1
            and not asked_fields(asked.ask)
            and "actual" not in query.kinds
            and not own_sum
        ):
            spans = [(h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in hits]
            from_ledger = ledger_answer(reader.ledger, query, filters, within=spans)
            if from_ledger is not None and _retrieved(from_ledger, hits):
                return Evidence(question, query, [], from_ledger, t0, t0)
        answer = compose(asked, query, scope, hits, reader)
        return Evidence(question, query, hits, answer, t0, t1)
