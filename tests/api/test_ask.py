"""``POST /v1/ask`` and ``POST /v1/search`` against a real uvicorn server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LUKEDAI = "今年计划给多少家企业发放鲁科贷？"
FINANCE_SECTION = "13.优化全周期科技金融服务"
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_ask_answers_with_cited_clause(http):
    r = http.post("/v1/ask", json={"question": LUKEDAI})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"question", "answer", "abstained", "mode", "citations", "timings_ms"}
    assert body["abstained"] is False and body["mode"] in {"extractive", "targets"}
    assert "500家" in body["answer"] and "25亿元" in body["answer"] and "[1]" in body["answer"]
    cite = body["citations"][0]
    assert set(cite) >= {"id", "doc_id", "title", "section", "text", "score", "start", "end"}
    assert cite["section"].endswith(FINANCE_SECTION)
    assert "鲁科贷" in cite["text"] and cite["title"] == "2025年全市科技工作要点"


def test_ask_returns_the_same_answer_as_the_cli(http, seed_settings):
    over_http = http.post("/v1/ask", json={"question": LUKEDAI}).json()
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(seed_settings.corpus_dir),
        "PA_INDEX_DIR": str(seed_settings.index_dir),
    }
    exe = Path(sys.executable).with_name("policy-assistant")
    out = subprocess.run(
        [str(exe), "ask", LUKEDAI, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    from_cli = json.loads(out.stdout)
    for body in (over_http, from_cli):
        body.pop("timings_ms")
    assert over_http == from_cli


def test_follow_up_question_uses_history(http):
    question = "今年目标是多少？"
    alone = http.post("/v1/ask", json={"question": question}).json()
    history = [
        {"role": "user", "content": "鲁科贷是什么？"},
        {"role": "assistant", "content": "用好“鲁科贷”政策……"},
    ]
    followed = http.post("/v1/ask", json={"question": question, "history": history}).json()
    assert alone["abstained"] is True
    assert followed["abstained"] is False and "500家" in followed["answer"]


def test_abstains_when_corpus_is_silent(http):
    body = http.post("/v1/ask", json={"question": "创新券的申请截止日期是什么时候？"}).json()
    assert body["abstained"] is True and body["citations"] == []
    assert "没有找到" in body["answer"]


def test_search_returns_hits_in_the_documented_shape(http):
    r = http.post("/v1/search", json={"query": "科技金融 鲁科贷", "top_k": 3})
    assert r.status_code == 200
    hits = r.json()["hits"]
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
    assert any(FINANCE_SECTION in h["section"] for h in hits)


def test_search_filters_by_document(http):
    r = http.post("/v1/search", json={"query": "鲁科贷", "doc_ids": ["no-such-doc.txt"]})
    assert r.status_code == 200 and r.json()["hits"] == []


@pytest.mark.parametrize(
    ("path", "payload", "expect"),
    [
        ("/v1/ask", {"question": ""}, "不能为空"),
        ("/v1/ask", {"question": "   \n\t "}, "不能为空"),
        ("/v1/ask", {"question": "鲁" * 2001}, "2000"),
        ("/v1/ask", {}, "缺少字段 question"),
        ("/v1/ask", {"question": 123}, "question"),
        ("/v1/ask", {"question": "鲁科贷", "history": "not a list"}, "history"),
        ("/v1/search", {"query": "  "}, "不能为空"),
        ("/v1/search", {"query": "鲁科贷", "top_k": 0}, "top_k"),
    ],
    ids=[
        "empty",
        "whitespace",
        "too-long",
        "missing-field",
        "wrong-type",
        "bad-history",
        "search-empty",
        "search-top-k",
    ],
)
def test_bad_questions_are_422_with_a_chinese_message(http, path, payload, expect):
    r = http.post(path, json=payload)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and CJK.search(detail) and expect in detail


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"question": "\xe9\xb2\x81', b"", b"[1, 2]"],
    ids=["broken", "truncated", "empty-body", "not-an-object"],
)
def test_malformed_json_is_422(http, raw):
    r = http.post("/v1/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert CJK.search(r.json()["detail"])


def test_concurrent_clients_get_the_same_answers_as_one(api_server, http):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    questions = [
        LUKEDAI,
        "技术经理人培训目标是多少？",
        "科融信能提供什么贷款？",
        "鲁科贷的利率是多少？",
    ]
    expected = {q: http.post("/v1/ask", json={"question": q}).json()["answer"] for q in questions}

    def ask(i: int) -> tuple[str, int, str]:
        q = questions[i % len(questions)]
        r = httpx.post(f"{api_server.url}/v1/ask", json={"question": q}, timeout=120)
        return q, r.status_code, r.json().get("answer", "")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(16)))
    assert all(status == 200 for _, status, _ in results)
    assert all(answer == expected[q] for q, _, answer in results)
