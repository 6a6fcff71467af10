"""Hybrid retrieval: BM25 (bm25s over jieba tokens) ∥ dense (Chroma, cosine) → RRF.

``IndexReader`` opens the generation the manifest points at and notices when a new build
swaps it, so a running server picks up re-indexing without a restart.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from .config import Settings
from .embed import get_embedder
from .errors import AssistantError, IndexCorruptError, IndexNotReadyError
from .fusion import reciprocal_rank_fusion
from .index import MANIFEST, read_manifest
from .models import Chunk, Hit
from .spelling import Corrector
from .store import get_client, get_collection
from .text import STOPWORDS, add_terms, load_dictionary, search_tokens

CANDIDATES = 20
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
    doc_ids: tuple[str, ...] = ()
    year: int | None = None

    def allows(self, chunk: Chunk) -> bool:
        if self.doc_ids and chunk.doc_id not in self.doc_ids:
            return False
        return self.year is None or chunk.year == self.year

    def chroma_where(self) -> dict | None:
        clauses = []
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        if self.year is not None:
            clauses.append({"year": self.year})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class Scored:
    """A hit with the raw signals the answerer weighs (fused score alone hides them)."""

    hit: Hit
    chunk: Chunk
    dense: float  # cosine similarity, 0 when not in the dense top list
    bm25: float


class IndexReader:
    """A loaded generation: chunk table, BM25, Chroma collection, IDF statistics."""

    def __init__(self, settings: Settings, manifest: dict):
        self.settings = settings
        self.manifest = manifest
        self.generation = manifest["generation"]
        gen_dir = Path(settings.index_dir) / "gen" / self.generation
        with open(gen_dir / "chunks.jsonl", encoding="utf-8") as fh:
            self.chunks = [Chunk.model_validate_json(line) for line in fh if line.strip()]
        with open(gen_dir / "tokens.jsonl", encoding="utf-8") as fh:
            self.tokens = [json.loads(line) for line in fh if line.strip()]
        terms_file = gen_dir / "terms.txt"
        domain = load_dictionary(Path(settings.corpus_dir))
        if terms_file.is_file():
            domain += terms_file.read_text(encoding="utf-8").splitlines()
            add_terms(domain)
        self.bm25 = (
            bm25s.BM25.load(str(gen_dir / "bm25"), show_progress=False) if self.chunks else None
        )
        self.by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.collection = get_collection(get_client(settings), manifest["collection"])
        self.embedder = get_embedder(settings)
        df: Counter[str] = Counter()
        for toks in self.tokens:
            df.update(set(toks))
        n = max(len(self.tokens), 1)
        self.df = df
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.full_text = "\n".join(c.text for c in self.chunks)
        from .answering.scope import CorpusScope

        self.scope = CorpusScope.from_manifest(manifest)
        self.doc_chunks: dict[str, list[Chunk]] = {}
        for c in self.chunks:
            self.doc_chunks.setdefault(c.doc_id, []).append(c)
        self.years = {c.year for c in self.chunks if c.year}
        self.vocab_by_length: dict[int, list[str]] = {}
        for term in df:  # for typo matching, which compares words of equal length
            self.vocab_by_length.setdefault(len(term), []).append(term)
        self.corrector = Corrector([*df.keys(), *domain])
        # words worth finding inside a question even when jieba splits it differently
        self.vocabulary = frozenset(
            t
            for t in [*df.keys(), *domain]
            if len(t) >= 2 and not t.isascii() and t not in STOPWORDS
        )

    # -- the two retrievers ----------------------------------------------------------------

    def keyword(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[int, float]]:
        if not self.bm25 or not tokens:
            return []
        mask = None
        if filters.doc_ids or filters.year is not None:
            mask = np.array([1 if filters.allows(c) else 0 for c in self.chunks], dtype=float)
            if not mask.any():
                return []
        docs, scores = self.bm25.retrieve(
            [tokens], k=min(k, len(self.chunks)), show_progress=False, weight_mask=mask
        )
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def dense(self, query: str, k: int, filters: Filters) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        vector = self.embedder.embed_query(query)
        got = self.collection.query(
            query_embeddings=[vector],
            n_results=min(k, len(self.chunks)),
            where=filters.chroma_where(),
            include=["distances"],
        )
        out = []
        for cid, dist in zip(got["ids"][0], got["distances"][0], strict=True):
            if cid in self.by_id:
                out.append((self.by_id[cid], 1.0 - float(dist)))
        return out


class Retriever:
    """``retrieve(query, top_k, filters) -> list[Hit]`` over the current index generation."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._reader: IndexReader | None = None
        self._mtime: float | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieve")

    @property
    def reader(self) -> IndexReader:
        path = Path(self.settings.index_dir) / MANIFEST
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise IndexNotReadyError(str(self.settings.index_dir)) from None
        with self._lock:
            if self._reader is None or mtime != self._mtime:
                manifest = read_manifest(Path(self.settings.index_dir))
                if manifest is None:
                    raise IndexNotReadyError(str(self.settings.index_dir))
                if self._reader is None or manifest.get("generation") != self._reader.generation:
                    try:
                        self._reader = IndexReader(self.settings, manifest)
                    except AssistantError:
                        raise
                    except Exception as exc:  # missing files, a dropped collection, bad JSON
                        raise IndexCorruptError(
                            str(self.settings.index_dir), f"{type(exc).__name__}: {exc}"
                        ) from exc
                self._mtime = mtime
            return self._reader

    def retrieve_scored(
        self, query: str, top_k: int = 5, filters: Filters | None = None, extra_terms: str = ""
    ) -> list[Scored]:
        reader = self.reader
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

    def retrieve(self, query: str, top_k: int = 5, filters: Filters | None = None) -> list[Hit]:
        return [s.hit for s in self.retrieve_scored(query, top_k, filters)]
