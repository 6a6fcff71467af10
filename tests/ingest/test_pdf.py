"""read_pdf over the devcorpus sample (3 pages, running header and footer, articles and a list
crossing page breaks) and over PDFs drawn here with reportlab."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from assistant.errors import LoadError
from assistant.ingest.blocks import Parsed
from assistant.ingest.pdf import read_pdf

DATA = Path(__file__).resolve().parents[1] / "data" / "pdf"
SAMPLE = DATA.parent / "devcorpus" / "东港市科技成果转化奖励办法.pdf"
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

NUMBERED = re.compile(
    r"^(第[一二三四五六七八九十百\d]+[章节条] |[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]"
    r"|\d+[.、]|[（(]\d+[）)]|[问答]：)"
)
CN = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else CN[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN[tens]) + "十" + (CN[ones] if ones else "")


def texts(parsed: Parsed) -> list[str]:
    return [parsed.text[b.start : b.end] for b in parsed.blocks]


@pytest.fixture(scope="module")
def sample() -> Parsed:
    return read_pdf(SAMPLE.read_bytes(), SAMPLE.name)


# --- drawing test PDFs ------------------------------------------------------------------------

W, H = A4
LEFT, RIGHT, TOP, BOTTOM = 72, 72, H - 100, 80


def wrap(text: str, size: float) -> list[str]:
    lines, cur = [], ""
    for ch in text:
        if cur and pdfmetrics.stringWidth(cur + ch, FONT, size) > W - LEFT - RIGHT:
            lines.append(cur)
            cur = ""
        cur += ch
    return [*lines, cur] if cur else lines


def make_pdf(
    items: list[tuple[str, str]],
    *,
    header: str | None = None,
    footer: str | None = None,
    lines_per_page: int = 100,
    **canvas_kw,
) -> bytes:
    """items: ("title", text) centred at 18pt, ("para", text) wrapped at 12pt, ("line", text)
    one 12pt line as given. ``footer`` may contain {n} and {total}. ``lines_per_page`` forces
    page breaks."""
    laid: list[tuple[str, float, bool]] = []
    for kind, text in items:
        if kind == "title":
            laid.append((text, 18, True))
        elif kind == "line":
            laid.append((text, 12, False))
        else:
            laid += [(line, 12, False) for line in wrap(text, 12)]
    pages = [laid[i : i + lines_per_page] for i in range(0, len(laid), lines_per_page)] or [[]]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, **canvas_kw)
    for n, page in enumerate(pages, 1):
        if header:
            c.setFont(FONT, 10)
            c.drawCentredString(W / 2, H - 50, header)
        y = TOP
        for text, size, centred in page:
            c.setFont(FONT, size)
            if centred:
                c.drawCentredString(W / 2, y, text)
            else:
                c.drawString(LEFT, y, text)
            y -= size * 1.8
        if footer:
            c.setFont(FONT, 10)
            c.drawCentredString(W / 2, 40, footer.format(n=n, total=len(pages)))
        c.showPage()
    c.save()
    return buf.getvalue()


# --- the devcorpus sample ---------------------------------------------------------------------


def test_line_breaks_fall_only_between_sentences_or_before_numbered_units(sample):
    assert sample.text.count("\n") == len(sample.blocks) - 1
    for prev, nxt in zip(sample.blocks, sample.blocks[1:], strict=False):
        a, b = sample.text[prev.start : prev.end], sample.text[nxt.start : nxt.end]
        sentence_end = a.rstrip("”’」）)》")[-1] in "。！？；："
        standalone = len(a) <= 20 and not re.search("[，。；]", a)  # 文号, 落款, 日期
        heading = "heading" in (prev.kind, nxt.kind)
        assert sentence_end or NUMBERED.match(b) or heading or standalone, (a, b)


def test_each_article_and_list_item_is_exactly_one_block_ending_in_a_full_stop(sample):
    blocks = texts(sample)
    for n in range(1, 21):
        label = f"第{cn_number(n)}条 "
        holding = [t for t in blocks if t.startswith(label)]
        assert len(holding) == 1, label
        assert holding[0][-1] in "。：", holding[0]
    for item in ("（一）", "（二）", "（三）", "（四）"):
        assert sum(t.startswith(item) for t in blocks) == 1


def test_running_header_and_page_footer_are_removed(sample):
    assert "东港市科学技术局文件" not in sample.text
    assert "页" not in sample.text.replace("页面", "")
    assert "—" not in sample.text


def test_article_crossing_pages_one_and_two_is_one_block_on_page_one(sample):
    (block,) = [b for b in sample.blocks if sample.text[b.start :].startswith("第五条")]
    text = sample.text[block.start : block.end]
    assert "2%给予奖励" in text and "100万元" in text
    assert block.page == 1 and block.kind == "paragraph"


def test_list_crossing_pages_two_and_three_has_every_item_and_no_header_between(sample):
    start = sample.text.index("第十二条")
    end = sample.text.index("第十三条")
    span = sample.text[start:end]
    for item in ("（一）", "（二）", "（三）", "（四）"):
        assert item in span
    assert "未列入科研诚信严重失信行为记录名单。" in span
    assert "东港市科学技术局文件" not in span
    pages = {b.page for b in sample.blocks if start <= b.start < end}
    assert pages == {2}  # item （四） starts on page 2 and ends on page 3
    assert next(b.page for b in sample.blocks if b.start == end) == 3


def test_block_offsets_slice_the_text_and_every_block_has_a_page(sample):
    assert sample.blocks
    for block in sample.blocks:
        piece = sample.text[block.start : block.end]
        assert piece and piece == piece.strip() and "\n" not in piece
        assert block.page in (1, 2, 3)
    assert [b.page for b in sample.blocks] == sorted(b.page for b in sample.blocks)


def test_title_is_the_document_title_not_the_running_header(sample):
    assert sample.title == "东港市科技成果转化奖励办法"
    headings = [t for b, t in zip(sample.blocks, texts(sample), strict=True) if b.kind == "heading"]
    assert "东港市科技成果转化奖励办法" in headings
    # the two-line notice title is rejoined into one heading
    assert "东港市科学技术局 东港市财政局关于印发《东港市科技成果转化奖励办法》的通知" in headings
    assert all(b.level == 1 for b in sample.blocks if b.kind == "heading")
    assert sample.fields == {}


# --- generated PDFs ---------------------------------------------------------------------------

LONG = (
    "第三条 申请补助的企业应当在本市注册登记满一年，上一年度研发投入不低于营业收入的百分之三，"
    "并且建立了规范的研发费用辅助账，补助资金按照研发投入增量的百分之十核定，单个企业每年最高"
    "不超过二百万元，所需资金由市级科技专项资金列支。"
)


def test_other_header_and_footer_on_two_pages_are_removed_and_paragraph_rejoined():
    items = [
        ("title", "东港市研发投入补助试行办法"),
        ("para", "第一条 为鼓励企业加大研发投入，制定本办法。"),
        ("para", "第二条 本办法适用于本市规模以上工业企业。"),
        ("para", LONG),
        ("para", "第四条 本办法自发布之日起施行。"),
    ]
    data = make_pdf(
        items,
        header="科技政策汇编（内部资料）",
        footer="- {n} -",
        lines_per_page=4,
        title="untitled",
    )
    assert len(PdfReader(io.BytesIO(data)).pages) == 2
    parsed = read_pdf(data, "补助.pdf")
    assert "科技政策汇编" not in parsed.text
    assert not re.search(r"-\s*\d\s*-", parsed.text)
    (article,) = [b for b in parsed.blocks if parsed.text[b.start :].startswith("第三条")]
    assert parsed.text[article.start : article.end] == LONG
    assert article.page == 1
    assert next(b.page for b in parsed.blocks if parsed.text[b.start :].startswith("第四条")) == 2
    assert parsed.title == "东港市研发投入补助试行办法"
    assert parsed.blocks[0].kind == "heading"


@pytest.mark.parametrize("footer", ["第 {n} 页 共 {total} 页", "- {n} -", "第{n}页", "{n}"])
def test_lone_page_number_of_a_one_page_document_is_dropped(footer):
    parsed = read_pdf(make_pdf([("para", LONG)], footer=footer), "单页.pdf")
    assert texts(parsed) == [LONG]
    assert [b.page for b in parsed.blocks] == [1]


def test_title_reused_as_smaller_running_header_survives_on_page_one():
    name = "东港市科技创新券管理办法"
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(1, 4):
        c.setFont(FONT, 10)
        c.drawCentredString(W / 2, H - 50, name)
        c.setFont(FONT, 18 if n == 1 else 12)
        c.drawCentredString(W / 2, TOP, name if n == 1 else "")
        c.setFont(FONT, 12)
        c.drawString(LEFT, TOP - 40, f"第{cn_number(n)}条 本条为第{n}页的正文。")
        c.showPage()
    c.save()
    parsed = read_pdf(buf.getvalue(), "创新券.pdf")
    assert parsed.title == name
    assert parsed.text.count(name) == 1
    assert texts(parsed)[0] == name


def test_latin_words_keep_one_space_across_a_wrap_and_chinese_gets_none():
    lines = [
        "本项目由东港市科学技术局牵头，东港市财政局与 Shandong Science and",
        "Technology Park 共同负责实施，按照合同金额的2%",
        "给予补助。",
    ]
    parsed = read_pdf(make_pdf([("line", line) for line in lines]), "latin.pdf")
    assert texts(parsed) == [
        "本项目由东港市科学技术局牵头，东港市财政局与 Shandong Science and Technology Park"
        " 共同负责实施，按照合同金额的2%给予补助。"
    ]


def test_uniform_font_title_falls_back_to_a_line_ending_in_a_document_type():
    items = [("para", "东港市科技型企业认定指南"), ("para", LONG)]
    parsed = read_pdf(make_pdf(items), "指南.pdf")
    assert parsed.title == "东港市科技型企业认定指南"
    assert texts(parsed) == ["东港市科技型企业认定指南", LONG]


def test_no_title_when_nothing_looks_like_one():
    parsed = read_pdf(make_pdf([("para", LONG)]), "无题.pdf")
    assert parsed.title is None


# --- errors -----------------------------------------------------------------------------------


def test_pdf_with_a_user_password_is_rejected_as_encrypted():
    data = make_pdf([("para", LONG)], encrypt="secret")
    with pytest.raises(LoadError) as err:
        read_pdf(data, "加密.pdf")
    assert err.value.reason == "PDF 已加密，无法读取（请提供未加密的版本）"
    assert err.value.path == "加密.pdf"


def test_pdf_encrypted_with_an_empty_user_password_is_read():
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf([("para", LONG)])))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert PdfReader(io.BytesIO(out.getvalue())).is_encrypted
    assert texts(read_pdf(out.getvalue(), "只限编辑.pdf")) == [LONG]


def test_image_only_pdf_is_rejected_as_having_no_text_layer():
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(LoadError) as err:
        read_pdf(buf.getvalue(), "扫描件.pdf")
    assert err.value.reason == "PDF 没有文字层（可能是扫描件），需要 OCR 识别后才能收录"


def test_pdf_whose_only_text_is_page_numbers_has_no_text_layer():
    with pytest.raises(LoadError, match="没有文字层"):
        read_pdf(make_pdf([], footer="- {n} -"), "只有页码.pdf")


@pytest.mark.parametrize(
    "data",
    [b"this is not a pdf at all", (DATA / "corrupt.pdf").read_bytes(), SAMPLE.read_bytes()[:2000]],
    ids=["garbage", "corrupt-fixture", "truncated"],
)
def test_corrupt_pdf_is_rejected_with_the_exception_type(data):
    with pytest.raises(LoadError) as err:
        read_pdf(data, "坏.pdf")
    assert re.fullmatch(r"PDF 文件损坏或格式不正确（\w+）", err.value.reason)


def test_a_full_line_stopping_mid_word_wraps_into_a_first_line_read_at_another_size():
    # pypdf can misread the size of a page's first line (after its running header): a full
    # body line that stops mid-sentence still goes on into it
    from assistant.ingest.pdf import Line, parse_lines

    text = (
        "第一条 为规范创新平台奖励资金管理，根据有关规定，结合本市实际，制定本办法。"
        "第二条 县级科技主管部门进行初审，市科技局会同市财政局组织复核，复核结果在市科技局"
        "门户网站公示，公示期不少于5个工"
    )
    width = 19  # 95 characters: five full lines
    first = [Line(text[i : i + width], 15.0, 1) for i in range(0, len(text), width)]
    second = [
        Line("作日。", 9.0, 2),
        Line("第三条 公示无异议的，市财政局于当年6月30日前将奖励资金拨付", 15.0, 2),
        Line("至依托单位。", 15.0, 2),
    ]
    assert len(first[-1].text) == width  # the page ends on a full line, mid-word
    parsed = parse_lines([first, second], None, "t.pdf")
    assert "公示期不少于5个工作日。" in parsed.text
