"""Fit the answer-or-abstain decision (assistant/answering/decide.py) on the dev split of every
eval set, and report it on the holdout split, which the fit never sees.

For every case the answerer's chosen unit is recorded with its signals (coverage, own coverage,
chunk cosine, missing-term share) and whether answering with it would be right (answerable:
facts present and evidence cited; unanswerable: never). A logistic regression (L2, scipy) is
fitted on dev, the probability threshold chosen on dev to maximise right outcomes, and both
splits are scored with the fitted and with the current parameters.

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
from assistant.evaluate import evidence_in, facts_present, load_cases, load_sets, split_of  # noqa: E402
from assistant.index import IndexBuilder  # noqa: E402
from assistant.service import Assistant  # noqa: E402

FEATURES = ("coverage", "own", "dense", "missing")


def collect() -> list[dict]:
    """One row per case whose answerer reached the decision: signals, label, split."""
    rows: list[dict] = []
    seen: list[decide.Signals] = []
    real = answer_mod.should_answer

    def record(signals):  # let every candidate through the learned part; keep hard rules
        seen.append(signals)
        return signals.coverage >= decide.MIN_COVERAGE

    answer_mod.should_answer = record
    try:
        for eval_set in load_sets().values():
            settings = eval_set.settings(get_settings())
            IndexBuilder(settings).build()
            assistant = Assistant(settings)
            for case in load_cases(eval_set.qa):
                seen.clear()
                try:
                    ans = assistant.ask(case.question, history=case.history)
                except InvalidQuestionError:
                    continue
                if not seen or seen[-1].coverage < decide.MIN_COVERAGE:
                    continue  # decided before the learned part (no unit, out of scope …)
                right = case.answerable and (
                    not ans.abstained
                    and facts_present(ans.answer, case.facts)
                    and any(evidence_in(c.text, case.evidence) for c in ans.citations[:3])
                )
                rows.append(
                    {
                        "set": eval_set.name,
                        "split": split_of(case.id),
                        "x": [seen[-1].as_dict()[f] for f in FEATURES],
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


def outcomes(rows: list[dict], w: np.ndarray, threshold: float) -> tuple[int, int]:
    right = 0
    for r in rows:
        p = 1 / (1 + math.exp(-(w[0] + float(np.dot(w[1:], r["x"])))))
        answer = p >= threshold
        right += (answer and r["y"] == 1.0) or (not answer and not r["answerable"])
    return right, len(rows)


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
    print(f"cases reaching the decision: dev {len(dev)}, holdout {len(hold)}")
    for name, ws, t in (("current", current, decide.THRESHOLD), ("fitted", w, best_t)):
        d, nd = outcomes(dev, ws, t)
        h, nh = outcomes(hold, ws, t)
        print(
            f"{name:8s} right outcomes: dev {d}/{nd} ({d / nd:.3f}), holdout {h}/{nh} ({h / nh:.3f})"
        )
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
