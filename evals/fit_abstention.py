"""Fit the answer-or-abstain decision (assistant/answering/decide.py) on the dev split of every
eval set, and report it on the holdout split, which the fit never sees.

Only the sets that gate (``gate = true`` in evals/thresholds.toml) are used: a report-only set
such as ``fresh`` stays unseen. For every case the answerer's chosen unit is recorded with its
signals (coverage, own coverage, chunk cosine, missing-term share, gap) and whether answering
with it would be right (answerable: facts present and evidence cited; unanswerable: never).
``MAX_GAP`` is chosen on dev to maximise abstentions on unanswerable cases minus abstentions on
answerable ones — the two figures the eval holds, abstention recall and false abstention — (ties:
the most permissive limit); a
logistic regression (L2, scipy) is fitted on dev, its probability threshold chosen on dev, and
both splits are scored with the fitted and with the current parameters.

    .venv/bin/python evals/fit_abstention.py          # prints the figures and the constants

Run it when the answerer changes; paste the constants into decide.py with the output below.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import assistant.answering.extractive as answer_mod  # noqa: E402
from assistant.answering import decide  # noqa: E402
from assistant.config import get_settings  # noqa: E402
from assistant.errors import InvalidQuestionError  # noqa: E402
from assistant.evaluate import (  # noqa: E402
    DEFAULT_THRESHOLDS,
    evidence_in,
    facts_present,
    load_cases,
    load_sets,
    load_thresholds,
    split_of,
)
from assistant.index import IndexBuilder  # noqa: E402
from assistant.service import Assistant  # noqa: E402

FEATURES = ("coverage", "own", "dense", "missing", "gap", "action")


def collect() -> list[dict]:
    """One row per case whose answerer reached the decision: signals, label, split."""
    rows: list[dict] = []
    seen: list[decide.Signals] = []
    real = answer_mod.should_answer

    def record(signals):  # let every candidate through the learned part; keep hard rules
        seen.append(signals)
        return signals.coverage >= decide.MIN_COVERAGE

    answer_mod.should_answer = record
    gated = {name for name, t in load_thresholds(DEFAULT_THRESHOLDS).items() if t.gate}
    try:
        for eval_set in load_sets().values():
            if eval_set.name not in gated:
                continue
            settings = eval_set.settings(get_settings())
            IndexBuilder(settings).build()
            assistant = Assistant(settings)
            for case in load_cases(eval_set.qa):
                seen.clear()
                try:
                    ans = assistant.ask(case.question, history=case.history)
                except InvalidQuestionError:
                    continue
                passed = [sig for sig in seen if sig.coverage >= decide.MIN_COVERAGE]
                if not passed:
                    continue  # decided before the learned part (no unit, out of scope …)
                right = case.answerable and (
                    not ans.abstained
                    and facts_present(ans.answer, case.facts)
                    and any(evidence_in(c.text, case.evidence) for c in ans.citations[:3])
                )
                rows.append(
                    {
                        "set": eval_set.name,
                        "id": case.id,
                        "split": split_of(case.id),
                        "x": [passed[-1].as_dict()[f] for f in FEATURES],
                        # every part's decision: a multi-part answer loses a part to the limit
                        "gaps": [sig.gap for sig in passed],
                        "actions": [sig.action for sig in passed],
                        "y": 1.0 if right else 0.0,
                        "answerable": case.answerable,
                        "answered": not ans.abstained,
                    }
                )
    finally:
        answer_mod.should_answer = real
    return rows


def fit(x: np.ndarray, y: np.ndarray, l2: float = 0.001) -> np.ndarray:
    def loss(w):
        z = x @ w[1:] + w[0]
        p = 1 / (1 + np.exp(-z))
        eps = 1e-9
        return -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * np.sum(
            w[1:] ** 2
        )

    return minimize(loss, np.zeros(x.shape[1] + 1), method="L-BFGS-B").x


def outcomes(
    rows: list[dict],
    w: np.ndarray,
    threshold: float,
    max_gap: float = math.inf,
    max_action: float = math.inf,
) -> tuple[int, int]:
    right = 0
    for r in rows:
        p = 1 / (1 + math.exp(-(w[0] + float(np.dot(w[1:], r["x"])))))
        answer = p >= threshold and min(r["gaps"]) < max_gap and min(r["actions"]) < max_action
        right += (answer and r["y"] == 1.0) or (not answer and not r["answerable"])
    return right, len(rows)


def abstentions(rows: list[dict], limit: float, key: str = "gaps") -> tuple[int, int]:
    """Under a limit on one signal (``gaps`` or ``actions``): (unanswerable cases answered
    today that it turns into abstentions, answered answerable cases it takes an answer or a
    part of one from)."""
    answered = [r for r in rows if r["answered"]]
    right = sum(1 for r in answered if not r["answerable"] and min(r[key]) >= limit)
    wrong = sum(1 for r in answered if r["answerable"] and max(r[key]) >= limit)
    return right, wrong


def best_limit(rows: list[dict], key: str) -> float:
    """The limit with the most abstentions on unanswerable cases minus those on answerable
    ones (ties: the most permissive)."""
    best_at, best = math.inf, 0
    for g in sorted(np.arange(0.50, 1.01, 0.02), reverse=True):
        right, wrong = abstentions(rows, float(g), key)
        if right - wrong > best:
            best_at, best = float(g), right - wrong
    return best_at


def main() -> int:
    rows = collect()
    dev = [r for r in rows if r["split"] == "dev"]
    hold = [r for r in rows if r["split"] == "holdout"]
    x = np.array([r["x"] for r in dev])
    y = np.array([r["y"] for r in dev])
    w = fit(x, y)
    best_t, best = 0.5, -1
    for t in np.arange(0.05, 0.96, 0.05):
        got, _ = outcomes(dev, w, float(t))
        if got > best:
            best_t, best = float(t), got
    current = np.array([decide.BIAS, *(decide.WEIGHTS[f] for f in FEATURES)])
    # the gap limit alone, with the current (neutral) score; then the absent-verb limit over
    # the cases the gap limit lets through
    best_gap = best_limit(dev, "gaps")
    best_action = best_limit([r for r in dev if min(r["gaps"]) < decide.MAX_GAP], "actions")
    print(f"cases reaching the decision: dev {len(dev)}, holdout {len(hold)}")
    for name, ws, t, g, a in (
        ("coverage", current, decide.THRESHOLD, math.inf, math.inf),
        ("+gap", current, decide.THRESHOLD, best_gap, math.inf),
        ("+action", current, decide.THRESHOLD, best_gap, best_action),
        ("current", current, decide.THRESHOLD, decide.MAX_GAP, decide.MAX_ACTION),
        ("fitted", w, best_t, math.inf, math.inf),
    ):
        d, nd = outcomes(dev, ws, t, g, a)
        h, nh = outcomes(hold, ws, t, g, a)
        print(
            f"{name:8s} right outcomes: dev {d}/{nd} ({d / nd:.3f}), holdout {h}/{nh} ({h / nh:.3f})"
        )
    for name, g in (("fitted", best_gap), ("current", decide.MAX_GAP)):
        dr, dw = abstentions(dev, g)
        hr, hw = abstentions(hold, g)
        print(
            f"gap limit {g:.2f} ({name}): abstains on unanswerable dev {dr}, holdout {hr}; "
            f"on answerable dev {dw}, holdout {hw}"
        )
    for name, g in (("fitted", best_action), ("current", decide.MAX_ACTION)):
        left = [r for r in dev if min(r["gaps"]) < decide.MAX_GAP]
        left_h = [r for r in hold if min(r["gaps"]) < decide.MAX_GAP]
        dr, dw = abstentions(left, g, "actions")
        hr, hw = abstentions(left_h, g, "actions")
        print(
            f"absent-verb limit {g:.2f} ({name}), after the gap limit: abstains on unanswerable "
            f"dev {dr}, holdout {hr}; on answerable dev {dw}, holdout {hw}"
        )
    print(f"MAX_GAP = {best_gap:.2f}")
    print(f"MAX_ACTION = {best_action:.2f}")
    print(
        "WEIGHTS = {"
        + ", ".join(f'"{f}": {v:.3f}' for f, v in zip(FEATURES, w[1:], strict=True))
        + "}"
    )
    print(f"BIAS = {w[0]:.3f}")
    print(f"THRESHOLD = {best_t:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
