"""Run the regression eval in LLM mode against the scripted local OpenAI-compatible server
(``tests/fake_llm.py``, answering with ``quote_best_source``: it quotes the source sentence
that covers most of the question, with its [n]). It measures our side of LLM mode — prompt,
[n] → citation mapping, verification and fallback — not a real model's quality.

    .venv/bin/python evals/llm_eval.py [--set bundled] [--set devcorpus]

Prints the eval summary; the exit code is the eval's (thresholds apply as usual). Default: the
bundled set only, as before sets existed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from rich.console import Console

    from assistant.config import get_settings
    from assistant.eval_report import summary
    from assistant.evaluate import load_sets, load_thresholds, run_eval, select_sets
    from tests.fake_llm import FakeLLM, quote_best_source

    names = [sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--set"] or ["bundled"]
    sets = load_sets(ROOT / "evals/sets.toml")
    chosen = select_sets(sets, names)
    limits = load_thresholds(ROOT / "evals/thresholds.toml", known_sets=sets)
    with FakeLLM() as server:
        server.responder = quote_best_source
        settings = get_settings().model_copy(
            update={"llm_base_url": server.url, "llm_model": server.model, "llm_api_key": "local"}
        )
        print(f"LLM mode against the scripted server at {server.url}", file=sys.stderr)
        run = run_eval(
            chosen, limits, settings=settings, progress=lambda m: print(m, file=sys.stderr)
        )
    console = Console(width=120, highlight=False)
    for part in summary(run):
        console.print(part)
    return run.exit_code


if __name__ == "__main__":
    sys.exit(main())
