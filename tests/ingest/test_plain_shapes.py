"""Plain-text shapes: a table typed as aligned columns, a revision repealing the earlier
version of its own title, a signature of issuers and date on one line."""

from __future__ import annotations

from assistant.ingest.plain import read_plain
from assistant.load import load_bytes

TABLE = """二、抵扣标准
服务类别              抵扣比例    单张上限
检验检测              50%         10万元
大型科研仪器共享      50%         10万元
说明：抵扣金额按合同实际支付金额计算。
"""


def test_a_table_typed_as_aligned_text_becomes_rows_under_their_header():
    parsed = read_plain(TABLE.encode("utf-8"), "t.txt")
    rows = [b for b in parsed.blocks if b.kind == "table_row"]
    assert [parsed.text[b.start : b.end] for b in rows] == [
        "检验检测 50% 10万元",
        "大型科研仪器共享 50% 10万元",
    ]  # quoted as typed
    assert rows[1].headers == ("服务类别", "抵扣比例", "单张上限")
    assert rows[1].cells == ("大型科研仪器共享", "50%", "10万元")
    assert rows[1].lead_in == "服务类别 抵扣比例 单张上限"
    kinds = [b.kind for b in parsed.blocks]
    assert kinds.count("paragraph") == 3  # heading line, header line, 说明


def test_prose_with_wide_spaces_is_no_table():
    text = "第一条　为规范管理，制定本办法。\n第二条　本办法适用于全市。\n第三条　本办法自印发之日起施行。"
    parsed = read_plain(text.encode("utf-8"), "p.txt")
    assert not [b for b in parsed.blocks if b.kind == "table_row"]


NEW = """青川市科学技术局文件
青科发〔2024〕12号
青川市科技型企业研发费用补助办法
第一条　为激励企业加大研发投入，制定本办法。
第二十条　本办法自2024年5月1日起施行。
第二十一条　2020年4月20日印发的《青川市科技型企业研发费用补助办法》（青科发〔2020〕8号）同时废止。
青川市科学技术局办公室　　2024年3月15日印发
"""


def test_a_revision_repeals_the_earlier_version_of_its_own_title_by_its_number():
    meta = load_bytes(NEW.encode("utf-8"), "新.txt").metadata
    assert meta["repeals"] == [
        {"title": "青川市科技型企业研发费用补助办法", "doc_no": "青科发〔2020〕8号"}
    ]
    # its date is its own 版记's, not the repealed version's date in the repeal clause
    assert meta["date"] == "2024-03-15" and meta["year"] == 2024


def test_issuers_and_date_on_one_signature_line():
    text = "# 白水县2025年科技特派员工作要点\n\n白水县科学技术局　白水县农业农村局　2025年2月20日\n\n## 一、总体要求\n\n全县选派科技特派员120名。\n"
    meta = load_bytes(text.encode("utf-8"), "要点.md").metadata
    assert meta["issuers"] == ["白水县科学技术局", "白水县农业农村局"]
    assert meta["date"] == "2025-02-20"


def test_a_text_table_row_is_a_chunk_read_under_its_header_line():
    from assistant.chunk import chunk_document

    doc = load_bytes(TABLE.encode("utf-8"), "表.txt")
    rows = [c for c in chunk_document(doc) if c.kind == "table_row"]
    assert [c.text for c in rows] == ["检验检测 50% 10万元", "大型科研仪器共享 50% 10万元"]
    assert all(c.lead_in == "服务类别 抵扣比例 单张上限" for c in rows)


def test_items_under_a_lead_in_read_as_a_heading_stay_one_list():
    from assistant.chunk import chunk_document

    text = (
        "关于开展创新券申领工作的通知\n\n各有关企业：\n\n三、申领时间和方式\n\n（一）申领时间：4月1日至4月30日。\n\n"
        "（三）申领材料：\n\n1. 申领申请表；\n\n2. 营业执照复印件；\n\n3. 财务报表。\n"
    )
    chunks = chunk_document(load_bytes(text.encode("utf-8"), "材料.txt"))
    lists = [c for c in chunks if "营业执照" in c.text]
    assert len(lists) == 1 and "申领申请表" in lists[0].text and "财务报表" in lists[0].text
    assert lists[0].section.endswith("（三）申领材料：")
