"""The live BM25 scores exactly as bm25s does over the same tokens — after a fresh build, after
documents come and go (their rows kept, removed ones left as holes), after segments merge, and
after its vocabulary is renumbered."""

from __future__ import annotations

import random
from collections import Counter

import bm25s
import numpy as np
import pytest

from assistant.bm25 import LiveBM25
from assistant.text import search_tokens


def _docs(seed: int, n: int, prefix: str = "d") -> list[tuple[str, list[list[str]]]]:
    rng = random.Random(seed)
    words = [f"词{i}" for i in range(2000)]
    return [
        (
            f"{prefix}{d}",
            [
                [rng.choice(words[: rng.randint(3, 2000)]) for _ in range(rng.randint(1, 50))]
                for _ in range(rng.randint(1, 20))
            ],
        )
        for d in range(n)
    ]


def _reference(docs) -> bm25s.BM25:
    ref = bm25s.BM25()
    ref.index([t for _, chunks in docs for t in chunks], show_progress=False)
    return ref


QUERIES = [["词1", "词7", "词300"], ["词1999"], ["没有的词"], ["词0", "词0", "词2"]]


class Layout:
    """Rows as the index reader lays them out: a document keeps its rows while it lives, new
    ones are appended, a removed one's rows stay empty."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.n_rows = 0
        self.live: LiveBM25 | None = None

    def index(self, docs) -> LiveBM25:
        keep = {k for k, _ in docs}
        self.rows = {k: r for k, r in self.rows.items() if k in keep}
        tokens = dict(docs)
        for key, chunks in docs:
            if key not in self.rows:
                self.rows[key] = self.n_rows
                self.n_rows += len(chunks)
        self.live = LiveBM25(self.rows, tokens.__getitem__, self.n_rows, self.live)
        return self.live


def _fresh(docs) -> LiveBM25:
    return Layout().index(docs)


def _assert_same(live: LiveBM25, ref: bm25s.BM25, docs) -> None:
    """Scores of the live rows equal bm25s's over ``docs`` (in that order); other rows 0."""
    where = np.concatenate(
        [np.arange(live.first_row[k], live.first_row[k] + len(c)) for k, c in docs]
    ).astype(int)
    assert live.num_docs == ref.scores["num_docs"]
    for q in QUERIES:
        got, want = live.get_scores(q), ref.get_scores(q)
        np.testing.assert_allclose(got[where], want, rtol=1e-5, atol=1e-6)
        assert not np.delete(got, where).any()
        k = min(5, ref.scores["num_docs"])
        d_live, s_live = live.retrieve([q], k=k, show_progress=False)
        d_ref, s_ref = ref.retrieve([q], k=k, show_progress=False)
        np.testing.assert_allclose(s_live, s_ref, rtol=1e-5)
        mask = np.zeros(live.n_rows)
        mask[where[::2]] = 1
        ref_mask = np.zeros(len(where))
        ref_mask[::2] = 1
        np.testing.assert_allclose(
            live.get_scores(q, mask)[where], ref.get_scores(q, ref_mask), rtol=1e-5, atol=1e-6
        )


def test_a_fresh_build_scores_as_bm25s():
    docs = _docs(1, 120)
    _assert_same(_fresh(docs), _reference(docs), docs)


def test_real_policy_tokens_score_as_bm25s(bundled_chunks):
    docs = [("bundled", [search_tokens(c.text) for c in bundled_chunks])]
    live, ref = _fresh(docs), _reference(docs)
    for q in (search_tokens("创新券最多能拿多少"), search_tokens("研发投入增长目标")):
        np.testing.assert_allclose(live.get_scores(q), ref.get_scores(q), rtol=1e-5, atol=1e-6)
        assert live.get_scores(q).max() > 0


def test_documents_added_and_removed_reuse_counts_and_still_score_as_bm25s():
    first = _docs(2, 80)
    layout = Layout()
    live = layout.index(first)
    kept = first[10:]
    after = kept + _docs(3, 5, prefix="new")
    live2 = layout.index(after)
    _assert_same(live2, _reference(after), after)
    # the kept documents' counts are the previous state's own objects: no recount
    assert all(live2.counts[k] is live.counts[k] for k, _ in kept)
    # the previous state still answers with its own tables
    _assert_same(live, _reference(first), first)


def test_many_small_updates_merge_segments_and_still_score_as_bm25s():
    docs = _docs(7, 60)
    layout = Layout()
    states = [(layout.index(docs), list(docs))]
    rng = random.Random(8)
    for step in range(40):  # one document in, sometimes one out
        docs = docs + _docs(100 + step, 1, prefix=f"s{step}-")
        if step % 3 == 0:
            docs.pop(rng.randrange(len(docs)))
        states.append((layout.index(docs), list(docs)))
    live = states[-1][0]
    # segments merge as they accumulate: far fewer than the updates, every document in one
    assert len(live.segments) <= 8
    seen = [k for seg in live.segments for k in seg.keys if k in live.counts]
    assert sorted(seen) == sorted(k for k, _ in docs)
    for state, state_docs in states[::7] + states[-1:]:  # each state keeps its own scores
        _assert_same(state, _reference(state_docs), state_docs)


def test_document_frequencies_count_chunks_and_drop_terms_left_by_deleted_documents():
    first = _docs(6, 60)
    layout = Layout()
    live = layout.index(first)
    kept = first[:30]
    live2 = layout.index(kept)  # terms only the deleted documents held stay numbered
    assert live2.stale_terms > 0
    for state, docs in ((live, first), (live2, kept)):
        expected = Counter(t for _, chunks in docs for toks in chunks for t in set(toks))
        df = state.document_frequencies()
        assert df == expected and dict(df) == dict(expected) and len(df) == len(expected)
        gone = next(t for t in state.terms if t not in expected) if state is live2 else None
        if gone is not None:
            assert gone not in df and df.get(gone) is None


def test_a_vocabulary_mostly_gone_is_renumbered_and_still_scores_as_bm25s():
    first = _docs(4, 200)
    rng = random.Random(5)
    tail = [(f"x{i}", [[f"稀{rng.randint(0, 10**6)}" for _ in range(40)]]) for i in range(200)]
    layout = Layout()
    live = layout.index(first + tail)
    big = len(live.terms)
    live2 = layout.index(first[:3])  # most terms now in no document
    assert len(live2.terms) < big / 2
    assert live2.stale_terms == 0
    _assert_same(live2, _reference(first[:3]), first[:3])


@pytest.fixture(scope="module")
def bundled_chunks():
    from assistant.chunk import chunk_document
    from assistant.load import load_file
    from tests.conftest import SEED

    return chunk_document(load_file(SEED, SEED.parent))
