"""What a question asks, apart from how it is wrapped.

- **Preamble**: a question that opens with a greeting or a self-introduction ("你好，我们是做海洋
  装备配套的小公司，去年营收大概八千万……") keeps those clauses only as context; the ask is the
  rest ("今年申请创新券最多能拿多少？"). Filler that introduces the ask ("想问一下", "请问") is
  dropped.
- **Parts**: a question of several asking sentences ("按多少比例抵扣？单份合同最多抵扣多少？") is
  split into parts, each answered (or said to be missing) on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE = re.compile(r"[^，,。！？!?；;\n]+[，,。！？!?；;\n]*")
_ASKING = re.compile(
    r"[？?]|多少|几|哪|什么|吗|呢|如何|怎么|怎样|是否|能否|能不能|可不可以|可以不|有没有|啥|咋|多久|多长"
)
# greetings and first-person openings: general conversational Chinese, not corpus words
_OPENING = re.compile(
    r"^(你好|您好|老师好|领导好|打扰|麻烦|老板让我问|我们|我司|本公司|我是|我今年|我在|我们是|咱们|俺)"
)
_FILLER = re.compile(
    r"^(想问一下|想问下|想咨询一下|想咨询|请问一下|请问|问一下|我想知道|想了解一下|想了解)[，,]?"
)


@dataclass(frozen=True)
class Asked:
    ask: str  # the asking text, preamble removed
    context: str  # the preamble, kept for retrieval at low weight
    parts: tuple[str, ...]  # one per asking sentence (one part when the question is single)


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
    # a part is a sentence that asks; a trailing statement stays with the part before it
    merged: list[str] = []
    for p in parts:
        if merged and not _ASKING.search(p):
            merged[-1] += p
        else:
            merged.append(p)
    return Asked(ask, "".join(context).strip(" ，,"), tuple(merged) or (ask,))
