"""The one decision to answer or abstain, from the signals of the chosen unit.

Signals: ``coverage`` (the weighted share of the question's key terms the unit covers, read
with its document title, heading path and lead-in), ``own`` (the same for the unit's own text),
``dense`` (cosine of the unit's chunk to the question), ``missing`` (the share of the
question's weight on terms the corpus never uses), ``gap`` (the general-language specificity
of the most specific question word the unit, read in its context, leaves out — see
``answering.support``: "企业所得税" asked, a sentence on 补助资金 quoted), ``action`` (the
specificity of the verb the question asks about when no document uses it: "资格证书怎么考取").
Hard requirements come first — enough coverage, no gap of ``MAX_GAP`` or more, no absent verb
of ``MAX_ACTION`` or more, the asked noun not quoted only at another administrative level
(``level``: "省级……中心" asked, "国家……中心" quoted), the asked kind of fact present (checked by
the caller) — then a logistic score of the signals must reach ``THRESHOLD``.

The weights are fitted by ``evals/fit_abstention.py`` on the dev split of the eval sets and
reported on the holdout split; re-run it when the answerer changes and paste its output here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_COVERAGE = 0.5  # below this share of the question's key-term weight, never answer
# a question word this specific in general Chinese, missing from the unit and its context, means
# the unit is about something else; fitted by evals/fit_abstention.py on the dev split (below)
MAX_GAP = 0.68
# the verb a question asks about, used by no document, this specific in general Chinese: the
# documents do not describe that action; chosen by evals/fit_abstention.py on the dev split
MAX_ACTION = 0.62

# `python evals/fit_abstention.py` (2026-12-02, before the gap signal) fitted a logistic score on
# the dev split:  cases reaching the decision: dev 130, holdout 59
#   coverage gate alone:  right outcomes dev 96/130 (0.738), holdout 47/59 (0.797)
#   fitted score:         right outcomes dev 98/130 (0.754), holdout 47/59 (0.797)
# The gain on dev did not carry to the holdout, and on the bundled set the fitted score
# abstained on true answers, so it was not adopted: those signals do not separate near misses
# ("补助资金要缴企业所得税吗？") from answers.
#
# With the gap signal (answering.support), same script, gated sets only (bundled, devcorpus;
# the fresh set is never fitted on), every part of a multi-part question counted:
#   cases reaching the decision: dev 143, holdout 61
#   coverage gate alone:  right outcomes dev 105/143 (0.734), holdout 50/61 (0.820)
#   + MAX_GAP 0.68:       right outcomes dev 109/143 (0.762), holdout 52/61 (0.852)
#   gap limit 0.68: abstains on unanswerable dev 2, holdout 2; on answerable dev 0, holdout 0
#   fitted logistic:      right outcomes dev 111/143 (0.776), holdout 52/61 (0.852)
#   (WEIGHTS coverage 1.795, own 0.656, dense -0.302, missing -2.199, gap -1.970; BIAS -0.253)
# MAX_GAP is chosen on dev as the limit with the most abstentions on unanswerable cases minus
# those on answerable ones. The fitted logistic adds nothing on the holdout over the gap limit,
# so the score stays neutral (the coverage gate, the gap limit and the fact-kind check decide).
# With the absent-verb signal (2026-12-03, same script and sets; the limit is chosen on dev over
# the cases the gap limit lets through, most permissive of the ties — dev separates anywhere in
# 0.50–0.62):
#   cases reaching the decision: dev 146, holdout 61
#   + gap limit 0.68:       right outcomes dev 117/146 (0.801), holdout 53/61 (0.869)
#   + absent-verb 0.62:     right outcomes dev 120/146 (0.822), holdout 53/61 (0.869)
#   absent-verb limit 0.62: abstains on unanswerable dev 3, holdout 0; on answerable dev 0,
#   holdout 0 (the holdout has no unanswerable case it applies to: it neither helps nor hurts)
#   fitted logistic:        right outcomes dev 118/146 (0.808), holdout 53/61 (0.869) — again
#   no gain on the holdout, so the score stays neutral
# Re-run after the unseen-documents round (2026-12-03 evening; same script and sets):
#   cases reaching the decision: dev 148, holdout 63
#   coverage gate alone:  right outcomes dev 116/148 (0.784), holdout 51/63 (0.810)
#   + gap limit 0.68:     right outcomes dev 119/148 (0.804), holdout 53/63 (0.841)
#   + absent-verb 0.62:   right outcomes dev 122/148 (0.824), holdout 53/63 (0.841)
#   fitted logistic:      right outcomes dev 120/148 (0.811), holdout 52/63 (0.825)
# — the limits are chosen again at 0.68 and 0.62, and the logistic still does worse on the
# holdout, so the score stays neutral.
# Re-run after round 8 (2026-12-04; same script and sets; the level signal is a hard limit in
# "current"):
#   cases reaching the decision: dev 148, holdout 64
#   coverage gate alone:  right outcomes dev 118/148 (0.797), holdout 51/64 (0.797)
#   + gap limit 0.68:     right outcomes dev 121/148 (0.818), holdout 53/64 (0.828)
#   + absent-verb 0.62:   right outcomes dev 124/148 (0.838), holdout 54/64 (0.844)
#   fitted logistic:      right outcomes dev 123/148 (0.831), holdout 52/64 (0.812)
# — the limits are chosen again at 0.68 and 0.62; the logistic does worse on both splits.
WEIGHTS = {
    "coverage": 0.0,
    "own": 0.0,
    "dense": 0.0,
    "missing": 0.0,
    "gap": 0.0,
    "action": 0.0,
    "level": 0.0,
}
BIAS = 1.0
THRESHOLD = 0.5


@dataclass(frozen=True)
class Signals:
    coverage: float
    own: float
    dense: float
    missing: float
    gap: float = 0.0
    action: float = 0.0  # the asked verb no document uses, by specificity (support.absent_action)
    # 1 when the unit speaks of the asked noun only at another administrative level
    # ("省级技术创新中心" asked, "国家技术创新中心" quoted: support.other_level)
    level: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "coverage": self.coverage,
            "own": self.own,
            "dense": self.dense,
            "missing": self.missing,
            "gap": self.gap,
            "action": self.action,
            "level": self.level,
        }


def probability(s: Signals) -> float:
    z = BIAS + sum(WEIGHTS.get(k, 0.0) * v for k, v in s.as_dict().items())  # unnamed: neutral
    return 1.0 / (1.0 + math.exp(-z))


def should_answer(s: Signals) -> bool:
    return (
        s.coverage >= MIN_COVERAGE
        and s.gap < MAX_GAP
        and s.action < MAX_ACTION
        and s.level < 1.0
        and probability(s) >= THRESHOLD
    )
