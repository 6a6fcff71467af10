"""Reciprocal rank fusion."""

from assistant.fusion import reciprocal_rank_fusion


def test_item_first_everywhere_scores_one_and_ranks_first():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["a", "c"]])
    assert fused[0] == ("a", 1.0)
    assert [i for i, _ in fused] == ["a", "c", "b"]  # in both lists beats one higher place


def test_weights_shift_the_order():
    rankings = [["kw", "both"], ["dense", "both"]]
    equal = dict(reciprocal_rank_fusion(rankings))
    assert equal["kw"] == equal["dense"]
    leaning = [i for i, _ in reciprocal_rank_fusion(rankings, weights=[1.0, 0.4])]
    assert leaning.index("kw") < leaning.index("dense")


def test_empty_rankings_fuse_to_nothing():
    assert reciprocal_rank_fusion([[], []]) == []
