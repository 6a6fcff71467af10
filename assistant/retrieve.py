"""Hybrid retrieval: BM25 (bm25s over jieba tokens; ``bm25.py``) ∥ dense (Chroma, cosine) → RRF.

``IndexReader`` is one committed state of the index; ``Retriever`` notices when an update
commits a new one and loads it in the background, so a running server picks up re-indexing
(its own uploads, another process's) without a restart and without making anyone wait.
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import pickle
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .bm25 import LiveBM25
from .config import Settings
from .embed import get_embedder
from .errors import AssistantError, IndexCorruptError, IndexNotReadyError
from .fusion import reciprocal_rank_fusion
from .index import Entry, read_entry, vector_id
from .manifest import (
    MANIFEST_VERSION,
    Stamp,
    manifest_stamp,
    read_manifest,
    write_atomic,
)
from .models import Chunk, Hit
from .spelling import Corrector
from .store import get_client, get_collection
from .tables import Layered, Rows
from .text import STOPWORDS, CorpusText, add_terms, load_dictionary, search_tokens

log = logging.getLogger(__name__)

CANDIDATES = 20
SNAPSHOT = "snapshot.pkl"
SNAPSHOT_VERSION = 7
DENSE_SLACK = 10  # extra dense results asked for, against vectors of other states
# A dense search excluding documents first asks for their rows on top of its own, up to this
# many times its own: measured on 27k chunks, 600 results cost 15 ms and Chroma's filter with
# most of the corpus allowed 67 ms (a search without either, 7 ms).
EXCLUDE_BY_WIDENING = 4
HOLES_MAX = 0.25  # lay rows out afresh once a quarter of them are removed documents' old ones
DENSE_QUERY_CHARS = 256  # e5 windows longer text, at a cost linear in its length


def dense_query(text: str) -> str:
    """What the dense retriever embeds: a long question's head and tail (where the asking
    usually is), so a 2,000-character question costs no more than a short one."""
    if len(text) <= DENSE_QUERY_CHARS:
        return text
    half = DENSE_QUERY_CHARS // 2
    return f"{text[:half]} {text[-half:]}"


@dataclass(frozen=True)
class Filters:
    doc_ids: tuple[str, ...] = ()  # only these documents (empty: any)
    year: int | None = None
    # never these (the repealed ones, say): most of a large corpus is better named this way
    # than listed in ``doc_ids``
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # sets, for membership in time independent of their size
        object.__setattr__(self, "_only", frozenset(self.doc_ids))
        object.__setattr__(self, "_never", frozenset(self.exclude))

    def allows_doc(self, doc_id: str) -> bool:
        return (not self._only or doc_id in self._only) and doc_id not in self._never

    def allows(self, chunk: Chunk) -> bool:
        return self.allows_doc(chunk.doc_id) and (self.year is None or chunk.year == self.year)


@dataclass(frozen=True)
class Scored:
    """A hit with the raw signals the answerer weighs (fused score alone hides them)."""

    hit: Hit
    chunk: Chunk
    dense: float  # cosine similarity, 0 when not in the dense top list
    bm25: float


class IndexReader:
    """One committed state of the index, combined from its per-document entries: chunk table,
    BM25, IDF statistics, vocabulary, spelling table, corpus scope and targets ledger. It is
    immutable; an update makes a new reader, and a request keeps the one it started with."""

    def __init__(
        self,
        settings: Settings,
        manifest: dict,
        entries: dict[str, Entry],
        derived: dict | None = None,
        previous: IndexReader | None = None,
        exactly: bool = False,
    ):
        """``derived`` — BM25, frequencies and spelling table of exactly these entries, from a
        snapshot — skips recomputing them; ``exactly`` — ``entries`` are the manifest's live
        entries and nothing else (no need to pick them out of its records)."""
        from .answering.scope import CorpusScope
        from .targets import TargetLedger

        self.settings = settings
        self.manifest = manifest
        self.generation = manifest["generation"]
        live: dict[str, Entry] = entries if exactly else {}
        for rec in manifest.get("files", {}).values() if not exactly else ():
            if not rec.get("error") and rec.get("entry"):
                live[rec["entry"]] = entries[rec["entry"]]
        derived = derived or {}
        # An update's cost is these tables: carried over from the previous state and patched
        # by the change (dict and list copies run at C speed), or laid out afresh.
        base = previous if previous is not None and not derived else None
        removed = added = None
        if base is not None:
            removed = list(base.entries.keys() - live.keys())
            added = sorted(live.keys() - base.entries.keys(), key=lambda n: live[n].rel)
            holes = base._holes + sum(len(base.entries[n].chunks) for n in removed)
            if holes > HOLES_MAX * (len(base.chunks) + sum(len(live[n].chunks) for n in added)):
                base = removed = added = None  # compact: rows laid out afresh
        if base is not None:
            self._carry(base, live, removed, added)
        else:
            self._lay_out(live, derived, previous)
        domain = load_dictionary(Path(settings.corpus_dir))
        terms = list(manifest.get("terms", []))
        add_terms([*domain, *terms])
        # (a snapshot's BM25 is of its own rows: only when they were laid out as it saved them)
        self.bm25 = derived.get("bm25") if self._as_saved else None
        if self.n_chunks and self.bm25 is None:
            # the previous state's per-document term counts and segments, plus the changed
            # documents'
            self.bm25 = LiveBM25(
                self._rows,
                lambda name: self.entries[name].tokens,
                len(self.chunks),
                previous.bm25 if previous is not None else None,
                same_rows=base is not None,
            )
        self.collection = get_collection(get_client(settings), manifest["collection"])
        self.embedder = get_embedder(settings)
        # chunks holding each term: BM25's own document frequencies (a view, not a copy)
        df = self.bm25.document_frequencies() if self.bm25 is not None else {}
        n = max(self.n_chunks, 1)
        self.df: Mapping[str, int] = df
        self.idf = IDF(df, n)
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self._domain = domain
        if base is not None:
            gone = list(base.doc_rows.keys() - self.doc_rows.keys())
            self.scope = base.scope.updated(manifest, gone, [live[n].rel for n in added])
        else:
            self.scope = CorpusScope.from_manifest(manifest)
        if derived.get("corrector") is not None:
            self.corrector = derived["corrector"]  # (a cached property, set ahead)
        # the table the spelling table is rebuilt from (only a table: no earlier state is kept)
        self._corrector_base = _built_corrector(previous)
        self.vocabulary = Vocabulary(df, domain)
        sentence_df: Mapping[str, int] | None = derived.get("sentence_df")
        if sentence_df is None and base is not None:  # the previous state's, ± the change
            sentence_df = _layered(base._derived["sentence_df"]).changed(
                [base.entries[name].sentence_df for name in removed],
                [self.entries[name].sentence_df for name in added],
            )
        if sentence_df is None:
            counts: Counter[str] = Counter()
            for e in self.entries.values():
                counts.update(e.sentence_df)
            sentence_df = Layered(counts)
        self._derived = {
            "bm25": self.bm25,
            "sentence_df": sentence_df,
            "vector_ids": self._vids,
            "layout": {"rows": self._rows, "n_rows": len(self.chunks)},
        }
        if base is not None:  # the ledger's per-document parts, patched likewise
            targets, texts, locality = (dict(p) for p in base._ledger_parts[:3])
            n_sentences = base._ledger_parts[3]
            for name in removed:
                e = base.entries[name]
                n_sentences -= e.n_sentences
                if base._entry_of.get(e.doc_id) == name and e.doc_id not in self.doc_rows:
                    del texts[e.doc_id], locality[e.doc_id]
                    targets.pop(e.doc_id, None)
        else:
            targets, texts, locality, n_sentences = {}, {}, {}, 0
        for name in added if base is not None else self.entries:
            e = self.entries[name]
            if e.targets:  # (the ledger holds documents with rows only)
                targets[e.doc_id] = e.targets
            else:
                targets.pop(e.doc_id, None)
            texts[e.doc_id] = e.text
            locality[e.doc_id] = set(e.record.get("locality") or ())
            n_sentences += e.n_sentences
        self._ledger_parts = (targets, texts, locality, n_sentences)
        if base is not None:  # only the changed documents' buckets are joined again
            changed = [base.entries[n].doc_id for n in removed]
            changed += [self.entries[n].doc_id for n in added]
            self.full_text = base.full_text.updated(texts, changed, self.df)
        else:
            self.full_text = CorpusText(texts, self.df)
        self.ledger = TargetLedger.from_parts(
            targets,
            texts,
            locality,
            sentence_df,
            n_sentences,
            self.generation,
            [*domain, *terms],
            corrector_base=previous.ledger.built_corrector() if previous is not None else None,
            full_text=self.full_text,
        )

    def _lay_out(self, live: dict[str, Entry], derived: dict, previous) -> None:
        """Rows afresh: by corpus path, or as the snapshot ``derived`` holds them."""
        layout = derived.get("layout")
        self._as_saved = layout is not None and layout["rows"].keys() == live.keys()
        if self._as_saved:
            order = sorted(live, key=layout["rows"].__getitem__)
            n_rows = layout["n_rows"]
        else:
            order, n_rows = sorted(live, key=lambda name: live[name].rel), None
        before_vids = derived.get("vector_ids") or (previous._vids if previous is not None else {})
        before_rows = previous._vid_rows if previous is not None else {}
        self.chunks: Rows[Chunk | None] = Rows()  # by row; None: a removed document's old rows
        self.entries: dict[str, Entry] = {}
        self.doc_chunks: dict[str, list[Chunk]] = {}
        self.doc_rows: dict[str, tuple[int, int]] = {}  # doc_id → its rows in ``chunks``
        self._rows: dict[str, int] = {}  # entry → its first row
        self._entry_of: dict[str, str] = {}  # doc_id → entry
        self._vids: dict[str, list[str]] = {}  # entry → its vector ids
        self._vid_rows: dict[str, dict[str, int]] = {}  # entry → vector id → place in it
        for name in order:
            e = live[name]
            row = layout["rows"][name] if n_rows is not None else len(self.chunks)
            if row > len(self.chunks):
                self.chunks.extend([None] * (row - len(self.chunks)))
            self._place(name, e, before_vids.get(name), before_rows.get(name))
        if n_rows is not None and n_rows > len(self.chunks):
            self.chunks.extend([None] * (n_rows - len(self.chunks)))
        self.n_chunks = sum(len(e.chunks) for e in self.entries.values())
        self._holes = len(self.chunks) - self.n_chunks

    def _carry(self, base: IndexReader, live, removed: list[str], added: list[str]) -> None:
        """Rows as the previous state had them: removed documents' rows emptied (holes), new
        documents' appended."""
        self.chunks = base.chunks.copy()  # (shares its blocks until written)
        self.entries = dict(base.entries)
        self.doc_chunks = dict(base.doc_chunks)
        self.doc_rows = dict(base.doc_rows)
        self._rows = dict(base._rows)
        self._entry_of = dict(base._entry_of)
        self._vids = dict(base._vids)
        self._vid_rows = dict(base._vid_rows)
        self.n_chunks, self._holes = base.n_chunks, base._holes
        self._as_saved = False
        for name in removed:
            e = self.entries.pop(name)
            lo = self._rows.pop(name)
            self.chunks.clear(lo, lo + len(e.chunks))
            del self._vids[name], self._vid_rows[name]
            if self._entry_of.get(e.doc_id) == name:
                del self._entry_of[e.doc_id], self.doc_rows[e.doc_id], self.doc_chunks[e.doc_id]
            self.n_chunks -= len(e.chunks)
            self._holes += len(e.chunks)
        for name in added:
            self._place(name, live[name], None, None)
            self.n_chunks += len(live[name].chunks)

    def _place(self, name: str, e: Entry, vids: list[str] | None, vid_rows) -> None:
        """Append one document's chunks as rows."""
        doc_id = e.doc_id
        row = len(self.chunks)
        self.chunks.extend(e.chunks)
        self.entries[name] = e
        self.doc_chunks[doc_id] = e.chunks
        self.doc_rows[doc_id] = (row, len(self.chunks))
        self._rows[name] = row
        self._entry_of[doc_id] = name
        if vids is None:
            vids = [vector_id(c) for c in e.chunks]
        self._vids[name] = vids
        self._vid_rows[name] = (
            vid_rows if vid_rows is not None else {v: j for j, v in enumerate(vids)}
        )

    @functools.cached_property
    def corrector(self) -> Corrector:
        """The spelling table of the corpus's words (built on first use, from the previous
        state's table, so that only words new to it are read through pypinyin)."""
        # (the base is kept until this state goes: one older table at most, and a state
        # combined meanwhile still finds a base to build on)
        return Corrector([*self.df, *self._domain], previous=self._corrector_base)

    @functools.cached_property
    def vocab_by_length(self) -> dict[int, list[str]]:
        """The corpus's words by length, for typo matching (which compares equal lengths)."""
        out: dict[int, list[str]] = {}
        for term in self.df:
            out.setdefault(len(term), []).append(term)
        return out

    def rel_of(self, doc_id: str) -> str | None:
        """The corpus path of a document this state holds."""
        name = self._entry_of.get(doc_id)
        return self.entries[name].rel if name is not None else None

    def row_of(self, vector_id: str, doc_id: str | None) -> int | None:
        """The row in ``chunks`` of a vector this state names, else ``None``."""
        name = self._entry_of.get(doc_id)  # type: ignore[arg-type]
        j = self._vid_rows[name].get(vector_id) if name is not None else None
        return None if j is None else self.doc_rows[doc_id][0] + j  # type: ignore[index]

    def write_snapshot(self) -> None:
        """Save this state's combined structures, so that a server start loads them instead of
        recomputing them from the entries. Written by this product, read by it alone: it lives
        in the index directory, as trusted as the Chroma database beside it."""
        path = Path(self.settings.index_dir) / SNAPSHOT
        data = pickle.dumps(
            {
                "version": SNAPSHOT_VERSION,
                "generation": self.generation,
                "manifest": self.manifest,
                # without their tokens: BM25 holds their counts, and a start need not
                # unpickle millions of strings (tokens of a new entry come from its file)
                "entries": {k: replace(e, tokens=None) for k, e in self.entries.items()},
                "derived": {**self._derived, "corrector": self.corrector},
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        write_atomic(path, data)

    @staticmethod
    def read_snapshot(settings: Settings) -> tuple[dict, dict, dict] | None:
        """(manifest, entries, derived) of the state saved last, when a snapshot of this
        version exists — of the current state or of an earlier one."""
        path = Path(settings.index_dir) / SNAPSHOT
        try:
            with open(path, "rb") as fh:
                snap = pickle.load(fh)
        except Exception:  # unreadable, or of classes that changed since: only a cache
            return None
        if not isinstance(snap, dict) or snap.get("version") != SNAPSHOT_VERSION:
            return None
        return snap["manifest"], snap["entries"], snap["derived"]

    def doc_ids_for(self, filters: Filters) -> list[str] | None:
        """The documents a filter allows, or ``None`` for all of them but ``filters.exclude``."""
        if not filters.doc_ids and filters.year is None:
            return None
        if filters.year is None:  # the listed ones this state holds: no walk over the corpus
            return [
                d
                for d in dict.fromkeys(filters.doc_ids)
                if d in self.doc_chunks and filters.allows_doc(d)
            ]
        out = []
        for doc_id, chunks in self.doc_chunks.items():
            if not filters.allows_doc(doc_id):
                continue
            if not any(c.year == filters.year for c in chunks):
                continue
            out.append(doc_id)
        return out

    # -- the two retrievers ----------------------------------------------------------------

    def keyword(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[int, float]]:
        if self.bm25 is None or not tokens:
            return []
        mask = None
        if (allowed := self.doc_ids_for(filters)) is not None:
            mask = np.zeros(len(self.chunks))
            for doc_id in allowed:
                lo, hi = self.doc_rows[doc_id]
                mask[lo:hi] = [1.0 if filters.allows(c) else 0.0 for c in self.chunks[lo:hi]]
            if not mask.any():
                return []
        elif filters.exclude:  # all rows but the excluded documents'
            mask = np.ones(len(self.chunks))
            for doc_id in filters.exclude:
                if (rows := self.doc_rows.get(doc_id)) is not None:
                    mask[rows[0] : rows[1]] = 0.0
        docs, scores = self.bm25.retrieve(
            [tokens], k=min(k, len(self.chunks)), show_progress=False, weight_mask=mask
        )
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def dense(self, query: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        if not self.n_chunks:
            return []
        allowed = self.doc_ids_for(filters)
        if allowed == []:
            return []
        vector = self.embedder.embed_query(query)
        # The collection may also hold vectors of a state being written or just replaced:
        # ask for a few more, and keep only the ones this state's entries name.
        n = min(k + DENSE_SLACK, self.n_chunks + DENSE_SLACK)
        if allowed is None and filters.exclude:
            # Excluding a few documents of many: Chroma's own filter would walk the metadata
            # of every document allowed, so first ask unfiltered for more results (as many
            # more as the excluded rows, up to EXCLUDE_BY_WIDENING times as many) and drop
            # the excluded ones; only when too few are left, let Chroma filter.
            rows = sum(len(self.doc_chunks.get(d, ())) for d in set(filters.exclude))
            wide = n + min(rows, EXCLUDE_BY_WIDENING * n)
            out, full = self._nearest(vector, wide, None, filters)
            if len(out) < k and full:
                out, _ = self._nearest(
                    vector, n, {"doc_id": {"$nin": list(filters.exclude)}}, filters
                )
        else:
            where = None if allowed is None else {"doc_id": {"$in": allowed}}
            out, _ = self._nearest(vector, n, where, filters)
        return out[:k]

    def _nearest(
        self, vector: list[float], n: int, where: dict | None, filters: Filters
    ) -> tuple[list[tuple[int, float]], bool]:
        """The ``n`` nearest vectors as (row, cosine) of this state's rows that ``filters``
        allow, and whether Chroma returned all ``n`` (more might pass the filter)."""
        got = self.collection.query(
            query_embeddings=[vector],
            n_results=n,
            where=where,
            include=["distances", "metadatas"],
        )
        out = []
        rows = zip(got["ids"][0], got["distances"][0], got["metadatas"][0], strict=True)
        for vid, dist, meta in rows:
            i = self.row_of(vid, (meta or {}).get("doc_id"))
            if i is not None and filters.allows(self.chunks[i]):
                out.append((i, 1.0 - float(dist)))
        return out, len(got["ids"][0]) >= n


class IDF(Mapping[str, float]):
    """term → BM25's (Lucene) IDF, computed from the document frequencies when asked for."""

    __slots__ = ("_df", "_n")

    def __init__(self, df: Mapping[str, int], n: int):
        self._df = df
        self._n = n

    def __getitem__(self, term: str) -> float:
        c = self._df[term]
        return math.log(1 + (self._n - c + 0.5) / (c + 0.5))

    def __contains__(self, term: object) -> bool:
        return term in self._df

    def __iter__(self) -> Iterator[str]:
        return iter(self._df)

    def __len__(self) -> int:
        return len(self._df)


class Vocabulary:
    """Words worth finding inside a question even when jieba splits it differently: the
    corpus's words and the domain dictionary's, of two characters or more, neither ASCII nor
    stopwords. Membership only (built in no time)."""

    __slots__ = ("_df", "_domain")

    def __init__(self, df: Mapping[str, int], domain: list[str]):
        self._df = df
        self._domain = frozenset(domain)

    def __contains__(self, term: object) -> bool:
        return (
            isinstance(term, str)
            and len(term) >= 2
            and not term.isascii()
            and term not in STOPWORDS
            and (term in self._df or term in self._domain)
        )


def _built_corrector(reader: IndexReader | None) -> Corrector | None:
    """A state's spelling table if it was built, else the one it would have been built from."""
    if reader is None:
        return None
    return reader.__dict__.get("corrector") or reader._corrector_base


def _layered(counts: Mapping[str, int]) -> Layered:
    """(a snapshot written before counts were layered holds a plain Counter)"""
    return counts if isinstance(counts, Layered) else Layered(counts)


def _snapshot(reader: IndexReader) -> None:
    try:
        reader.write_snapshot()
    except Exception:  # only a slower next start
        log.exception("could not save the index snapshot")


class Retriever:
    """``retrieve(query, top_k, filters) -> list[Hit]`` over the current index state.

    ``reader`` is the current state. When another process (or ``index``) commits an update,
    the next request notices the manifest's change and starts loading the new state in the
    background; requests keep being answered from the old state until the new one is ready —
    nobody waits for a load, and an old state lives as long as a request uses it."""

    RETRY_S = 2.0  # after a failed background load

    def __init__(self, settings: Settings):
        self.settings = settings
        self._reader: IndexReader | None = None
        self._stamp: Stamp | None = None  # which manifest file the reader was loaded from
        # the manifest file's content as last parsed (or committed here) with its stamp, one
        # attribute assigned at once: a stat-only rewrite keeps the reader (same generation)
        # but not its copy of the manifest
        self._known: tuple[dict, Stamp] | None = None
        self._lock = threading.Lock()  # one load at a time
        self._loading = False
        self._failed_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieve")

    def _manifest_stamp(self) -> Stamp:
        stamp = manifest_stamp(Path(self.settings.index_dir))
        if stamp is None:
            raise IndexNotReadyError(str(self.settings.index_dir))
        return stamp

    def known(self) -> tuple[dict, Stamp] | None:
        """The current state's manifest and the stamp of the file it was read from, for an
        update in this process (``IndexBuilder(known=…)``) to skip reading it again."""
        return self._known

    @property
    def current(self) -> IndexReader | None:
        """The state in memory, if any (without looking for a newer one)."""
        return self._reader

    @property
    def reader(self) -> IndexReader:
        stamp = self._manifest_stamp()
        current = self._reader
        if current is None:
            with self._lock:
                if self._reader is None:
                    self._load()
                return self._reader  # type: ignore[return-value]
        if stamp != self._stamp and not self._loading:
            if time.monotonic() - self._failed_at >= self.RETRY_S:
                self._loading = True
                threading.Thread(target=self._load_in_background, daemon=True).start()
        return current

    def refresh(
        self,
        committed: tuple[dict, Stamp] | None = None,
        delta: tuple[dict, frozenset[str]] | None = None,
    ) -> IndexReader:
        """Load the committed state now (after this process's own update), so that the next
        question is answered from it; ``committed`` — the manifest the update wrote and its
        stamp (``IndexBuilder.committed``), used while the file is still that commit;
        ``delta`` — what that commit changed (``IndexBuilder.delta``): when it is relative to
        the state in memory, only those records are looked at."""
        with self._lock:
            self._load(committed, delta)
            return self._reader  # type: ignore[return-value]

    def _load_in_background(self) -> None:
        try:
            with self._lock:
                self._load()
        except Exception:
            self._failed_at = time.monotonic()
            log.exception("could not load the updated index; still answering from the old one")
        finally:
            self._loading = False

    def _load(
        self,
        committed: tuple[dict, Stamp] | None = None,
        delta: tuple[dict, frozenset[str]] | None = None,
    ) -> None:
        index_dir = Path(self.settings.index_dir)
        for attempt in range(3):
            stamp = self._manifest_stamp()
            if committed is not None and attempt == 0 and committed[1] == stamp:
                manifest = committed[0]  # the file is the commit just written: no re-parse
            else:
                manifest, delta = read_manifest(index_dir), None
            if manifest is None:
                raise IndexNotReadyError(str(index_dir))
            if manifest.get("version") != MANIFEST_VERSION:
                raise IndexCorruptError(
                    str(index_dir), "索引由旧版本建立，请运行 policy-assistant index 重建"
                )
            if self._reader is not None and manifest["generation"] == self._reader.generation:
                self._stamp, self._known = stamp, (manifest, stamp)
                return
            base = self._reader
            try:
                if base is None:  # a start: from the structures saved last, when there are
                    base = self._from_snapshot(manifest)
                if base is not None and base.generation == manifest["generation"]:
                    reader = base
                elif (
                    delta is not None
                    and base is not None
                    and base is self._reader
                    and delta[0].get("generation") == base.generation
                ):  # this process's own update of the state in memory: its records only
                    entries = dict(base.entries)
                    old_files, new_files = delta[0].get("files", {}), manifest.get("files", {})
                    for rel in delta[1]:
                        rec = old_files.get(rel)
                        if rec and rec.get("entry") and not rec.get("error"):
                            entries.pop(rec["entry"], None)
                    for rel in delta[1]:
                        rec = new_files.get(rel)
                        name = rec.get("entry") if rec and not rec.get("error") else None
                        if name:
                            entries[name] = base.entries.get(name) or read_entry(index_dir, name)
                    reader = IndexReader(
                        self.settings, manifest, entries, previous=base, exactly=True
                    )
                else:  # the change since the state in memory (or the saved one)
                    known = base.entries if base is not None else {}
                    entries = {}
                    for rec in manifest.get("files", {}).values():
                        name = rec.get("entry")
                        if name and not rec.get("error"):
                            entries[name] = known.get(name) or read_entry(index_dir, name)
                    reader = IndexReader(self.settings, manifest, entries, previous=base)
                    if self._reader is None:  # a start: save the state for the next start
                        threading.Thread(target=_snapshot, args=(reader,), daemon=True).start()
            except FileNotFoundError:
                if attempt < 2:  # a newer commit retired an entry meanwhile: read it again
                    continue
                raise IndexCorruptError(str(index_dir), "文档条目文件缺失") from None
            except AssistantError:
                raise
            except Exception as exc:  # bad JSON, a dropped collection
                raise IndexCorruptError(str(index_dir), f"{type(exc).__name__}: {exc}") from exc
            self._reader, self._stamp, self._known = reader, stamp, (manifest, stamp)
            # Millions of long-lived objects (chunks, entries, tables) would make every full
            # garbage collection walk them all — a pause that grows with the corpus, landing
            # in whichever request or update happens to trigger it. Freezing moves what exists
            # now out of the collector's sight; reference counting still frees an old state
            # (it holds no reference cycles).
            gc.freeze()
            return

    def _from_snapshot(self, manifest: dict) -> IndexReader | None:
        """The saved state: the current one, or an earlier one that the change since is then
        applied to (a server restarted soon after an upload, before it saved the new state).
        ``None`` when there is none or it no longer opens (its collection was replaced)."""
        snap = IndexReader.read_snapshot(self.settings)
        if snap is None:
            return None
        saved, entries, derived = snap
        if saved.get("collection") != manifest.get("collection"):
            return None  # a rebuild into a fresh collection: nothing to carry over
        try:
            return IndexReader(self.settings, saved, entries, derived)
        except Exception:  # only a slower start
            log.exception("could not open the saved index state; combining the entries")
            return None

    def retrieve_scored(
        self,
        query: str,
        top_k: int = 5,
        filters: Filters | None = None,
        extra_terms: str = "",
        reader: IndexReader | None = None,
    ) -> list[Scored]:
        reader = reader or self.reader
        filters = filters or Filters()
        tokens = search_tokens(f"{query} {extra_terms}".strip())
        dense_f = self._pool.submit(reader.dense, dense_query(query), CANDIDATES, filters)
        kw = reader.keyword(tokens, CANDIDATES, filters)
        dn = dense_f.result()
        dense_score = dict(dn)
        kw_score = dict(kw)
        fused = reciprocal_rank_fusion(
            [[i for i, _ in kw], [i for i, _ in dn]],
            k=self.settings.rrf_k,
            weights=[1.0, self.settings.dense_weight],
        )
        out = []
        for idx, score in fused[:top_k]:
            chunk = reader.chunks[idx]
            out.append(
                Scored(
                    hit=Hit.from_chunk(chunk, round(score, 4)),
                    chunk=chunk,
                    dense=dense_score.get(idx, 0.0),
                    bm25=kw_score.get(idx, 0.0),
                )
            )
        return out

    def retrieve(
        self,
        query: str,
        top_k: int = 5,
        filters: Filters | None = None,
        reader: IndexReader | None = None,
    ) -> list[Hit]:
        return [s.hit for s in self.retrieve_scored(query, top_k, filters, reader=reader)]
