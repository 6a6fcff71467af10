"""公文 metadata as first-class fields, from what the file states (metadata boxes, page headers,
front lists) and from the text itself (红头, 文号 line, signature, "自…起施行", "有效期…",
"……同时废止"), and repeal relations resolved across the corpus.

Fields (``None`` where the document does not say): ``doc_no`` (文号), ``issuers`` (发文机关,
one or several), ``date`` (成文日期), ``published`` (发布日期), ``effective_from`` (施行日期),
``effective_to`` (有效期至), ``status`` (现行 | 已失效 | 已废止), ``superseded_by``, ``repeals``
(the titles/文号 it names as repealed), ``interprets`` (the document a 解读 explains),
``index_no`` (索引号), ``places`` (the places it is about, from its issuers and title).
Dates are ISO (``2025-03-01``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field

from .blocks import Parsed

DOC_NO = re.compile(
    r"[\u4e00-\u9fff]{1,12}\s*[〔\[［（(]\s*(?:19|20)\d{2}\s*[〕\]］）)]\s*\d{1,4}\s*号"
)
_DOC_NO_LINE = re.compile(rf"^(?:{DOC_NO.pattern})$")
DATE = re.compile(r"((?:19|20)\d{2})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*日?")
_DATE_LINE = re.compile(rf"^{DATE.pattern}(?:印发)?$")
_PRINTED_LINE = re.compile(rf"{DATE.pattern}\s*印发\s*$")
_ORG_END = r"(?:局|委员会|委|人民政府|政府|办公室|办公厅|厅|部|院|中心|协会|银行|公司)"
_ORG = re.compile(rf"[\u4e00-\u9fff（）()]{{2,30}}?{_ORG_END}")
_ORGS_DATE_LINE = re.compile(rf"^(.{{4,80}}?)\s+({DATE.pattern})$")


def _is_org_line(line: str) -> bool:
    """A line made only of organisation names ("东港市科学技术局　东港市财政局")."""
    parts = [p for p in re.split(r"[\s、，,]+", line) if p]
    return bool(parts) and len(line) <= 80 and all(_ORG.fullmatch(p) for p in parts)


_PLACE = re.compile(r"([\u4e00-\u9fff]{2,7}?(?:自治区|自治州|省|市|区|县|旗|盟))")
_EFFECTIVE = re.compile(rf"自\s*{DATE.pattern}\s*起\s*(?:施行|实施|执行|生效)")
_VALID_UNTIL = re.compile(rf"有效期\s*(?:[:：]\s*)?(?:至|到|截至)\s*{DATE.pattern}")
_VALID_YEARS = re.compile(r"有效期\s*(?:为)?\s*([一二三四五六七八九十\d]+)\s*年")
_REPEAL = re.compile(
    r"《([^》]{2,60})》\s*(?:[（(]([^）)]*?号)[）)])?[^。；《]{0,30}?(?:同时|予以|即行|一并)?废止"
)
_TRANSMIT = re.compile(r"关于印发《([^》]+)》的通知")
_DOC_TYPE = re.compile(
    r"(办法|细则|规定|条例|意见|方案|通知|要点|指南|计划|规划|决定|通告|公告|解读|政策|措施|清单|目录)"
)
_INTERPRETS = re.compile(r"^《([^》]+)》\s*(?:政策)?解读")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九十")}

FIELD_ALIASES = {
    "doc_no": ("文号", "发文字号"),
    "issuers": ("发文机关", "发布机构", "发布单位", "发文单位"),
    "date": ("成文日期", "发文日期"),
    "published": ("发布日期", "发布时间"),
    "effective_from": ("施行日期", "实施日期"),
    "validity": ("有效期",),
    "status": ("有效性",),
    "index_no": ("索引号",),
    "interprets": ("解读文件",),
}


@dataclass
class DocMeta:
    title: str
    doc_no: str | None = None
    issuers: list[str] = field(default_factory=list)
    date: str | None = None
    published: str | None = None
    effective_from: str | None = None
    effective_to: str | None = None
    status: str = "现行"
    status_stated: bool = False  # the document (or its page) says so itself
    superseded_by: str | None = None
    repeals: list[dict] = field(default_factory=list)  # [{"title": …, "doc_no": …}]
    interprets: str | None = None
    index_no: str | None = None
    places: list[str] = field(default_factory=list)
    year: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def iso_date(text: str | None) -> str | None:
    if not text or not (m := DATE.search(text)):
        return None
    y, mo, d = (int(g) for g in m.groups())
    try:
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def _field(fields: dict[str, str], key: str) -> str | None:
    for label in FIELD_ALIASES[key]:
        if value := (fields.get(label) or "").strip():
            return value
    return None


def _cn_int(s: str) -> int | None:
    if s.isdigit():
        return int(s)
    if s == "十":
        return 10
    if len(s) == 1 and s in _CN_DIGITS:
        return _CN_DIGITS[s]
    if s.startswith("十") and len(s) == 2:
        return 10 + _CN_DIGITS.get(s[1], 0)
    return None


def _add_years(iso: str, years: int) -> str:
    d = dt.date.fromisoformat(iso)
    try:
        end = d.replace(year=d.year + years)
    except ValueError:  # 29 February
        end = d.replace(year=d.year + years, day=28)
    return (end - dt.timedelta(days=1)).isoformat()


def _status(value: str) -> str | None:
    if "废止" in value:
        return "已废止"
    if "失效" in value or "过期" in value:
        return "已失效"
    if "有效" in value or "现行" in value:
        return "现行"
    return None


def title_of(parsed: Parsed, fallback: str) -> str:
    """The document's own title: the reader's (markup) title, else the first title-like line
    near the top; a transmittal "关于印发《X》的通知" is titled by the policy X it carries."""
    lines = [parsed.text[b.start : b.end] for b in parsed.blocks[:15]]
    title = parsed.title
    if not title:
        candidates = [line for line in lines if _title_like(line)]
        typed = [line for line in candidates if _DOC_TYPE.search(line)]
        title = (typed or candidates or [fallback])[0]
    title = title.strip().lstrip("#").strip()
    if m := _TRANSMIT.search(title):
        title = m.group(1)
    return title


def _title_like(line: str) -> bool:
    return (
        4 <= len(line) <= 60
        and not re.search(r"[。；;：:]$", line)
        and not line.endswith("文件")
        and not _DOC_NO_LINE.match(line)
        and not _DATE_LINE.match(line)
        and not _is_org_line(line)
        and not line.startswith(("（", "("))
        and not re.match(r"^([一二三四五六七八九十]+、|第[一二三四五六七八九十百\d]+[章条])", line)
    )


def extract(parsed: Parsed, fallback_title: str, today: dt.date | None = None) -> DocMeta:
    """Metadata of one document from its own fields and text (repeal targets unresolved)."""
    from .plain import read_fields

    text = parsed.text
    lines = [text[b.start : b.end] for b in parsed.blocks]
    fields = dict(parsed.fields)
    for line in lines[:20]:  # "发布单位：…　文号：…" lines at the top of the body
        for label, value in (read_fields(line) or {}).items():
            fields.setdefault(label, value)
    head, tail = lines[:20], lines[-8:]
    meta = DocMeta(title=title_of(parsed, fallback_title))

    no = _field(fields, "doc_no")
    meta.doc_no = m.group(0) if no and (m := DOC_NO.search(no)) else None
    if meta.doc_no is None:
        meta.doc_no = next((line for line in head if _DOC_NO_LINE.match(line)), None)

    if issuers := _field(fields, "issuers"):
        meta.issuers = [s for s in re.split(r"[\s、，,;；]+", issuers) if s]
    else:
        red = next((line for line in head if line.endswith("文件") and _ORG.search(line)), None)
        if red:
            meta.issuers = _ORG.findall(red[: -len("文件")])
        else:  # the signature: a line of organisations right above the date
            for a, b in zip(lines, lines[1:], strict=False):
                if _is_org_line(a) and _DATE_LINE.match(b):
                    meta.issuers = _ORG.findall(a)
                    break
            else:  # … or on one line with it: "某县科学技术局　某县财政局　2025年1月5日"
                for line in head + tail:
                    if (m := _ORGS_DATE_LINE.match(line)) and _is_org_line(m.group(1)):
                        meta.issuers = _ORG.findall(m.group(1))
                        break
        meta.issuers = [re.sub(r"\s+", "", s) for s in meta.issuers]

    meta.date = iso_date(_field(fields, "date"))
    if meta.date is None:
        signed = next(
            (
                line
                for line in head + tail
                if _DATE_LINE.match(line)
                or (m := _ORGS_DATE_LINE.match(line))
                and _is_org_line(m.group(1))
            ),
            None,
        )
        meta.date = iso_date(signed)
    if meta.date is None:  # 版记: "……办公室　　2025年2月10日印发", the last such line — a date
        # before 印发 inside a sentence ("2020年4月20日印发的《……》同时废止") is another document's
        printed = next((m for line in reversed(tail) if (m := _PRINTED_LINE.search(line))), None)
        meta.date = iso_date(printed.group(0)) if printed else None
    meta.published = iso_date(_field(fields, "published"))

    meta.effective_from = iso_date(_field(fields, "effective_from"))
    if meta.effective_from is None and (m := _EFFECTIVE.search(text)):
        meta.effective_from = iso_date(m.group(0))
    validity = _field(fields, "validity") or ""
    if m := _VALID_UNTIL.search(f"有效期{validity}" if validity else text):
        meta.effective_to = iso_date(m.group(0))
    elif (m := _VALID_YEARS.search(text)) and meta.effective_from:
        if (n := _cn_int(m.group(1))) is not None:
            meta.effective_to = _add_years(meta.effective_from, n)

    if (stated := _field(fields, "status")) and (status := _status(stated)):
        meta.status, meta.status_stated = status, True
    elif meta.effective_to and meta.effective_to < (today or dt.date.today()).isoformat():
        meta.status = "已失效"

    meta.index_no = _field(fields, "index_no")
    interp = _field(fields, "interprets") or ""
    if m := re.search(r"《([^》]+)》", interp):
        meta.interprets = m.group(1)
    elif m := _INTERPRETS.match(meta.title):
        meta.interprets = m.group(1)

    for m in _REPEAL.finditer(text):
        name, no = m.group(1), m.group(2)
        doc_no = DOC_NO.search(no).group(0) if no and DOC_NO.search(no) else None
        # a revision repeals the earlier version of its own title: then the 文号 tells them apart
        if name == meta.title and (doc_no is None or doc_no == meta.doc_no):
            continue
        meta.repeals.append({"title": name, "doc_no": doc_no})

    meta.places = _places(meta)
    year_src = re.search(r"((?:19|20)\d{2})\s*年", meta.title)
    meta.year = int(year_src.group(1)) if year_src else (int(meta.date[:4]) if meta.date else None)
    return meta


def _places(meta: DocMeta) -> list[str]:
    found: list[str] = []
    for src in [*meta.issuers, meta.title]:
        for m in _PLACE.finditer(src):
            place = m.group(1)
            # "东港市科学技术局" → 东港市; skip generic words that end like places
            if place not in found and not place.startswith(("全市", "本市", "市", "省", "各")):
                found.append(place)
        if found:
            break
    return found


def resolve_repeals(metas: dict[str, DocMeta]) -> None:
    """Mark every document another one repeals: status 已废止, ``superseded_by`` its doc_id.
    A repealed document is found by 文号, else by exact title."""
    by_no = {m.doc_no: doc_id for doc_id, m in metas.items() if m.doc_no}
    by_title = {m.title: doc_id for doc_id, m in metas.items()}
    for doc_id, meta in metas.items():
        for target in meta.repeals:
            old = by_no.get(target.get("doc_no")) or by_title.get(target["title"])
            if old and old != doc_id:
                metas[old].status = "已废止"
                metas[old].superseded_by = doc_id
