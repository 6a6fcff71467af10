"""Run the regression eval in LLM mode against the scripted local OpenAI-compatible server
(``tests/fake_llm.py``, answering with ``quote_best_source``: it quotes the source sentence
that covers most of the question, with its [n]). It measures our side of LLM mode — prompt,
[n] → citation mapping, verification and fallback — not a real model's quality.

    .venv/bin/python evals/llm_eval.py [--set evals/qa.jsonl]

Prints the eval summary; the exit code is the eval's (thresholds apply as usual).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from assistant.config import get_settings
    from assistant.evaluate import run_eval_command
    from tests.fake_llm import FakeLLM, quote_best_source

    set_path = (
        Path(sys.argv[sys.argv.index("--set") + 1])
        if "--set" in sys.argv
        else ROOT / "evals/qa.jsonl"
    )
    with FakeLLM() as server:
        server.responder = quote_best_source
        settings = get_settings().model_copy(
            update={"llm_base_url": server.url, "llm_model": server.model, "llm_api_key": "local"}
        )
        print(f"LLM mode against the scripted server at {server.url}", file=sys.stderr)
        return run_eval_command(
            set_path, False, False, None, ROOT / "evals/thresholds.toml", settings=settings
        )


if __name__ == "__main__":
    sys.exit(main())
