# One task runner for people and CI.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run setup index serve test lint format bench eval eval-llm clean

run: setup index serve  ## fresh machine → indexed bundled corpus → serving on $(HOST):$(PORT)

$(BIN)/policy-assistant: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

setup: $(BIN)/policy-assistant

index: setup
	$(BIN)/policy-assistant index

serve: setup
	$(BIN)/policy-assistant serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q
	$(BIN)/policy-assistant index
	$(BIN)/policy-assistant eval --baseline  # the gate: every set in evals/sets.toml (gate = false sets only report); `make eval` rewrites the committed report

lint: setup
	$(BIN)/ruff check assistant ui tests evals
	$(BIN)/ruff format --check assistant ui tests evals

format: setup
	$(BIN)/ruff format assistant ui tests evals
	$(BIN)/ruff check --fix assistant ui tests evals

bench: setup index
	$(BIN)/python evals/bench.py
	$(BIN)/python evals/bench_http.py

eval: setup index
	$(BIN)/policy-assistant eval --baseline --report evals

eval-llm: setup index  ## the eval in LLM mode against the scripted local OpenAI-compatible server
	$(BIN)/python evals/llm_eval.py

FUZZ_EXAMPLES ?= 100
.PHONY: fuzz
fuzz: setup  ## schemathesis, every operation and check, against a server it starts (≥ 1,000 cases)
	$(BIN)/python tests/api/fuzz.py --max-examples $(FUZZ_EXAMPLES)

clean:
	rm -rf index/chroma index/gen index/manifest.json .pytest_cache
