"""Understanding a question: normalisation, what kind of fact it asks for, its key terms, and
rule-based condensing of a follow-up ("那贷款呢？") into a standalone question."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .text import STOPWORDS, search_tokens

# Kinds of fact a question can ask for, and what evidence must show to answer it.
FACT_KINDS: dict[str, tuple[re.Pattern, re.Pattern, str]] = {
    # kind: (asked-for pattern in the question, required pattern in the evidence, label)
    "rate": (
        re.compile(r"利率|利息|年化|费率|税率|贴息比例|扣除比例|比例是|百分之几"),
        re.compile(r"(利率|利息|费率|税率|比例)[^。；]*\d+(\.\d+)?\s*%|\d+(\.\d+)?\s*%[^。；]*(利率|利息|费率|税率)"),
        "利率或比例",
    ),
    "money": (
        re.compile(r"多少钱|金额|额度|补助标准|补贴标准|资助标准|奖励标准|奖励多少|补助多少|补贴多少|给多少钱|能拿多少|最高.*(万|元)|面额|面值"),
        re.compile(r"\d+(\.\d+)?\s*(万亿元|亿元|万元|千元|元)|[一二三四五六七八九十百千]+\s*(亿元|万元|元)"),
        "金额",
    ),
    "deadline": (
        re.compile(r"截止|期限|什么时候|何时|哪天|几月|几号|日期|时间节点|申报时间|多久"),
        re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}\s*年\s*\d{1,2}\s*月|月底|月末|年底前|日前|截止"),
        "时间或截止日期",
    ),
    "materials": (
        re.compile(r"材料|提交什么|准备什么|需要哪些(文件|资料)|申报书|证明文件|资料"),
        re.compile(r"材料|申报书|证明|复印件|提交"),
        "申报材料",
    ),
    "contact": (
        re.compile(r"电话|联系方式|联系人|热线|邮箱|网址|地址|在哪办|窗口|办公地点"),
        re.compile(r"\d{3,4}-?\d{7,8}|电话|地址|邮箱|@|https?://|网址"),
        "联系方式",
    ),
    "conditions": (
        re.compile(r"条件|门槛|资格|要求是什么|谁可以申请|什么企业可以|能不能申请|符合什么"),
        re.compile(r"条件|须|应当|符合|具备|要求|资格|支持[^。]*的(企业|团队|单位)"),
        "申请条件",
    ),
}
_QUANTITY = re.compile(r"多少|几个|几家|几项|几名|几场|几次|几人|几件|几|数量|目标是|指标|规模|多大|达到|总额|总投资")
_LIST = re.compile(r"哪些|哪几|有什么|包括|包含|都有|列举|分别")
_FOLLOW_START = re.compile(r"^(那|那么|那个|这个|这|它|其|还有|另外|此外|以及|and|what about)")
_DEICTIC = {"这个", "那个", "这", "那", "它", "其", "该", "此", "这项", "那项", "这些", "那些"}
_INTENT_WORDS = re.compile(
    r"多少钱|多少|几个|几家|几项|几|哪些|哪几|有什么|什么|怎么样|怎么|如何|是否|吗|呢|目标|指标|要求|条件|金额|额度|利率|截止|材料|电话"
)
_PLACE_FILE = Path(__file__).with_name("places.txt")


@lru_cache(maxsize=1)
def _converter():
    try:
        import opencc

        return opencc.OpenCC("t2s")
    except Exception:  # pragma: no cover - opencc is a declared dependency
        return None


def normalise(question: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, squeezed whitespace."""
    text = unicodedata.normalize("NFKC", question)
    conv = _converter()
    if conv is not None:
        text = conv.convert(text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def places() -> frozenset[str]:
    names = []
    for line in _PLACE_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.extend(line.split())
    return frozenset(names)


def has_searchable_content(question: str) -> bool:
    return any(ch.isalnum() for ch in normalise(question))


@dataclass(frozen=True)
class Query:
    original: str
    text: str  # normalised, standalone
    terms: tuple[str, ...]  # key terms (search tokens, deduplicated)
    kinds: tuple[str, ...] = ()  # fact kinds asked for: rate, money, deadline …
    quantity: bool = False
    listing: bool = False
    places: tuple[str, ...] = field(default_factory=tuple)


def analyse(question: str) -> Query:
    text = normalise(question)
    terms = []
    for tok in search_tokens(text):
        if tok not in terms and tok not in _DEICTIC and not _INTENT_WORDS.fullmatch(tok):
            terms.append(tok)
    # a long token also yields its parts (cut_for_search); keep only the longest forms for
    # coverage so that 鲁科贷 is not counted three times
    terms = [t for t in terms if not any(t != o and t in o for o in terms)]
    kinds = tuple(k for k, (asked, _, _) in FACT_KINDS.items() if asked.search(text))
    found_places = tuple(p for p in places() if p in text)
    return Query(
        original=question,
        text=text,
        terms=tuple(terms),
        kinds=kinds,
        quantity=bool(_QUANTITY.search(text)),
        listing=bool(_LIST.search(text)),
        places=found_places,
    )


def content_terms(text: str) -> list[str]:
    return [t for t in analyse(text).terms if t not in STOPWORDS]


def condense(question: str, history: list[dict] | None) -> str:
    """Turn a follow-up into a standalone question using the previous user turn.

    "那贷款呢？" after "创新券有什么政策？" → "贷款 有什么政策"; "这个要多少钱？" after
    "鲁科贷是什么？" → "鲁科贷 这个要多少钱？". A question that stands on its own is returned as is.
    """
    if not history:
        return question
    previous = next(
        (
            _content_str(turn.get("content"))
            for turn in reversed(history)
            if turn.get("role") == "user" and _content_str(turn.get("content")).strip()
        ),
        None,
    )
    if not previous:
        return question
    q = normalise(question)
    own = content_terms(q)
    looks_follow_up = bool(_FOLLOW_START.match(q)) or q.rstrip("?？ ").endswith("呢") or len(q) <= 8
    if not looks_follow_up and len(own) >= 2:
        return question
    if own and not any(t in _DEICTIC for t in own):
        prev_intent = " ".join(_INTENT_WORDS.findall(normalise(previous)))
        own_intent = _INTENT_WORDS.findall(q)
        if [w for w in own_intent if w not in ("呢", "吗")]:
            return f"{' '.join(own)} {q}"
        return f"{' '.join(own)} {prev_intent}".strip()
    return f"{' '.join(content_terms(previous))} {q}"


def _content_str(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
