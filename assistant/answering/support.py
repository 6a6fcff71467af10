"""Does the chosen unit speak of what was asked, or only of things near it?

A near miss shares most of the question's words with some unit but leaves out the one thing
the question is about: "奖励要交个人所得税吗？" quoting a sentence on what 奖励资金 may be
used for, "公立医院作为卖方……" quoting the rule for 高等学校、科研院所和企业. Key-term coverage
cannot see it (the shared words carry the weight), and the corpus IDF cannot either (filler the
corpus never uses — "碰上", "那边" — weighs as much as a real gap such as "增值税").

``gap`` is the specificity, in general Chinese, of the most specific question word that the
unit read in its context (title, heading path, lead-in) does not contain. Specificity comes
from jieba's dictionary frequencies — a general lexicon of Chinese, not of this corpus — so
"所得税", "公立医院", "担保费" are specific and "如果", "另外", "一起" are not; a compound of
everyday words is as specific as its rarest part ("继续执行" as "执行"). Only nominal words
count (jieba's part-of-speech tags: nouns, names, set phrases): the thing a question is about
is named by a noun, while colloquial verbs and pronouns ("没钱", "那块", "碰上") are how people
ask. Left out of the measure, because the kind-of-fact check or the ranking already deals with
them:

- the words next to an interrogative and the modifier before it ("**纸质材料**有什么要求",
  "需要**提交**哪些材料", "什么**时候**"): they name the kind of fact asked for, which the unit
  states in its own words;
- words with a digit or an interrogative character ("几份", "1500"): amounts and asking words;
- fragments jieba's HMM glued together (not dictionary words);
- words sharing two characters with the unit ("安家费" beside "安家补贴", "银行贷款" beside
  "贷款"): a paraphrase, not something else.

``absent_action`` is the other side of the first exclusion. The word at the interrogative names
the kind of fact asked for, and the unit may word it otherwise ("什么时候截止" → "截止日期"); but
when that word is a *verb no document uses at all* ("资格证书怎么**考取**", "**打分**标准是什么",
"工作**安置**有什么政策"), the documents do not describe that action, whatever unit is chosen.
Its measure is the verb's specificity in general Chinese, a directional or resultative
complement set aside ("拿到", "拿出", "用来" are as everyday as 拿 and 用), so that everyday
verbs of asking ("拿到以后", "要准备哪些") are not mistaken for an action the corpus lacks.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import jieba

from ..text import is_word

# interrogatives of general Chinese: the word next to one names what kind of fact is asked for
_INTERROGATIVE = re.compile(
    r"^(?:什么|哪|哪些|哪个|哪家|哪天|哪一天|哪几|哪类|哪种|多少|多长|多久|几|几[个项年天月次类种份期步名家件]"
    r"|怎么|如何|怎样|啥)$"
)
# copulas, modals and particles between an interrogative and the word it asks about
_BETWEEN = frozenset("是 为 有 的 要 需要 可以 能 按 按照 以 在 都 分别 具体 一般".split())
_ASKING_CHARS = re.compile(r"[\d几哪啥多么吗呢]")
_PUNCT = re.compile(r"^[\s，。？?！!、,；;：:（）()“”\"'《》]+$")
# jieba part-of-speech tags of nominal words: nouns, names, organisations, places, set phrases
_NOMINAL = frozenset("n nz nt nr ns nrt nrfg l vn".split())


def _rarity(word: str) -> float:
    jieba.dt.check_initialized()
    total = jieba.dt.total
    return math.log(total / ((jieba.get_FREQ(word) or 0) + 1)) / math.log(total)


@lru_cache(maxsize=4096)
def specificity(word: str) -> float:
    """How rare ``word`` is in general Chinese, 0 (everyday) … 1 (unknown to the lexicon); a
    word made of shorter dictionary words is as rare as its rarest part."""
    parts = [p for p in jieba.cut_for_search(word) if p != word and len(p) >= 2]
    covered: set[int] = set()
    for p in parts:
        at = word.find(p)
        covered.update(range(at, at + len(p)))
    if parts and len(covered) == len(word):
        return max(_rarity(p) for p in parts)
    return _rarity(word)


@lru_cache(maxsize=1)
def pos_tags() -> dict[str, str]:
    import jieba.posseg  # noqa: F401 - loads the tag table with the dictionary

    jieba.dt.check_initialized()
    return jieba.posseg.dt.word_tag_tab


def nominal(word: str) -> bool:
    return pos_tags().get(word) in _NOMINAL


# jieba part-of-speech classes (first letter of the tag) that never name what a question is
# about: numerals and measure words ("十几万", "八千万", "1500"), pronouns and asking words
# ("这边", "怎么"), prepositions, conjunctions ("接着"), particles, interjections, modal
# particles, onomatopoeia ("eng", a Latin-script word, is not "e"), adverbs ("到底", "究竟",
# "大概"). (Adverbs were once left out: jieba tags "到期" so, and counting it lightly let a near
# miss answer — a question on the rent due once a rent-free period is over, on the devcorpus dev
# split. That question asks for the standard of a payment, which the fact-kind check now
# requires.)
_CLOSED_CLASSES = frozenset("mqrpcueyod")


def _closed(tag: str) -> bool:
    return tag != "eng" and tag[:1] in _CLOSED_CLASSES


def names_topic(word: str) -> bool:
    """Could ``word`` name a topic? Not when jieba does not know it as a word (an HMM fragment)
    or tags it, or every piece of it, with a closed word class: a number, an asking word, a
    function word. Decided by jieba's part-of-speech tags, a general lexicon of Chinese."""
    if not is_word(word):
        return False
    tag = pos_tags().get(word)
    if tag is not None:
        return not _closed(tag)
    pieces = [p for p in jieba.posseg.cut(word) if p.word.strip()]
    return not pieces or not all(_closed(p.flag) for p in pieces)


@lru_cache(maxsize=1024)
def aspect_words(question: str) -> frozenset[str]:
    """The words next to an interrogative, and the one modifying the word before it: the phrase
    naming the kind of fact asked for ("填报时间是什么时候" → 填报, 时间, 时候)."""
    toks = [t for t in jieba.cut(question) if t.strip() and not _PUNCT.match(t)]
    out: set[str] = set()
    for i, tok in enumerate(toks):
        if not _INTERROGATIVE.match(tok):
            continue
        j = i - 1
        while j >= 0 and toks[j] in _BETWEEN:
            j -= 1
        if j >= 0:
            out.add(toks[j])
            if j > 0 and toks[j - 1] not in _BETWEEN:  # its modifier: 纸质材料, 申报时间
                out.add(toks[j - 1])
        j = i + 1
        while j < len(toks) and toks[j] in _BETWEEN:
            j += 1
        if j < len(toks):
            out.add(toks[j])
    return frozenset(out)


# directional and resultative complements of general Chinese grammar: the verb before one carries
# the meaning ("拿到", "交上去", "批下来")
_COMPLEMENT = re.compile(
    r"(?:下来|上来|出来|起来|过来|回来|下去|上去|出去|到|出|来|去|上|下|起|完|好|掉|走|住|成|给)$"
)


def is_verb(word: str) -> bool:
    return (pos_tags().get(word) or "").startswith("v")


def action_specificity(word: str) -> float:
    """A verb's specificity, a trailing complement set aside ("拿到" as "拿")."""
    head = _COMPLEMENT.sub("", word)
    return specificity(head) if head and head != word else specificity(word)


def absent_action(question: str, absent: list[str]) -> tuple[float, str | None]:
    """The specificity of the most specific verb the question asks about (a word at its
    interrogative) among ``absent``, the question's words no document uses, and that verb."""
    aspects = aspect_words(question)
    best, word = 0.0, None
    for term in absent:
        if term not in aspects or not is_verb(term) or _ASKING_CHARS.search(term):
            continue
        s = action_specificity(term)
        if s > best:
            best, word = s, term
    return best, word


def gap(question: str, terms: dict[str, list[str]], read: str) -> tuple[float, str | None]:
    """The specificity of the most specific question word that ``read`` (the unit with its
    context) leaves out, and that word; ``terms`` maps each key term to its corpus aliases."""
    aspects = aspect_words(question)
    best, word = 0.0, None
    for term, aliases in terms.items():
        if term in read or any(a in read for a in aliases):
            continue
        if term in aspects or _ASKING_CHARS.search(term) or not is_word(term):
            continue
        if not nominal(term):
            continue
        if any(term[i : i + 2] in read for i in range(len(term) - 1)):
            continue
        s = specificity(term)
        if s > best:
            best, word = s, term
    return best, word


# the administrative levels a support is graded by, as a question names them before a noun
# ("省级技术创新中心"), and as a unit may ("国家技术创新中心", "市科技局"); general Chinese
# public-administration vocabulary
_ASKED_LEVEL = re.compile(r"国家级|国家|全国|省级|市级|县级|区级")
_UNIT_LEVELS = ("国家级", "国家", "全国", "省级", "市级", "县级", "区级", "省", "市", "县", "区")
_SAME_LEVEL = {
    "国家级": "国家",
    "全国": "国家",
    "省级": "省",
    "市级": "市",
    "县级": "县",
    "区级": "区",
}
HEAD_CHARS = 3  # the shortest noun after the level that must be shared


def other_level(question: str, unit: str) -> str | None:
    """The level-and-noun the question asks about ("省级技术创新中心") when the unit speaks of that
    noun only at other levels ("国家技术创新中心"): a near miss of the same kind of thing, not the
    thing asked; else None."""
    for m in _ASKED_LEVEL.finditer(question):
        level = _SAME_LEVEL.get(m.group(0), m.group(0))
        tail = re.match(r"[\u4e00-\u9fff]*", question[m.end() : m.end() + 10]).group(0)
        head = next(
            (tail[:n] for n in range(len(tail), HEAD_CHARS - 1, -1) if tail[:n] in unit), None
        )
        if head is None:
            continue
        levels = [_level_before(unit, at) for at in _occurrences(unit, head)]
        if levels and all(lv is not None and lv != level for lv in levels):
            return m.group(0) + head
    return None


def _occurrences(text: str, word: str) -> list[int]:
    return [i for i in range(len(text)) if text.startswith(word, i)]


def _level_before(unit: str, at: int) -> str | None:
    """The level written just before ``unit[at:]`` ("国家" in "国家技术创新中心"), normalised."""
    before = unit[max(0, at - 3) : at]
    found = next((lv for lv in _UNIT_LEVELS if before.endswith(lv)), None)
    return _SAME_LEVEL.get(found, found) if found else None
