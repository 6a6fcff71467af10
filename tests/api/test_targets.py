"""``GET /v1/targets`` on the real uvicorn server over the seed index: the ledger as JSON (the CLI's
object), the CLI's filters, the CSV export with BOM, and a Chinese 422 for an unknown format."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import pytest

from assistant.targets import CSV_COLUMNS, TargetLedger

LUKEDAI_SECTION_END = "13.优化全周期科技金融服务"


def _targets(http, **params) -> list[dict]:
    response = http.get("/v1/targets", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["targets"]


def test_json_is_the_ledger_the_cli_prints(http, assistant):
    rows = _targets(http)
    assert rows == TargetLedger.to_json(assistant.target_rows())
    assert len(rows) > 20 and all(r["title"] == "2025年全市科技工作要点" for r in rows)


def test_lukedai_rows_carry_value_unit_qualifier_and_section(http):
    rows = [r for r in _targets(http) if "鲁科贷" in r["sentence"]]
    found = {(r["value"], r["unit"], r["qualifier"], r["display"]) for r in rows}
    assert found == {(500, "家", "", "500家"), (25, "亿元", "以上", "25亿元以上")}
    for r in rows:
        assert r["section"].startswith("四、") and r["section"].endswith(LUKEDAI_SECTION_END)
        assert r["item"] == LUKEDAI_SECTION_END
        assert r["subject"] == "为企业发放科技成果转化贷款"
        assert isinstance(r["value"], int)  # 500, not 500.0


def test_keyword_filter_keeps_exactly_the_rows_that_mention_it(http):
    everything = _targets(http)
    rows = _targets(http, q="鲁科贷")
    assert rows == [r for r in everything if "鲁科贷" in r["sentence"]]
    assert len(rows) == 2 < len(everything)


def test_section_filter_by_item_number(http):
    rows = _targets(http, section="6")
    assert [r["display"] for r in rows] == [
        "148个",
        "97亿元",
        "33亿元",
        "11%以上",
        "300件",
        "20亿元以上",
    ]
    assert {r["item"] for r in rows} == {"6.抓好科技创新重点项目实施"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"doc": "2025年全市科技工作要点", "q": "技术经理人"}, ["100人次以上"]),
        ({"section": "16", "q": "技术经理人"}, ["100人次以上"]),
        ({"section": "科技金融服务"}, ["500家", "25亿元以上"]),
        ({"doc": "没有这个文件.txt"}, []),
    ],
    ids=["doc-and-keyword", "item-and-keyword", "section-text", "unknown-doc"],
)
def test_filters_combine(http, params, expected):
    assert [r["display"] for r in _targets(http, **params)] == expected


def test_csv_has_bom_chinese_headers_and_the_rows(http):
    response = http.get("/v1/targets", params={"format": "csv", "q": "鲁科贷"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "指标台账.csv"

    assert response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0] == [header for _key, header in CSV_COLUMNS]
    records = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    assert [(r["数值"], r["单位"], r["限定"]) for r in records] == [
        ("500", "家", ""),
        ("25", "亿元", "以上"),
    ]
    assert all("鲁科贷" in r["原文"] and r["条目"] == LUKEDAI_SECTION_END for r in records)
    assert {r["文件"] for r in records} == {"2025年全市科技工作要点"}


def test_csv_of_one_document_is_named_after_it(http):
    response = http.get(
        "/v1/targets", params={"format": "CSV", "doc": "2025年全市科技工作要点.txt"}
    )
    assert response.status_code == 200
    encoded = response.headers["content-disposition"].split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "2025年全市科技工作要点-指标台账.csv"
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(table) == 1 + len(_targets(http))


def test_unknown_format_is_a_chinese_422(http):
    response = http.get("/v1/targets", params={"format": "xlsx"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert "不支持的输出格式 xlsx" in body["detail"] and "csv" in body["detail"]
