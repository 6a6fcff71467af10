"""BM25 for a live index: bm25s's scoring, over term counts kept in segments so that adding or
removing a document costs work in proportion to that document.

A bm25s index precomputes one sparse matrix of ``idf × tf-part`` scores. Its IDF and average
length are corpus-wide, so with precomputed scores any change alters every one of them — an
update would redo the whole matrix. Here the matrix holds only the *counts* (per term, which
rows hold it and how often), and the formula is applied at query time to the few posting lists
a question touches, with the current IDF and average length: exact after every change.

The counts live in immutable **segments** (as in Lucene): each covers the rows of the documents
added together, laid out by term. An update adds one small segment for its new documents, marks
the rows of removed documents dead, and adjusts the term frequencies by the changed documents'
counts; adjacent segments of similar size are merged (rebuilt from their live documents'
counts), so there are O(log n) of them and each posting is rebuilt O(log n) times over its life.
Rows are the reader's (``IndexReader``): stable across updates, so segments never renumber.

The scores are bm25s's default variant (Lucene IDF and term part, k1 = 1.5, b = 0.75), equal to
what ``bm25s.BM25().index(tokens)`` gives for the same tokens (tested); top-k is bm25s's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from bm25s.selection import topk

K1 = 1.5  # bm25s's defaults
B = 0.75
DTYPE = np.float32
COMPACT_STALE = 0.5  # renumber terms when more than half the vocabulary is in no document
MERGE_RATIO = 4  # merge a segment into the one before it once it is within 1/4 of its size
DEAD_REBUILD = 0.5  # rebuild a segment when more than half its postings belong to removed rows


@dataclass(frozen=True)
class TermCounts:
    """One document's chunks as rows of (term id, count): ``ids``/``tfs`` are the rows laid
    end to end, ``widths[i]`` how many belong to chunk i, ``lengths[i]`` its token count."""

    ids: np.ndarray  # int32
    tfs: np.ndarray  # float32
    widths: np.ndarray  # int32
    lengths: np.ndarray  # int32

    @classmethod
    def of(cls, tokens: list[list[str]], vocab: dict[str, int]) -> TermCounts:
        """Counts of one document's chunk tokens; terms new to ``vocab`` are added to it."""
        ids: list[int] = []
        tfs: list[int] = []
        widths, lengths = [], []
        for toks in tokens:
            counts = Counter(toks)
            for term, tf in counts.items():
                tid = vocab.get(term)
                if tid is None:
                    tid = vocab[term] = len(vocab)
                ids.append(tid)
                tfs.append(tf)
            widths.append(len(counts))
            lengths.append(len(toks))
        return cls(
            np.asarray(ids, dtype=np.int32),
            np.asarray(tfs, dtype=np.float32),
            np.asarray(widths, dtype=np.int32),
            np.asarray(lengths, dtype=np.int32),
        )

    @property
    def rows(self) -> int:
        return len(self.widths)

    def renumbered(self, new_id: np.ndarray) -> TermCounts:
        return TermCounts(new_id[self.ids], self.tfs, self.widths, self.lengths)


@dataclass(frozen=True)
class _Segment:
    """The counts of some documents' rows, by term: for term ``t``, ``rows[indptr[t]:
    indptr[t + 1]]`` hold it ``tfs[…]`` times. Immutable; terms numbered after it was built
    have no postings in it."""

    keys: frozenset[str]
    indptr: np.ndarray
    rows: np.ndarray  # int32, the reader's row numbers
    tfs: np.ndarray  # float32

    @classmethod
    def build(cls, docs: list[tuple[str, int, TermCounts]], n_terms: int) -> _Segment:
        """From (key, first row, counts) of each document."""
        if docs:
            ids = np.concatenate([c.ids for _, _, c in docs])
            tfs = np.concatenate([c.tfs for _, _, c in docs])
            rows = np.concatenate(
                [np.repeat(np.arange(r, r + c.rows, dtype=np.int32), c.widths) for _, r, c in docs]
            )
        else:
            ids = rows = np.zeros(0, np.int32)
            tfs = np.zeros(0, np.float32)
        csc = sp.csc_matrix(
            (tfs, (rows, ids)), shape=(int(rows.max(initial=-1)) + 1, n_terms), dtype=DTYPE
        )
        return cls(
            frozenset(k for k, _, _ in docs),
            csc.indptr,
            csc.indices.astype(np.int32, copy=False),
            csc.data,
        )

    @property
    def size(self) -> int:
        return len(self.rows)

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        if tid + 1 >= len(self.indptr):
            return self.rows[:0], self.tfs[:0]
        lo, hi = self.indptr[tid], self.indptr[tid + 1]
        return self.rows[lo:hi], self.tfs[lo:hi]


class Results(NamedTuple):  # as bm25s's ``retrieve`` returns
    documents: np.ndarray
    scores: np.ndarray


class TermFrequencies(Mapping[str, int]):
    """term → how many chunks hold it, over a term-id table and an array of counts; a term
    in no chunk (left by a deleted document until the terms are renumbered) is absent."""

    __slots__ = ("_terms", "_df")

    def __init__(self, terms: dict[str, int], df: np.ndarray):
        self._terms = terms
        self._df = df

    def __getitem__(self, term: str) -> int:
        i = self._terms.get(term)
        count = int(self._df[i]) if i is not None else 0
        if not count:
            raise KeyError(term)
        return count

    def __contains__(self, term: object) -> bool:
        i = self._terms.get(term)  # type: ignore[call-overload]
        return i is not None and bool(self._df[i])

    def __iter__(self) -> Iterator[str]:
        df = self._df
        return (t for t, i in self._terms.items() if df[i])

    def __len__(self) -> int:
        return int(np.count_nonzero(self._df))


class LiveBM25:
    """BM25 over the given documents' rows, reusing a previous index's counts, vocabulary and
    segments for the documents it already had at the same rows."""

    k1 = K1
    b = B

    def __init__(
        self,
        rows: Mapping[str, int],
        tokens_of: Callable[[str], list[list[str]] | None],
        n_rows: int,
        previous: LiveBM25 | None = None,
        same_rows: bool = False,
    ):
        """``rows`` — each document's first row, by key; a key names one immutable version of
        a document (its entry), so equal keys mean equal tokens. ``tokens_of(key)`` — its
        chunks' tokens, asked for only for documents the previous index lacks. ``n_rows`` — the
        reader's row count (rows no document holds score 0). ``same_rows`` — the caller
        vouches that the documents ``previous`` had kept their rows (else each is compared)."""
        old = previous.counts if previous is not None else {}
        removed = list(old.keys() - rows.keys())
        added = [k for k in rows.keys() - old.keys()]
        # copies: the previous index keeps answering with its own tables meanwhile (dict
        # copies and key-set differences run at C speed; only the change is looped over). The
        # vocabulary — the largest table — is shared when no document is added (only added
        # documents' terms extend it; renumbering makes a new one)
        if previous is None:
            vocab: dict[str, int] = {}
        else:
            vocab = dict(previous.terms) if added else previous.terms
        counts = dict(old)
        first = dict(previous.first_row) if previous is not None else {}
        relaid = previous is None or n_rows < previous.n_rows
        if not relaid and not same_rows:
            relaid = any(first[k] != r for k, r in rows.items() if k in first)
        for key in removed:
            del counts[key], first[key]
        for key in added:
            toks = tokens_of(key)
            if toks is None:  # an entry loaded from a snapshot, which keeps no tokens
                raise ValueError(f"no term counts nor tokens for {key!r}")
            counts[key], first[key] = TermCounts.of(toks, vocab), rows[key]
        if relaid:
            first = dict(rows)
        self.counts, self.terms, self.first_row = counts, vocab, first
        self.n_rows = n_rows
        if relaid or len(removed) * 2 > len(old):
            self._rebuild()
        else:
            self._update(previous, sorted(added, key=rows.__getitem__), removed)
        if self.stale_terms > COMPACT_STALE * len(vocab) and self.stale_terms > 1000:
            self._compact()

    # -- building ----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        n_terms = len(self.terms)
        parts = [(k, self.first_row[k], c) for k, c in self.counts.items()]
        self.segments = [_Segment.build(parts, n_terms)] if parts else []
        self._alive = np.zeros(self.n_rows, dtype=DTYPE)
        self._lengths = np.zeros(self.n_rows, dtype=DTYPE)
        df = np.zeros(n_terms, dtype=np.int64)
        for _k, r, c in parts:
            self._alive[r : r + c.rows] = 1
            self._lengths[r : r + c.rows] = c.lengths
        if parts:
            df += np.bincount(np.concatenate([c.ids for _, _, c in parts]), minlength=n_terms)
        self._df = df
        self._n_live = int(sum(c.rows for _, _, c in parts))
        self._total_len = float(sum(int(c.lengths.sum()) for _, _, c in parts))

    def _update(self, previous: LiveBM25, added: list[str], removed: list[str]) -> None:
        n_terms = len(self.terms)
        alive = np.zeros(self.n_rows, dtype=DTYPE)
        lengths = np.zeros(self.n_rows, dtype=DTYPE)
        keep = min(self.n_rows, len(previous._alive))
        alive[:keep] = previous._alive[:keep]
        lengths[:keep] = previous._lengths[:keep]
        df = np.zeros(n_terms, dtype=np.int64)
        df[: len(previous._df)] = previous._df
        n_live, total = previous._n_live, previous._total_len
        for key in removed:
            c, r = previous.counts[key], previous.first_row[key]
            alive[r : r + c.rows] = 0
            np.subtract.at(df, c.ids, 1)
            n_live -= c.rows
            total -= float(c.lengths.sum())
        for key in added:
            c, r = self.counts[key], self.first_row[key]
            alive[r : r + c.rows] = 1
            lengths[r : r + c.rows] = c.lengths
            np.add.at(df, c.ids, 1)
            n_live += c.rows
            total += float(c.lengths.sum())
        self._alive, self._lengths, self._df = alive, lengths, df
        self._n_live, self._total_len = n_live, total
        gone = set(removed)
        segments = []
        for seg in previous.segments:
            if gone & seg.keys:  # rows of removed documents are dead (``_alive`` is 0)
                live = [k for k in seg.keys if k in self.counts]
                if not live:
                    continue
                if len(seg.keys) - len(live) > DEAD_REBUILD * len(seg.keys):
                    seg = self._segment_of(live)
            segments.append(seg)
        if added:
            segments.append(self._segment_of(added))
        while len(segments) >= 2 and segments[-2].size <= MERGE_RATIO * segments[-1].size:
            last, before = segments.pop(), segments.pop()
            keys = [k for k in (*before.keys, *last.keys) if k in self.counts]
            segments.append(self._segment_of(keys))
        self.segments = segments

    def _segment_of(self, keys: list[str]) -> _Segment:
        return _Segment.build(
            [(k, self.first_row[k], self.counts[k]) for k in keys], len(self.terms)
        )

    def _compact(self) -> None:
        live = np.flatnonzero(self._df > 0)
        new_id = np.full(len(self.terms), -1, dtype=np.int32)
        new_id[live] = np.arange(len(live), dtype=np.int32)
        self.terms = {t: int(new_id[i]) for t, i in self.terms.items() if new_id[i] >= 0}
        self.counts = {k: c.renumbered(new_id) for k, c in self.counts.items()}
        self._rebuild()

    # -- reading -----------------------------------------------------------------------------

    def document_frequencies(self) -> TermFrequencies:
        """How many chunks hold each term (the DF under the IDF), by term: a read-only view
        of this index's counts (made in no time; iterating it walks the vocabulary)."""
        return TermFrequencies(self.terms, self._df)

    @property
    def stale_terms(self) -> int:
        return int(np.count_nonzero(self._df == 0))

    @property
    def num_docs(self) -> int:
        """Chunks indexed (the N of the IDF; rows of removed documents are not counted)."""
        return self._n_live

    def get_scores(self, query_tokens: list[str], weight_mask: np.ndarray | None = None):
        """Each row's BM25 score for the tokens (a repeated token counts again, unknown
        tokens not at all), as bm25s scores them; ``weight_mask`` multiplies the scores."""
        scores = np.zeros(self.n_rows, dtype=DTYPE)
        n = self._n_live
        if n:
            avg_len = DTYPE(self._total_len / n)
            for term in query_tokens:
                tid = self.terms.get(term)
                if tid is None or not self._df[tid]:
                    continue
                df = self._df[tid]
                idf = DTYPE(np.log1p((n - df + 0.5) / (df + 0.5)))
                for seg in self.segments:
                    rows, tfs = seg.postings(tid)
                    if len(rows):
                        norm = self.k1 * ((1 - self.b) + self.b * self._lengths[rows] / avg_len)
                        scores[rows] += idf * (tfs / (norm.astype(DTYPE) + tfs))
            scores *= self._alive
        if weight_mask is not None:
            scores *= weight_mask.astype(DTYPE, copy=False)
        return scores

    def retrieve(
        self,
        query_tokens: list[list[str]],
        k: int = 10,
        show_progress: bool = False,
        weight_mask: np.ndarray | None = None,
    ) -> Results:
        """Top ``k`` rows per question, best first, with their scores (bm25s's top-k)."""
        if k > self.n_rows:
            raise ValueError(f"k={k} exceeds the {self.n_rows} rows indexed")
        docs, scores = [], []
        for q in query_tokens:
            s, i = topk(self.get_scores(q, weight_mask), k, backend="numpy", sorted=True)
            docs.append(i)
            scores.append(s)
        return Results(np.asarray(docs), np.asarray(scores))
