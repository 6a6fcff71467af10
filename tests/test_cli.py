"""The console script, run as a user runs it: JSON contracts, summaries, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("policy-assistant"))


def run(args, settings=None, env_extra=None, cwd=None):
    env = {**os.environ}
    if settings is not None:
        env.update(PA_CORPUS_DIR=str(settings.corpus_dir), PA_INDEX_DIR=str(settings.index_dir))
    env.update(env_extra or {})
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_ask_json_is_the_answer_contract(seed_settings):
    out = run(["ask", "今年计划给多少家企业发放鲁科贷？", "--json"], seed_settings)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "answer", "abstained", "mode", "citations", "timings_ms"}
    assert "500" in data["answer"] and "25亿元" in data["answer"]
    first = data["citations"][0]
    assert set(first) >= {"id", "doc_id", "title", "section", "text", "score", "start", "end"}
    assert first["section"].startswith("四、") and "13." in first["section"]
    assert "鲁科贷" in first["text"]


def test_search_json_is_the_hits_contract(seed_settings):
    out = run(["search", "科融信", "--json", "-k", "3"], seed_settings)
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)["hits"]
    assert 1 <= len(hits) <= 3
    assert set(hits[0]) == {
        "chunk_id",
        "doc_id",
        "title",
        "section",
        "text",
        "score",
        "start",
        "end",
        "page",  # paged documents (PDF, scans); null otherwise
    }
    assert "科融信" in hits[0]["text"]


def test_index_prints_a_summary(seed_settings):
    out = run(["index"], seed_settings)
    assert out.returncode == 0, out.stderr
    assert "无变化" in out.stdout and "新计算向量 0 个" in out.stdout


def test_index_reports_skipped_files_and_continues(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("说明\n\n1.创新券。落实创新券政策。\n", encoding="utf-8")
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    (corpus / "sheet.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    env = {"PA_CORPUS_DIR": str(corpus), "PA_INDEX_DIR": str(tmp_path / "index")}
    out = run(["index", "--json"], env_extra=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["files"] == 1 and summary["chunks"] >= 1
    assert sorted(s["file"] for s in summary["skipped"]) == ["bad.pdf", "sheet.xls"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "问题不能为空"),
        (["ask", "问" * 2001], "问题过长"),
    ],
    ids=["blank", "too-long"],
)
def test_errors_are_one_line_without_traceback(seed_settings, args, message):
    out = run(args, seed_settings)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_missing_index_says_what_to_do(tmp_path):
    out = run(["ask", "鲁科贷"], env_extra={"PA_INDEX_DIR": str(tmp_path / "none")})
    assert out.returncode == 1
    assert "policy-assistant index" in out.stderr
    assert "Traceback" not in out.stderr
