"""Reciprocal rank fusion (Cormack et al., 2009): score(d) = Σ 1 / (k + rank_i(d))."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hashable]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[Hashable, float]]:
    """Fuse ranked id lists (best first). Scores are normalised so that an item ranked first in
    every list scores 1.0."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[Hashable, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    best = sum(w / (k + 1) for w in weights) or 1.0
    return sorted(((i, s / best) for i, s in scores.items()), key=lambda x: -x[1])
