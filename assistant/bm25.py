"""BM25 for a live index: bm25s's scorer, with its score matrix assembled from per-document
term counts instead of recomputed from every token of the corpus.

A bm25s index is one sparse matrix of precomputed scores (``idf × tf-part`` per chunk and
term). Its IDF and average length are corpus-wide, so any change alters every score — but the
*counts* under them do not change: each document's chunks keep their (term, count) rows,
computed once, and a new state only concatenates them and applies the formula, vectorised.
``LiveBM25`` is a ``bm25s.BM25`` whose score matrix (what bm25s's ``build_index_from_ids``
returns, which its docs invite overriding) is assembled that way; querying (``retrieve``,
``weight_mask``, top-k) stays bm25s's.

The scores are bm25s's default variant (Lucene IDF and term part, k1 = 1.5, b = 0.75), equal to
what ``bm25s.BM25().index(tokens)`` gives for the same tokens (tested).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import bm25s
import numpy as np
import scipy.sparse as sp

COMPACT_STALE = 0.5  # renumber terms when more than half the vocabulary is in no document


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

    def renumbered(self, new_id: np.ndarray) -> TermCounts:
        return TermCounts(new_id[self.ids], self.tfs, self.widths, self.lengths)


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


class LiveBM25(bm25s.BM25):
    """A bm25s index of the given documents' term counts (in order), reusing the counts and
    vocabulary of a previous one for documents it already had."""

    def __init__(
        self,
        docs: list[tuple[str, list[list[str]] | None]],
        previous: LiveBM25 | None = None,
    ):
        """``docs`` — (key, chunk tokens) per document, in chunk order; a key names one
        immutable version of a document (its entry), so equal keys mean equal tokens."""
        super().__init__()
        old = previous.counts if previous is not None else {}
        # a copy: the previous index keeps answering with its own vocabulary meanwhile
        vocab = dict(previous.terms) if previous is not None else {}
        counts = {}
        for key, toks in docs:
            if key in old:
                counts[key] = old[key]
            elif toks is None:  # an entry loaded from a snapshot, which keeps no tokens
                raise ValueError(f"no term counts nor tokens for {key!r}")
            else:
                counts[key] = TermCounts.of(toks, vocab)
        self.counts = counts
        self.terms = vocab
        parts = [counts[key] for key, _ in docs]
        self._assemble(parts)
        if self.stale_terms > COMPACT_STALE * len(vocab) and self.stale_terms > 1000:
            self._compact(docs)

    def document_frequencies(self) -> TermFrequencies:
        """How many chunks hold each term (the DF under the IDF), by term: a read-only view
        of this index's counts (made in no time; iterating it walks the vocabulary)."""
        return TermFrequencies(self.terms, self._df)

    @property
    def stale_terms(self) -> int:
        return int(np.count_nonzero(self._df == 0))

    def _compact(self, docs: list[tuple[str, list[list[str]]]]) -> None:
        live = np.flatnonzero(self._df > 0)
        new_id = np.full(len(self.terms), -1, dtype=np.int32)
        new_id[live] = np.arange(len(live), dtype=np.int32)
        self.terms = {t: int(new_id[i]) for t, i in self.terms.items() if new_id[i] >= 0}
        self.counts = {k: c.renumbered(new_id) for k, c in self.counts.items()}
        self._assemble([self.counts[key] for key, _ in docs])

    def _assemble(self, parts: list[TermCounts]) -> None:
        n_vocab = len(self.terms)
        if parts:
            ids = np.concatenate([p.ids for p in parts])
            tfs = np.concatenate([p.tfs for p in parts])
            widths = np.concatenate([p.widths for p in parts])
            lengths = np.concatenate([p.lengths for p in parts])
        else:
            ids = np.zeros(0, np.int32)
            tfs = np.zeros(0, np.float32)
            widths = lengths = np.zeros(0, np.int32)
        n_docs = len(widths)
        rows = np.repeat(np.arange(n_docs, dtype=np.int32), widths)
        df = np.bincount(ids, minlength=n_vocab)
        self._df = df
        avg_len = float(lengths.mean()) if n_docs else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            idf = np.where(df > 0, np.log1p((n_docs - df + 0.5) / (df + 0.5)), 0.0).astype(
                self.dtype
            )
        # the length part per chunk, then spread over its terms (in float32, as bm25s stores)
        norm = (self.k1 * ((1 - self.b) + self.b * lengths / avg_len)).astype(self.dtype)
        spread = np.repeat(norm, widths)
        data = idf[ids] * (tfs / (spread + tfs))
        matrix = sp.csc_matrix((data, (rows, ids)), shape=(n_docs, n_vocab), dtype=self.dtype)
        self.nonoccurrence_array = None  # the Lucene variant has none
        self.scores = {
            "data": matrix.data,
            "indices": matrix.indices.astype(self.int_dtype, copy=False),
            "indptr": matrix.indptr,
            "num_docs": n_docs,
        }
        # bm25s scores a question of unknown words against an empty term, kept last
        self.vocab_dict = self.terms if "" in self.terms else {**self.terms, "": n_vocab}
        self.unique_token_ids_set = set(self.vocab_dict.values())
