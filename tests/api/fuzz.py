"""``make fuzz``: schemathesis against a real server that this script starts and stops.

The server (``served.py``: ``policy-assistant serve`` on a free 127.0.0.1 port over a copy of
the bundled corpus, its own index, so uploads and deletes touch nothing else) has an admin key
that every generated request carries; no ``PA_OPENAI_KEYS``, so the OpenAI routes are open and
the document says so. All operations, all of schemathesis' checks (server errors, status codes,
content types, headers and response schemas against the OpenAPI document, positive and
negative data, auth …). ``--max-examples`` bounds the cases per operation.

    python tests/api/fuzz.py --max-examples 100     # ≈ 1,500 cases over the 15 operations
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from served import ADMIN_KEY, BIN, served  # this script's folder is on sys.path

_ACCEPTED = '"2xx", "3xx", "401", "403", "404", "409", "429", "5xx"'  # schemathesis' own default
# Two answers to schema-valid data that no schema can foresee, so they count as acceptance:
# an upload's bytes decide 400 (unreadable, scanned, a zip bomb) or 415 (its suffix), and a chat
# is 422 when its last user message holds no question (blank, too long, or only non-text parts).
CONFIG = f"""
[[operations]]
include-name = "POST /v1/documents"
checks.positive_data_acceptance.expected-statuses = [{_ACCEPTED}, "400", "415"]

[[operations]]
include-name = "POST /v1/chat/completions"
checks.positive_data_acceptance.expected-statuses = [{_ACCEPTED}, "422"]
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="cases per operation")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", default="1")
    args, extra = parser.parse_known_args()
    # schemathesis sends wrong keys on purpose (its auth checks): do not lock it out
    with served(auth_max_failures="1000000") as server:
        (server.folder / "schemathesis.toml").write_text(CONFIG, encoding="utf-8")
        command = [
            str(BIN / "schemathesis"),
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_KEY}",
            "--max-examples",
            str(args.max_examples),
            "--workers",
            args.workers,
            "--generation-database",
            "none",
            "--no-color",
            *(["--seed", str(args.seed)] if args.seed is not None else []),
            *extra,
        ]
        return subprocess.run(command, env=server.env, cwd=server.folder).returncode


if __name__ == "__main__":
    sys.exit(main())
