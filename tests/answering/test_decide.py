"""The one answer-or-abstain decision."""

from __future__ import annotations

from assistant.answering import decide
from assistant.answering.decide import Signals, should_answer


def test_too_little_coverage_never_answers():
    assert not should_answer(
        Signals(coverage=decide.MIN_COVERAGE - 0.01, own=1, dense=1, missing=0)
    )


def test_enough_coverage_answers_with_the_neutral_score():
    assert should_answer(Signals(coverage=0.9, own=0.9, dense=0.85, missing=0.0))


def test_a_fitted_score_can_veto(monkeypatch):
    monkeypatch.setattr(
        decide, "WEIGHTS", {"coverage": 0.0, "own": 0.0, "dense": 0.0, "missing": -10.0}
    )
    monkeypatch.setattr(decide, "BIAS", 1.0)
    assert should_answer(Signals(coverage=0.9, own=0.9, dense=0.9, missing=0.0))
    assert not should_answer(Signals(coverage=0.9, own=0.9, dense=0.9, missing=0.5))


def test_a_gap_vetoes_a_well_covered_unit():
    covered = dict(coverage=0.9, own=0.9, dense=0.9, missing=0.0)
    assert should_answer(Signals(**covered, gap=decide.MAX_GAP - 0.01))
    assert not should_answer(Signals(**covered, gap=decide.MAX_GAP))
