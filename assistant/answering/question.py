"""What a question asks, apart from how it is wrapped.

- **Preamble**: a question that opens with a greeting or a self-introduction ("您好，我们是做软件
  外包的小企业，员工三十来人……") keeps those clauses only as context; the ask is the
  rest ("这次的服务券最多能领多少？"). Filler that introduces the ask ("想问一下", "请问") is
  dropped.
- **Eligibility**: a yes/no question whether the asker may apply for, receive or count for
  something ("……合同签了两年，这种情况能领住房补贴吗？"). Its preamble is then no mere
  wrapping: the asker's situation is what a condition must be matched against
  (``Asked.eligibility``).
- **Elliptical ask**: an ask that names no topic of its own ("……听说还有奖励，能给多少？")
  refers to the clause before it; the words of that clause the documents use are its topic
  (``antecedent``). The other preamble words stay context.
- **Parts**: a question of several asking sentences ("补贴比例是多少？每家最多补多少？") is
  split into parts, each answered (or said to be missing) on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE = re.compile(r"[^，,。！？!?；;\n]+[，,。！？!?；;\n]*")
_ASKING = re.compile(
    r"[？?]|多少|(?<![十百千万])几(?![十百千万亿])|哪|什么|吗|呢|如何|怎么|怎样|是否|能否|能不能|可不可以|可以不|有没有|啥|咋|多久|多长"
    # "有要求没", "批下来了没有": the yes/no question of "有……没(有)" and "……了没(有)"
    r"|有[^，,。！!；;]{1,8}没有?\s*[？?]?\s*$|了没有?\s*[？?]?\s*$"
)
# greetings and first-person openings: general conversational Chinese, not corpus words
_OPENING = re.compile(
    r"^(你好|您好|老师好|领导好|打扰|麻烦|老板让我问|我们|我司|本公司|我是|我今年|我在|我们是|咱们|俺)"
)
_FILLER = re.compile(
    r"^(想问一下|想问下|想咨询一下|想咨询|请问一下|请问|问一下|我想知道|想了解一下|想了解)[，,]?"
)
# Asking whether one may: a modal of permission or possibility, then a verb of applying,
# receiving or being counted, closed as a yes/no question (a final particle, an A-not-A
# "能不能", "是否"). General Chinese grammar, not corpus words.
_MODAL = r"(?:能否|可否|是否|能不能|可不可以|够不够格|够格|有没有资格|有资格|能|可以|可)"
_OBTAIN = r"(?:申请|申报|申领|报名|报|享受|领取|领|拿|获得|参加|参与|算|认定|纳入|列入)"
_ELIGIBILITY = re.compile(_MODAL + r"(?:再|也|还|都|去|来|够)?" + _OBTAIN)
OBTAINING = re.compile(_OBTAIN)  # a verb of applying for or receiving (fullmatch a word)
_YES_NO = re.compile(r"(?:吗|么|嘛|不|没有)\s*[？?]?\s*$|能否|可否|是否|能不能|可不可以|够不够")
_WHAT_ABOUT = re.compile(r"^(?:那|那么)?[^？?，,。]{1,10}呢\s*[？?]$")
_WH = re.compile(r"多少|几|哪|什么|怎么|如何|怎样|啥|多久|多长")


def _what_about(part: str) -> bool:
    """ "那省级的呢？": names a topic and asks nothing of its own."""
    return bool(_WHAT_ABOUT.match(part)) and not _WH.search(part)


# a clause closed by its interrogative: "……是个什么东西", "……能申请吗", "……补多少" (not "……呢，":
# "要是X呢，利息补多少" names the topic of the ask after it)
_CLOSED_ASK = re.compile(r"(?:吗|什么东西|是什么|是啥|多少|哪些|哪几个|几[个项年天次家])\s*$")


def _comma_parts(part: str) -> list[str]:
    clauses = re.split(r"(?<=[，,])", part)
    out: list[str] = []
    for clause in clauses:
        head = out[-1].rstrip("，, ") if out else ""
        if out and not (_CLOSED_ASK.search(head) and _ASKING.search(clause)):
            out[-1] += clause
        else:
            out.append(clause)
    return [c.strip() for c in out if c.strip(" ，,")]


def asks_eligibility(ask: str) -> bool:
    """Does ``ask`` ask whether the asker may apply for or receive something — a yes/no
    question, not one asking which, how much or how?"""
    return asks_yes_no(ask) and bool(_ELIGIBILITY.search(_last_sentence(ask)))


def _last_sentence(ask: str) -> str:
    last = [p for p in re.split(r"[。；;\n]", ask) if p.strip()]
    return last[-1] if last else ask


def asks_yes_no(ask: str) -> bool:
    """Is the last sentence of ``ask`` a yes/no question ("……能抵扣吗？", "能不能用")?"""
    text = _last_sentence(ask)
    return bool(_YES_NO.search(text)) and not _WH.search(text)


def eligibility_spans(ask: str) -> list[tuple[int, int]]:
    """Where an eligibility question asks ("能申请", "还能算进"): how it asks, not its topic."""
    return [m.span() for m in _ELIGIBILITY.finditer(ask)]


@dataclass(frozen=True)
class Asked:
    ask: str  # the asking text, preamble removed
    context: str  # the preamble, kept for retrieval at low weight
    parts: tuple[str, ...]  # one per asking sentence (one part when the question is single)
    # a yes/no question whether the asker qualifies, with a preamble stating their situation:
    # the preamble's words then take part in retrieval and in choosing the unit
    eligibility: bool = False


def understand(text: str) -> Asked:
    clauses = [c for c in _CLAUSE.findall(text) if c.strip(" ，,。；;")]
    if len(clauses) <= 1:
        return Asked(text, "", (text,))
    context: list[str] = []
    i = 0
    if _OPENING.match(clauses[0].strip()):
        while i < len(clauses) - 1 and not _ASKING.search(clauses[i]):
            context.append(clauses[i])
            i += 1
    ask = "".join(clauses[i:]).strip()
    ask = _FILLER.sub("", ask).strip() or ask
    parts = [p.strip() for p in re.findall(r"[^？?]+[？?]?", ask) if p.strip(" ？?，,")]
    # "服务券究竟是什么东西，能当钱花吗？": two questions joined by a comma, the first closed by
    # its interrogative, are two parts
    parts = [q for p in parts for q in _comma_parts(p)]
    # a part is a sentence that asks; a trailing statement stays with the part before it
    # … and "那省级的呢？最多给多少" is one ask: a short "那X呢？" names what the next part asks about
    merged: list[str] = []
    for p in parts:
        if merged and (not _ASKING.search(p) or _what_about(merged[-1])):
            merged[-1] += p
        else:
            merged.append(p)
    preamble = "".join(context).strip(" ，,")
    asked_parts = tuple(merged) or (ask,)
    eligibility = bool(preamble) and len(asked_parts) == 1 and asks_eligibility(ask)
    return Asked(ask, preamble, asked_parts, eligibility)


def antecedent(preamble: str, known) -> tuple[str, ...]:
    """The topic an elliptical ask refers to: the words the documents use (``known``: a
    container of corpus words) in the nearest preamble clause that has any — the clause just
    before "能给多少？", as a reader would take it."""
    from .query import content_terms

    for clause in reversed([c for c in _CLAUSE.findall(preamble) if c.strip(" ，,。；;")]):
        words = tuple(t for t in content_terms(clause) if t in known)
        if words:
            return words
    return ()
