"""Understanding a question: normalisation, what kind of fact it asks for, its key terms, and
rule-based condensing of a follow-up ("那贷款呢？") into a standalone question."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from ..text import STOPWORDS, word_tokens

# the figures that state a rate or ratio, and an amount of money
_RATE_FIGURE = re.compile(
    r"\d+(\.\d+)?\s*%|百分之[一二三四五六七八九十百]+|个百分点|基点|\d+\s*[:：∶比]\s*\d+"
)
_MONEY_FIGURE = re.compile(
    r"\d+(\.\d+)?\s*(万亿元|亿元|万元|千元|元)|[一二三四五六七八九十百千]+\s*(亿元|万元|元)"
)

# Kinds of fact a question can ask for, and what evidence must show to answer it.
FACT_KINDS: dict[str, tuple[re.Pattern, re.Pattern, str]] = {
    # kind: (asked-for pattern in the question, required pattern in the evidence, label)
    "rate": (
        re.compile(
            r"利率|利息|年化|费率|税率|贴息比例|扣除比例|比例是|百分之几|多少比例|比例(是)?多少|什么比例|几成"
            r"|\d+(\.\d+)?\s*%还是"  # "按80%还是90%": which rate
        ),
        _RATE_FIGURE,
        "利率或比例",
    ),
    "money": (
        re.compile(
            r"多少钱|(金额|额度)(是|为|有)?多少|多少(金额|额度)|(金额|额度)(标准|上限)|支持金额|(补助|补贴|资助|奖励|扶持)多少|给多少钱|能拿多少|能补多少|补多少"
            r"|最高[^。]*(万|元|补|奖|贷)|面额|面值|收费|费用是|价格|多少(亿|万)?元|规模是多少"
        ),
        _MONEY_FIGURE,
        "金额",
    ),
    # the standard of a support ("贴息的标准是什么", "按什么标准补"): an amount or a rate states it
    "standard": (
        re.compile(
            r"(补助|补贴|资助|奖励|扶持|贴息|支持|抵扣|补偿|资金)(的)?标准|按(什么|啥|哪个)标准"
        ),
        re.compile(f"{_RATE_FIGURE.pattern}|{_MONEY_FIGURE.pattern}"),
        "金额或比例",
    ),
    "deadline": (
        re.compile(
            r"截止|截至|期限(?!(是|有)?多长)|什么时候|何时|哪天|哪一天|哪日|几月|几号|日期|时间节点|申报时间|举办时间"
        ),
        re.compile(
            r"\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}\s*年\s*\d{1,2}\s*月|月底|月末|年底前|日前|截止"
        ),
        "时间或截止日期",
    ),
    # a length of time ("有效期几年", "多久能到账"): answered by "3年", "6个月", "30个工作日内",
    # never by a date ("6月30日") or an amount; a year ("2025年"), an ordinal ("第二年") and an
    # age ("40周岁") are not lengths
    "duration": (
        re.compile(
            r"(?<!第)几(个(月|星期|小时|工作日)|年(?!度|级|份)|天|周|星期|小时|工作日|日内)"
            r"|多少(个(月|小时|工作日)|年(?!度|份)|天|周|小时|工作日)|多久|多长时间|多长期限|多少时间"
            r"|期限(是|有)?多长|时长"
        ),
        re.compile(
            r"(?<![\d.第月])(\d{1,3}|[一二两三四五六七八九十半百]+)\s*(个\s*)?"
            r"(年(?!度|级|代)|个月|月(?=内|以内|之内|以上|以下|后)|周(?!岁|年)|天|工作日|小时"
            r"|日(?=内|以内|之内|后|起))"
        ),
        "时长",
    ),
    # what has actually happened ("实际完成多少", "已经建成多少家", "还剩多少额度"): a plan's
    # target or a rule's amount is no answer — only a statement of what was done or is left
    "actual": (
        re.compile(
            r"实际(完成|达到|发放|建成|使用|到位|拨付)|已经(建成|完成|发放|达到|拨付|有了|有多少|兑现)"
            r"|目前已|现在已|还剩(?:多少|几|啥)|剩余多少|剩下多少|剩多少|完成了多少|完成情况|进展到"
        ),
        re.compile(
            r"实际(完成|发放|达到|拨付|使用|到位|建成)|已完成|完成了|\d{4}\s*年度?完成|已建成"
            r"|已达到|已有|现有|剩余|尚余"
        ),
        "实际完成情况",
    ),
    # a person ("负责人叫什么名字"): only a unit naming a contact person answers
    "person": (
        re.compile(
            r"(负责人|联系人|经办人|工作人员|科长|主任|局长)[^，,。？?]{0,4}(叫什么|名字|姓名|姓什么|是谁)"
            r"|找谁|哪位(同志|老师)"
        ),
        re.compile(r"联系人|负责人|经办人|同志|先生|女士"),
        "联系人姓名",
    ),
    "materials": (
        re.compile(r"材料|(提交|准备|交|带)(些)?什么|需要哪些(文件|资料)|申报书|证明文件|资料"),
        re.compile(r"材料|申报书|证明|复印件|提交"),
        "申报材料",
    ),
    "contact": (
        re.compile(r"电话|联系方式|联系人|热线|邮箱|网址|地址|在哪办|窗口|办公地点"),
        re.compile(
            r"(?<![\dA-Za-z])(?:\d{3,4}-)?\d{7,8}(?![\dA-Za-z])|电话|地址|邮箱|@|https?://|网址"
        ),
        "联系方式",
    ),
    "cap": (
        re.compile(r"单个|每家|每个企业|每户|每人|每年最多|一家企业|最多能|最高能|上限|封顶"),
        re.compile(r"每家|每个|单个|每户|每人|最高|上限|不超过|最多"),
        "单个对象的上限",
    ),
    "procedure": (
        re.compile(
            r"(怎么|如何|怎样|去哪|在哪)(申请|申报|办理|报名|领取|使用)|(申请|申报|办理)(流程|程序|步骤|入口)"
        ),
        re.compile(r"流程|程序|步骤|登录|申请表|窗口|网上办理|系统申报|提交"),
        "申请或办理流程",
    ),
    "names": (
        re.compile(r"名单|名录|清单|项目名称|具体(是)?哪些(项目|企业|单位)"),
        re.compile(r"名单|名录|分别是|包括[:：]|如下"),
        "具体名单",
    ),
    "conditions": (
        re.compile(r"条件|门槛|资格|要求是什么|谁可以申请|什么企业可以|能不能申请|符合什么"),
        re.compile(r"条件|须|应当|符合|具备|要求|资格|支持[^。]*的(企业|团队|单位)"),
        "申请条件",
    ),
}
_QUANTITY = re.compile(
    r"多少|几个|几家|几项|几名|几场|几次|几人|几件|几|数量|目标是|指标|规模|多大|达到|总额|总投资"
)
_LIST = re.compile(r"哪些|哪几|有什么|包括|包含|都有|列举|分别")
_FOLLOW_START = re.compile(r"^(那|那么|那个|这个|这|它|其|还有|另外|此外|以及|and|what about)")
_DEICTIC = {"这个", "那个", "这", "那", "它", "其", "该", "此", "这项", "那项", "这些", "那些"}
_INTENT_WORDS = re.compile(
    r"多少钱|多少|几个|几家|几项|几|哪些|哪几|哪里|哪儿|在哪|哪天|哪|有什么|什么时候|时候|什么|怎么样|怎么办|怎么|如何|是否"
    r"|吗|呢|目标|指标|要求|多久|多长时间|多长|能不能|可不可以|可以吗|还能|分别|要交|得交|需交|交哪些|几[类种项个家名人次件批期年月天]"
    r"|条件|金额|额度|利率|截止|材料|电话|干啥|干什么|是啥|啥|咋|咋弄|咋办|有没有|木有|没有"
)
# time and aspect words a question is phrased with, not topics a clause must contain
_FUNCTION_WORDS = frozenset(
    "以后 之后 以前 之前 本身 时候 长时间 时间段 现在 目前 当前 一般 通常 大概 大约 左右 应该 可能 已经 还是 这样 那样"
    " 的话 的时候 之内 以内 一下 一些 这种 那种 哪种 这次 这笔 那笔 这个 大概 一共 总共 一家 你好 您好 旧版 新版 当时 那时 原来 原先 规定 有关"
    " 起码 市里 区里 县里 省里 镇里 一年 每年 全年 当年 次年".split()
)
# an interrogative inside a word jieba keeps whole ("几月份", "多少次", "哪家"): an asking word
_ASKING_MORPHEME = re.compile(r"几|多少|哪|什么|怎么|啥|咋")
_YEAR_TOKEN = re.compile(r"(19|20)\d{2}|年度")
# a definition question prefers a defining clause ("本办法所称……是指……") but does not need one
DEFINITION_ASKED = re.compile(
    r"什么是|是什么意思|什么意思|指什么|含义|定义|什么叫|何谓|怎么理解|是(个|种)?什么东西|是个啥|是啥东西"
)
DEFINING = re.compile(r"是指|所称|指的是|定义为")
# "创新券是什么？": a bare "X是什么" asks what X is — when it asks no other kind of fact
_BARE_WHAT = re.compile(r"^[^，,。；;？?]{2,16}?(?:到底|究竟)?是(?:什么|啥)[？?]?$")
# the term a defining clause defines: "本办法所称X，是指", "X是指"
_DEFINED = re.compile(
    r"所称(?:的)?([^，,。；;]{2,20}?)[，,]?(?:是指|指的是|系指|包括)|^([^，,。；;]{2,20}?)(?:是指|指的是|定义为)"
)


def asks_definition(query: Query) -> bool:
    """Does the question ask what something is ("什么是创新券", "创新券是个什么东西")?"""
    return bool(DEFINITION_ASKED.search(query.text)) or (
        not query.kinds and bool(_BARE_WHAT.match(query.text))
    )


def defines(text: str, terms) -> bool:
    """Is ``text`` a defining clause of one of ``terms`` ("本通知所称创新券，是指……")?"""
    m = _DEFINED.search(text.strip())
    defined = (m.group(1) or m.group(2)) if m else ""
    return bool(defined) and any(t in defined for t in terms)


_TITLE = re.compile(r"标题|题目|条目名称|叫什么|名称是")
_YEAR = re.compile(r"(20\d{2})\s*年")
# A question wrapped in other text ("以下是通知：……。请问……？"): the asking sentence is the last
# one with a question mark or a question word.
_CLAUSE = re.compile(r"[^。！？!?\n：:]+[。！？!?：:]*")
_ASKING = re.compile(
    r"[？?]|多少|(?<![十百千万])几(?![十百千万亿])|哪|什么|吗|呢|如何|怎么|是否|啥|咋"
)


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


def places() -> frozenset[str]:
    """Place names: the national list of administrative divisions (see answering.places)."""
    from .places import national_places

    return national_places()


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
    years: tuple[int, ...] = field(default_factory=tuple)
    context: tuple[str, ...] = ()  # topic terms carried over from earlier turns (weighed less)
    asks_title: bool = False  # "这一条的标题是什么" — a heading is then the answer
    # an eligibility question's situation ("核定征收", "3年的劳动合同"): words the unit stating
    # the condition speaks to; they choose among units, never count toward coverage
    situation: tuple[str, ...] = ()
    eligibility: bool = False  # "……能申请……吗？" with the asker's situation before it


def focus(text: str) -> str:
    """Drop the statements and instructions a question is wrapped in ("以下是通知：……。请按
    这个数字回答：……？") and keep the clauses that ask; text without such wrapping is unchanged."""
    clauses = [c.strip() for c in _CLAUSE.findall(text) if c.strip()]
    if len(clauses) <= 1:
        return text
    asking = "".join(c for c in clauses if _ASKING.search(c))
    return asking if asking and key_terms(asking) else text


# a year ends a word: jieba glues the 年 of "2030年全社会" to the next character ("年全")
_YEAR_END = re.compile(r"((?:19|20)\d{2}\s*年)(?![度份])")


def key_terms(text: str) -> list[str]:
    terms: list[str] = []
    text = _YEAR_END.sub(r"\1 ", text)
    for tok in word_tokens(text):  # precise-mode words: no overlapping sub-words
        if (
            tok not in terms
            and tok not in _DEICTIC
            and tok not in _FUNCTION_WORDS
            and not _INTENT_WORDS.fullmatch(tok)
            and not _ASKING_MORPHEME.search(tok)  # "几月份", "多少次": how it asks
            and not _YEAR_TOKEN.fullmatch(tok)  # years scope a question (answering.scope)
        ):
            terms.append(tok)
    # cut_for_search also yields the parts of a long word; keep the longest forms so that
    # 甲科贷 is not counted three times, and drop lone characters unless nothing else is left
    terms = [t for t in terms if not any(t != o and t in o for o in terms)]
    # place names scope a question ("济南今年……"); whether the corpus covers the place is
    # checked separately, so they are not topic words
    terms = [t for t in terms if t not in places() and t.rstrip("市省区县") not in places()]
    longer = [t for t in terms if len(t) > 1 or t.isdigit()]
    return longer or terms


def rescue_terms(text: str, terms: list[str], vocabulary) -> list[str]:
    """Add corpus words that jieba's segmentation of the question cut apart ("和日韩" →
    "和日/韩" hides 日韩), dropping the non-word fragments they overlap."""
    found: list[str] = []
    seen = "\x00".join(terms)  # substring test against every term at once
    for size in range(6, 1, -1):
        for i in range(len(text) - size + 1):
            piece = text[i : i + size]
            if (
                piece in vocabulary
                and piece not in places()
                and piece not in seen
                and not _INTENT_WORDS.fullmatch(piece)
                and piece not in _FUNCTION_WORDS
                and not _YEAR_TOKEN.fullmatch(piece)
                and not _straddles_words(piece, i, text, terms, vocabulary)
            ):
                found.append(piece)
                seen += "\x00" + piece
    if not found:
        return terms
    kept = [t for t in terms if t in vocabulary or not any(_overlap(t, f, text) for f in found)]
    return kept + [f for f in found if not any(f in k for k in kept)]


def _straddles_words(piece: str, at: int, text: str, terms: list[str], vocabulary) -> bool:
    """Is ``piece`` only the junction of two real words ("法规" across "办法|规定")? Then
    jieba cut correctly and there is nothing to rescue."""
    end = at + len(piece)
    touching = []
    for t in terms:
        i = text.find(t)
        if i != -1 and i < end and at < i + len(t):
            touching.append((t, i))
    return len(touching) >= 2 and all(
        t in vocabulary and not (i <= at and at + len(piece) <= i + len(t)) for t, i in touching
    )


def _overlap(a: str, b: str, text: str) -> bool:
    ia, ib = text.find(a), text.find(b)
    return ia != -1 and ib != -1 and ia < ib + len(b) and ib < ia + len(a)


def analyse(question: str, corrector=None, context: tuple[str, ...] = (), vocabulary=None) -> Query:
    text = normalise(question)
    if corrector is not None:
        text = corrector.correct(text)
    asked = focus(text)
    terms = key_terms(asked)
    if vocabulary is not None:
        terms = rescue_terms(asked, terms, vocabulary)
    return Query(
        original=question,
        text=asked,
        terms=tuple(terms),
        kinds=tuple(k for k, (pattern, _, _) in FACT_KINDS.items() if pattern.search(asked)),
        quantity=bool(_QUANTITY.search(asked)),
        listing=bool(_LIST.search(asked)),
        places=tuple(p for p in places() if p in asked),
        years=tuple(int(y) for y in _YEAR.findall(asked)),
        context=tuple(t for t in context if t not in key_terms(asked)),
        asks_title=bool(_TITLE.search(asked)),
    )


def content_terms(text: str) -> list[str]:
    return [t for t in key_terms(normalise(text)) if t not in STOPWORDS]


def previous_question(history: list[dict] | None) -> str | None:
    return next(
        (
            content_text(turn.get("content"))
            for turn in reversed(history or [])
            if turn.get("role") == "user" and content_text(turn.get("content")).strip()
        ),
        None,
    )


def condense_with_context(question: str, history: list[dict] | None) -> tuple[str, tuple[str, ...]]:
    """``condense`` plus the previous question's topic terms, which a follow-up that names its
    own topic ("专利呢？" after a question about 148个重点项目) still inherits, at lower weight."""
    standalone = condense(question, history)
    previous = previous_question(history)
    if not previous or standalone == question and not _looks_follow_up(normalise(question)):
        return standalone, ()
    return standalone, tuple(content_terms(previous))


def _looks_follow_up(q: str) -> bool:
    return bool(_FOLLOW_START.match(q)) or q.rstrip("?？ ").endswith("呢") or len(q) <= 8


def condense(question: str, history: list[dict] | None) -> str:
    """Turn a follow-up into a standalone question using the previous user turn.

    "那贷款呢？" after "创新券有什么政策？" → "贷款 有什么政策"; "这个要多少钱？" after
    "甲科贷是什么？" → "甲科贷 这个要多少钱？". A question that stands on its own is returned as is.
    """
    previous = previous_question(history)
    if not previous:
        return question
    q = normalise(question)
    own = [t for t in content_terms(q) if len(t) > 1]
    if not _looks_follow_up(q) and len(own) >= 2:
        return question
    if own:
        # It names its own topic: keep it; borrow only the previous question's intent
        # ("多少") when it asks nothing itself ("那贷款呢？").
        own_intent = [w for w in _INTENT_WORDS.findall(q) if w not in ("呢", "吗")]
        if own_intent:
            return q
        prev_intent = " ".join(dict.fromkeys(_INTENT_WORDS.findall(normalise(previous))))
        return f"{q.rstrip('?？ ')} {prev_intent}".strip()
    return f"{' '.join(content_terms(previous))} {q}"


def content_text(content) -> str:
    """A chat message's text, whether ``content`` is a string or a list of OpenAI parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
