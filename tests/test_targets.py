"""The targets ledger (指标台账): extraction against rows written by hand from the work points,
look-alikes that are not targets, CSV/JSON export, the CLI, and answering target questions."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.documents import Document

from assistant.answering.ledger import answer as ledger_answer
from assistant.answering.query import analyse, condense_with_context
from assistant.chunk import chunk_document
from assistant.index import IndexBuilder, read_manifest
from assistant.load import load_bytes, load_file
from assistant.retrieve import Filters
from assistant.targets import (
    CSV_COLUMNS,
    LedgerCache,
    TargetLedger,
    extract_targets,
    parse_number,
    targets_of_document,
)
from tests.conftest import SEED, copy_seed_corpus, make_settings

EXE = str(Path(sys.executable).with_name("policy-assistant"))

# Written by hand from corpus/2025年全市科技工作要点.txt — (item, subject, value, unit, qualifier).
# Every quantity the plan commits to, and nothing else: not 2025年, not the numbering 1.–23.,
# not “十四五”/“十五五”, 二十大, “2+10”, “1+4”, 三年行动计划, “三高一核心”, or 八个生态 (a count of
# the eight names listed before it).
EXPECTED = [
    ("5", "实施“揭榜挂帅”技术攻关项目", 15, "项", "以上"),
    ("6", "实施科技创新重点项目", 148, "个", ""),
    ("6", "实现总投资", 97, "亿元", ""),
    ("6", "年度新增投资", 33, "亿元", ""),
    ("6", "年度新增投资增长", 11, "%", "以上"),
    ("6", "新增专利申请", 300, "件", ""),
    ("6", "新增销售收入", 20, "亿元", "以上"),
    ("11", "组织实施科技型中小企业创新能力提升工程项目", 30, "项", "以上"),
    ("12", "推动校企院企签署技术合作、平台建设等产学研合作项目", 100, "项", "以上"),
    ("12", "选派科技人才到企业担任“科技副总”“科技专员”", 300, "名", ""),
    ("13", "为企业发放科技成果转化贷款", 500, "家", ""),
    ("13", "为企业发放科技成果转化贷款", 25, "亿元", "以上"),
    ("16", "开展技术经理人培训", 100, "人次", "以上"),
    ("16", "全年发布重大成果", 30, "项", "以上"),
    ("17", "促成科技合作项目", 16, "项", "以上"),
    ("17", "促成合作", 6, "项", "以上"),
    ("18", "入选省级以上重点人才", 10, "人", "以上"),
    ("19", "获批省级以上外专项目", 20, "项", "以上"),
    ("19", "组织开展各类联谊体验活动", 15, "场(次)", "不少于"),
    ("19", "推动创新主体与国际优质资源达成合作", 15, "项", "以上"),
    ("21", "立项省乡村振兴、高效生态农业、创新能力提升项目", 5, "项", "以上"),
    ("21", "新建科技特派员产业服务团", 3, "个", "以上"),
]


@pytest.fixture(scope="module")
def seed_doc() -> Document:
    return load_file(SEED)


@pytest.fixture(scope="module")
def ledger(seed_doc) -> TargetLedger:
    terms = [
        line.split()[0]
        for line in (SEED.parent / "domain_terms.txt").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return TargetLedger.from_documents([seed_doc], terms=terms)


def _item_no(row) -> str:
    return row.item.split(".")[0]


def _doc(text: str, name: str = "测试.txt") -> Document:
    return load_bytes(text.encode("utf-8"), name)


# -- extraction ------------------------------------------------------------------------------


def test_seed_ledger_is_exactly_the_hand_written_rows(ledger):
    got = [(_item_no(r), r.subject, r.value, r.unit, r.qualifier) for r in ledger.targets]
    assert got == EXPECTED
    # the (item, value, unit) set too, so a spurious row or a missed one fails on its own
    assert {(i, v, u) for i, _s, v, u, _q in got} == {(i, v, u) for i, _s, v, u, _q in EXPECTED}


def test_every_item_the_issue_names_has_its_targets(ledger):
    items = {_item_no(r) for r in ledger.targets}
    assert items == {"5", "6", "11", "12", "13", "16", "17", "18", "19", "21"}
    assert sum(1 for r in ledger.targets if _item_no(r) == "6") == 6


def test_rows_point_at_the_exact_sentence_and_number(ledger, seed_doc):
    text = seed_doc.page_content
    for row in ledger.targets:
        assert text[row.start : row.end] == row.sentence
        assert row.start <= row.number_start < row.number_end <= row.end
        assert parse_number(text[row.number_start : row.number_end]) == row.value
        assert text[row.number_end :].lstrip().startswith(row.unit)
        assert row.doc_id == "2025年全市科技工作要点.txt" and row.title == "2025年全市科技工作要点"
        assert row.year == 2025


def test_rows_carry_the_section_path_and_item(ledger):
    loan = next(r for r in ledger.targets if r.unit == "家")
    assert loan.section == "四、夯实企业创新主体地位… › 13.优化全周期科技金融服务"
    assert loan.item == "13.优化全周期科技金融服务"
    assert loan.sentence == "用好“鲁科贷”政策,争取为500家企业发放科技成果转化贷款25亿元以上。"
    assert loan.display == "500家"
    assert next(r for r in ledger.targets if r.unit == "场(次)").display == "不少于15场(次)"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("力争新建十五项示范工程。", [(15, "项")]),
        ("引进两千万元社会资本。", [(2000, "万元")]),
        ("培育三个创新联合体,实现营业收入3.5亿元以上。", [(3, "个"), (3.5, "亿元")]),
        ("研发投入增长百分之十五以上。", [(15, "%")]),
        ("新增就业1,500人。", [(1500, "人")]),
        ("全年开展培训100余场。", [(100, "场")]),
        ("每年新备案中试示范基地3家以上。", [(3, "家")]),
    ],
    ids=[
        "cn-15-items",
        "cn-20-million",
        "cn-and-decimal",
        "cn-percent",
        "thousands",
        "approx",
        "fixture-style",
    ],
)
def test_chinese_numerals_and_decimals_are_read(sentence, expected):
    rows = targets_of_document(_doc(f"测试文件\n\n1.测试条目。{sentence}\n"))
    assert [(r.value, r.unit) for r in rows] == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "2025年是“十四五”规划收官之年、“十五五”规划谋划之年。",
        "认真落实省“2+10”产业创新政策体系,落实“1+4”系列政策。",
        "围绕政务、人才、产业、企业、金融、开放、研发、文化八个生态协同打造。",
        "研究谋划科技创新三年行动计划。",
        "全面贯彻党的二十大和二十届二中、三中全会精神。",
        "加快培育一批“三高一核心”企业,打造一个平台。",
        "创新券每家企业每年最高支持20万元。",
        "对年销售收入500万元以上的企业给予奖励。",
        "截至去年底全市现有高新技术企业800家。",
        "组织举办2025中东欧高价值成果创新合作大会。",
        "发挥第三个平台的作用,推动千家万户共享成果。",
    ],
    ids=[
        "plan-names",
        "policy-formulas",
        "count-of-names",
        "duration",
        "congress",
        "articles",
        "support-cap",
        "condition",
        "status",
        "year-in-name",
        "ordinal-idiom",
    ],
)
def test_look_alikes_are_not_targets(sentence):
    assert targets_of_document(_doc(f"测试文件\n\n1.测试条目。{sentence}\n")) == []


def test_numbering_and_years_are_never_targets(ledger, seed_doc):
    text = seed_doc.page_content
    for row in ledger.targets:
        assert text[row.number_start - 1] != "\n"  # never the "13." heading an item
        assert not text[row.number_end :].startswith(("年", ".", "．"))


def test_extract_targets_takes_text_and_chunks(seed_doc):
    chunks = chunk_document(seed_doc)
    rows = extract_targets("x", "标题", seed_doc.page_content, chunks, 2025)
    assert len(rows) == len(EXPECTED) and all(r.doc_id == "x" and r.title == "标题" for r in rows)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("148", 148),
        ("1,500", 1500),
        ("3.5", 3.5),
        ("十五", 15),
        ("两千", 2000),
        ("一百二十", 120),
        ("三点五", 3.5),
        ("十", 10),
        ("三万", 30000),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


# -- the ledger ------------------------------------------------------------------------------


def test_a_document_without_targets_gives_an_empty_ledger():
    doc = _doc("关于科融信平台的说明\n科融信平台为企业提供无担保、无抵押贷款。\n")
    ledger = TargetLedger.from_documents([doc])
    assert ledger.targets == [] and ledger.rows() == [] and ledger.rows(q="科融信") == []
    assert ledger_answer(ledger, "科融信今年要服务多少家企业？") is None
    rows = list(csv.reader(io.StringIO(TargetLedger.to_csv([]).decode("utf-8-sig"))))
    assert rows == [[header for _key, header in CSV_COLUMNS]]


def test_empty_or_missing_corpus_gives_an_empty_ledger(tmp_path):
    (tmp_path / "corpus").mkdir()
    assert TargetLedger.from_settings(make_settings(tmp_path)).targets == []
    assert TargetLedger.from_settings(make_settings(tmp_path / "nowhere")).targets == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"doc": "2025年全市科技工作要点.txt"}, 22),
        ({"doc": "2025年全市科技工作要点"}, 22),
        ({"doc": "别的文件.txt"}, 0),
        ({"section": "13"}, 2),
        ({"section": "19."}, 3),
        ({"section": "六、深化科技开放合作"}, 6),
        ({"q": "鲁科贷"}, 2),
        ({"q": "技术经理人"}, 1),
        ({"q": "科技副总 人才"}, 1),
        ({"q": "投资"}, 6),  # the six rows of item 6 share the sentence that says 投资
        ({"section": "6", "q": "专利"}, 6),
        ({"section": "12", "q": "科技副总"}, 1),
    ],
    ids=[
        "doc-id",
        "doc-title",
        "other-doc",
        "item-13",
        "item-19",
        "chapter",
        "q-loan",
        "q-training",
        "q-jieba-terms",
        "q-sentence",
        "section-and-q",
        "section-and-q-2",
    ],
)
def test_rows_filter(ledger, filters, expected):
    assert len(ledger.rows(**filters)) == expected


def test_csv_opens_in_a_spreadsheet_with_chinese_intact(ledger):
    data = TargetLedger.to_csv(ledger.rows())
    assert data[:3] == b"\xef\xbb\xbf"  # the BOM Excel needs to read UTF-8
    records = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(records) == 22
    loan = next(r for r in records if r["单位"] == "家")
    assert loan["指标内容"] == "为企业发放科技成果转化贷款"
    assert loan["数值"] == "500" and loan["指标值"] == "500家"
    assert loan["原文"] == "用好“鲁科贷”政策,争取为500家企业发放科技成果转化贷款25亿元以上。"
    assert loan["条目"] == "13.优化全周期科技金融服务"
    assert {r["数值"] for r in records} >= {"148", "97", "11", "15"}  # never "148.0"


def test_json_rows_are_plain_model_dumps(ledger):
    data = json.loads(json.dumps(TargetLedger.to_json(ledger.rows(section="6"))))
    assert [d["value"] for d in data] == [148, 97, 33, 11, 300, 20]
    assert data[0]["display"] == "148个" and data[3]["display"] == "11%以上"
    assert set(data[0]) >= {
        "doc_id",
        "title",
        "section",
        "item",
        "subject",
        "value",
        "unit",
        "qualifier",
        "sentence",
        "start",
        "end",
        "number_start",
        "number_end",
    }


def test_ledger_from_settings_follows_the_index(seed_settings):
    ledger = TargetLedger.from_settings(seed_settings)
    assert len(ledger.targets) == 22
    assert ledger.generation == read_manifest(Path(seed_settings.index_dir))["generation"]


def test_cache_rebuilds_when_the_index_changes(tmp_path):
    settings = make_settings(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("甲计划\n\n1.孵化。新建孵化器3家以上。\n", encoding="utf-8")
    IndexBuilder(settings).build()
    cache = LedgerCache(settings)
    first = cache.get()
    assert [r.display for r in first.targets] == ["3家以上"]
    assert cache.get() is first  # unchanged index: the same ledger, not rebuilt
    (corpus / "b.txt").write_text("乙计划\n\n1.培训。开展培训20场。\n", encoding="utf-8")
    assert cache.get() is first  # a file nobody indexed yet is not in the ledger
    IndexBuilder(settings).build()
    second = cache.get()
    assert second is not first and second.generation != first.generation
    assert sorted(r.display for r in second.targets) == ["20场", "3家以上"]


# -- answering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "facts", "evidence"),
    [
        ("鲁科贷要发多少？", ["500家", "25亿元"], "争取为500家企业发放科技成果转化贷款25亿元以上"),
        ("今年计划给多少家企业发放鲁科贷？", ["500家"], "鲁科贷"),
        ("技术经理人培训目标是多少？", ["100人次以上"], "开展技术经理人培训100人次以上"),
        ("今年全市计划实施几个科技创新重点项目？", ["148个"], "实施148个科技创新重点项目"),
        ("148个项目总共投多少钱啊", ["97亿元"], "实现总投资97亿元"),
        ("重点项目投资比上年要增长百分之多少？", ["11%以上"], "增长11%以上"),
        ("科技付总 能派几个人到企业啊", ["300名"], "选派300名科技人才"),
        ("jie bang gua shuai 今年搞几个项目", ["15项以上"], "技术攻关项目15项以上"),
        ("外國專家項目 今年目標幾項", ["20项以上"], "外专项目20项以上"),
        ("联谊体验活动要搞几场？", ["不少于15场(次)"], "不少于15场(次)"),
        ("科技特派员服务团今年建几个", ["3个以上"], "产业服务团3个以上"),
        (
            "重点项目的新增专利和新增销售收入目标分别是多少？",
            ["300件", "20亿元以上"],
            "新增专利申请300件",
        ),
    ],
    ids=[
        "loan-short",
        "loan-firms",
        "training",
        "projects",
        "colloquial-money",
        "growth",
        "homophone",
        "pinyin",
        "traditional",
        "events",
        "service-teams",
        "two-at-once",
    ],
)
def test_target_questions_are_answered_from_the_ledger(ledger, seed_doc, question, facts, evidence):
    answer = ledger_answer(ledger, question)
    assert answer is not None
    assert answer.mode == "targets" and not answer.abstained and answer.question == question
    summary = answer.answer.split("\n")[0]
    for fact in facts:
        assert fact in summary
    cite = answer.citations[0]
    assert evidence in cite.text
    assert seed_doc.page_content[cite.start : cite.end] == cite.text  # exact offsets
    assert f"{cite.text} [1]" in answer.answer  # the verbatim sentence, with its marker
    assert cite.section.endswith(next(r.item for r in ledger.targets if r.start == cite.start))


def test_the_unit_asked_for_picks_the_row(ledger):
    firms = ledger_answer(ledger, "鲁科贷今年争取覆盖多少家企业？").answer.split("\n")[0]
    assert "500家" in firms and "25亿元" not in firms
    growth = ledger_answer(ledger, "科技创新重点项目年度新增投资的增长目标是多少？").answer.split(
        "\n"
    )[0]
    assert "11%以上" in growth and "33亿元" not in growth


@pytest.mark.parametrize(
    "question",
    [
        "鲁科贷的贷款利率是多少？",
        "鲁科贷单个企业最多能贷多少钱？",
        "鲁科贷的担保费是多少？",
        "创新券的额度是多少？",
        "产学研补助最高能补多少？",
        "青岛今年要发放多少鲁科贷？",
        "山东省今年一共要发放多少鲁科贷？",
        "2024年实施了多少个重点项目？",
        "科技活动周具体在几月几号？",
        "148个科技创新重点项目的具体名单有哪些？",
        "什么是“云上研发”？",
        "今年高新技术企业数量要达到多少家？",
        "科技型中小企业的研发投入占比要达到多少？",
        "打造一流科技创新生态要协同打造几个生态？",
        "威海落实的省产业创新政策体系是“几+几”？",
        "技术经理人培训怎么报名，收费多少？",
        "创新券今年发多少张？",
    ],
    ids=[
        "rate",
        "per-firm-cap",
        "fee",
        "voucher-amount",
        "subsidy-cap",
        "other-city",
        "province",
        "other-year",
        "date",
        "names",
        "not-a-quantity",
        "no-such-target",
        "share-not-count",
        "count-of-names",
        "policy-formula",
        "fee-2",
        "unknown-unit",
    ],
)
def test_non_target_questions_are_left_to_the_pipeline(ledger, question):
    assert ledger_answer(ledger, question) is None


def test_follow_up_analysed_by_the_caller(ledger):
    history = [
        {"role": "user", "content": "148个重点项目的销售收入目标？"},
        {"role": "assistant", "content": "新增销售收入20亿元以上。"},
    ]
    standalone, context = condense_with_context("专利呢？", history)
    query = analyse(standalone, ledger.corrector, context, ledger.vocabulary)
    answer = ledger_answer(ledger, query)
    assert answer is not None and "300件" in answer.answer.split("\n")[0]
    assert answer.question == standalone


def test_filters_scope_the_answer(ledger):
    assert ledger_answer(ledger, "鲁科贷要发多少？", Filters(doc_ids=("别的文件.txt",))) is None
    assert ledger_answer(ledger, "鲁科贷要发多少？", Filters(year=2024)) is None
    assert ledger_answer(ledger, "鲁科贷要发多少？", Filters(year=2025)) is not None


# -- the CLI ---------------------------------------------------------------------------------


def _run(args, corpus: Path, index: Path):
    env = {**os.environ, "PA_CORPUS_DIR": str(corpus), "PA_INDEX_DIR": str(index)}
    return subprocess.run(
        [EXE, "targets", *args], check=False, capture_output=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def cli_corpus(tmp_path_factory) -> Path:
    return copy_seed_corpus(tmp_path_factory.mktemp("targets-cli") / "corpus")


def test_cli_exports_csv_with_bom(cli_corpus, tmp_path):
    out = _run(["--q", "鲁科贷", "--format", "csv"], cli_corpus, tmp_path / "index")
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.startswith(b"\xef\xbb\xbf")
    records = list(csv.DictReader(io.StringIO(out.stdout.decode("utf-8-sig"))))
    assert [r["指标值"] for r in records] == ["500家", "25亿元以上"]


def test_cli_json_and_table(cli_corpus, tmp_path):
    out = _run(["--section", "16", "--json"], cli_corpus, tmp_path / "index")
    assert out.returncode == 0, out.stderr.decode()
    rows = json.loads(out.stdout)["targets"]
    assert [(r["value"], r["unit"]) for r in rows] == [(100, "人次"), (30, "项")]
    table = _run(["--q", "技术经理人"], cli_corpus, tmp_path / "index")
    assert table.returncode == 0 and "开展技术经理人培训" in table.stdout.decode()


def test_cli_writes_a_file_and_rejects_unknown_formats(cli_corpus, tmp_path):
    target = tmp_path / "指标台账.csv"
    out = _run(["--output", str(target), "--format", "csv"], cli_corpus, tmp_path / "index")
    assert out.returncode == 0 and target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"))))) == 23
    bad = _run(["--format", "xml"], cli_corpus, tmp_path / "index")
    assert bad.returncode == 2 and "不支持的输出格式" in bad.stderr.decode()
    assert b"Traceback" not in bad.stderr


@pytest.mark.parametrize("text", ['=HYPERLINK("x")', "+1", "-1+2", "@SUM(A1)"])
def test_csv_cells_cannot_become_formulas(text):
    from assistant.targets import _cell

    assert _cell(text) == "'" + text
    assert _cell("实施148个项目") == "实施148个项目"
