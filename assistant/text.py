"""Chinese text utilities shared by chunking, indexing and answering: jieba set-up, tokens,
sentences, numbers. jieba is initialised once, with the domain dictionary added."""

from __future__ import annotations

import logging
import math
import re
import threading
import zlib
from collections.abc import Container, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)
_lock = threading.Lock()
_added_terms: set[str] = set()
_base_freq: dict[str, int] = {}  # what jieba's own dictionary gave each added term, before it
_base_total: list[int] = []  # jieba's dictionary total before the first added term

SENTENCE_END = "。！？；!?;"
_SENTENCE_RE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)]*|\n|$)")
# A number glued to its unit or magnitude: 25亿元, 11%, 100人次, 3.5万, 十五项
NUMBER_RE = re.compile(
    r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]+)\s*"
    r"(%|‰|万亿元|亿元|万元|千元|元|亿|万|人次|家|个|项|件|名|人|场(?:[(（]次[)）])?|次|所|台|套|篇|平方米|亩|年|倍)"
)
_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)

STOPWORDS = frozenset(
    """
的 了 和 与 及 等 在 是 为 对 把 被 从 向 以 于 并 或 也 就 都 而 又 将 要 会 能 可 可以 还 该 这 那 这个 那个
这些 那些 哪 哪些 哪个 哪里 什么 怎么 怎样 如何 多少 几 几个 吗 呢 吧 啊 呀 嘛 么 请问 请 问 一下 我 我们 你 你们
他 她 它 他们 有 有没有 没有 是否 是不是 一个 一些 进行 关于 通过 按照 根据 其中 之 其 所 着 过 给 让 能否 想 想问
知道 告诉 说 讲 需要 能够 能 除了 还有 还 木有 提到 提及 文件 文件里 这份 这条 一条 里面 搞 弄 想 用 啊 哦 呗 嘞 咱 咱们 俺 今年 明年 去年 具体 主要 相关 方面 情况 工作 内容 目标 计划 打算 准备 多 个 啥 咋 么样 那么 这么
""".split()
)


def _dictionary_files(corpus_dir: Path | None) -> list[Path]:
    files = [corpus_dir / "domain_terms.txt"] if corpus_dir is not None else []
    return [f for f in files if f.is_file()]


def add_terms(terms: Iterable[str]) -> None:
    """Teach jieba domain terms (甲科贷, 科技副总 …) so they are never split."""
    terms = terms if isinstance(terms, (list, tuple, set, frozenset)) else list(terms)
    if _added_terms.issuperset(terms):  # every update passes the corpus's terms: known ones
        return
    with _lock:
        added = False
        for term in terms:
            term = term.strip()
            if 2 <= len(term) <= 20 and term not in _added_terms:
                if not _base_total:
                    jieba.dt.check_initialized()
                    _base_total.append(jieba.dt.total)
                _base_freq[term] = jieba.get_FREQ(term) or 0
                jieba.add_word(term, freq=200000)
                _added_terms.add(term)
                added = True
        if added:
            _cut.cache_clear()  # cached cuts predate the new words


def load_dictionary(corpus_dir: Path | None = None) -> list[str]:
    """Add the curated dictionary (``corpus/domain_terms.txt``) to jieba; return its terms."""
    terms: list[str] = []
    for path in _dictionary_files(corpus_dir):
        lines = path.read_text(encoding="utf-8").splitlines()
        terms += [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
    add_terms(terms)
    return terms


QUOTED_TERM_RE = re.compile(r"[“\"「『]([^”\"」』\n]{2,12})[”\"」』]")


# terms a text defines ("本通知所称创新券，是指……") or abbreviates ("（以下简称创新券）"):
# the drafting formulas of Chinese regulations, not words of one corpus
DEFINED_TERM_CHARS = 4
DEFINED_TERM_RE = re.compile(
    r"本(?:办法|细则|通知|规定|方案|意见|指南|要点|政策|条例|制度|计划)所称(?:的)?"
    r"([\u4e00-\u9fffA-Za-z]{2,12}?)(?=[，,（(]|是指|指的是|系指|包括)"
    r"|[（(](?:以下)?简称[“\"「]?([\u4e00-\u9fffA-Za-z]{2,12})[”\"」]?[）)]"
)


def quoted_terms(text: str) -> set[str]:
    """The names a policy text coins: terms it puts in quotes (“甲科贷”, “科技副总”), defines
    ("本通知所称创新券，是指……") or abbreviates ("（以下简称创新券）")."""
    terms = set()
    for m in QUOTED_TERM_RE.finditer(text):
        term = m.group(1).strip()
        if not re.search(r"[,，。；:：、\s]", term):
            terms.add(term)
    for m in DEFINED_TERM_RE.finditer(text):
        term = m.group(1) or m.group(2)
        # a short name jieba would cut into a word and a stray character ("创新|券") is kept
        # whole; a defined phrase of words ("研发费用", "研发投入后补助") a unit may use word by
        # word, so it is left to jieba
        if len(term) <= DEFINED_TERM_CHARS:
            pieces = base_cut(term)  # (one piece: a word jieba's own dictionary has)
            if len(pieces) == 1 or any(len(piece) == 1 for piece in pieces):
                terms.add(term)
    return terms


def _base_word_freq(word: str) -> int:
    if word in _added_terms:
        return _base_freq.get(word, 0)
    return jieba.get_FREQ(word) or 0


@lru_cache(maxsize=4096)
def base_cut(term: str) -> tuple[str, ...]:
    """How jieba's own dictionary — without the terms any document added — cuts a short term
    (``jieba.lcut(term, HMM=False)`` as it was before :func:`add_terms`), so that what a document
    is found to define does not depend on which documents were read before it. Jieba's route:
    the segmentation whose words' log-frequencies sum highest, a character always allowed alone;
    a short term has few segmentations, so all are tried."""
    if not term:
        return ()
    if not _base_total:
        jieba.dt.check_initialized()
    log_total = math.log(_base_total[0] if _base_total else jieba.dt.total)
    best: tuple[float, tuple[str, ...]] | None = None
    for cuts in range(1 << (len(term) - 1)):
        pieces, start = [], 0
        for i in range(1, len(term)):
            if cuts >> (i - 1) & 1:
                pieces.append(term[start:i])
                start = i
        pieces.append(term[start:])
        freqs = [_base_word_freq(p) for p in pieces]
        if any(f == 0 and len(p) > 1 for p, f in zip(pieces, freqs, strict=True)):
            continue  # not a word of the dictionary
        score = sum(math.log(f or 1) - log_total for f in freqs)
        if best is None or score > best[0]:
            best = (score, tuple(pieces))
    assert best is not None  # one character at a time is always a route
    return best[1]


@lru_cache(maxsize=4096)
def _cut(text: str) -> tuple[str, ...]:
    return tuple(jieba.cut(text))


def cut(text: str) -> list[str]:
    return list(_cut(text))


def is_word(token: str) -> bool:
    """Whether jieba knows ``token`` as a word (not a fragment its HMM glued together)."""
    return bool(jieba.get_FREQ(token)) or token.isascii()


def search_tokens(text: str) -> list[str]:
    """Keyword tokens: ``jieba.cut_for_search`` minus punctuation and stopwords, lower-cased."""
    out = []
    for tok in jieba.cut_for_search(text):
        tok = tok.strip().lower()
        if tok and tok not in STOPWORDS and not _PUNCT.match(tok):
            out.append(tok)
    return out


def word_tokens(text: str) -> list[str]:
    """Words of a question: ``jieba.cut`` (precise mode — no overlapping sub-words such as
    "法规" inside "办法规定") minus punctuation and stopwords, lower-cased."""
    out = []
    for tok in _cut(text):
        tok = tok.strip().lower()
        if tok and tok not in STOPWORDS and not _PUNCT.match(tok):
            out.append(tok)
    return out


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of sentences, ending at 。！？； (kept) or a line break."""
    spans = []
    for m in _SENTENCE_RE.finditer(text):
        start, end = m.span()
        while start < end and text[start].isspace():
            start += 1
        stripped_end = end
        while stripped_end > start and text[stripped_end - 1].isspace():
            stripped_end -= 1
        if stripped_end > start:
            spans.append((start, stripped_end))
    return spans


def token_boundaries(text: str) -> list[int]:
    """Offsets where a cut is allowed: between jieba tokens, but never inside a number+unit."""
    bounds, pos = [], 0
    protected = [m.span() for m in NUMBER_RE.finditer(text)]
    for tok in cut(text):
        pos += len(tok)
        if not any(s < pos < e for s, e in protected):
            bounds.append(pos)
    return bounds


CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_number(text: str) -> int | None:
    """二十五 → 25, 五百 → 500, 三亿五千万 → 350000000, 二〇二五 → 2025; None if not a number."""
    if len(text) > 1 and all(ch in CN_DIGITS for ch in text):
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    total = section = digit = 0
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10**4
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit) * 10**8
            section = digit = 0
        else:
            return None
    return total + section + digit


class CorpusText:
    """ "Does the corpus say X anywhere": substring search over every document's text.

    The texts are joined in ``BUCKETS`` groups (by a hash of the document id) rather than into
    one string, so that an update re-joins only the groups of the documents it changed — a
    fraction of the corpus — and a search is one scan of the same characters as before."""

    BUCKETS = 64
    __slots__ = ("_members", "_joined", "_words", "_texts")

    def __init__(self, texts: Mapping[str, str], words: Container[str] = frozenset()):
        """``texts``: document id → text; ``words``: terms known to occur in them (the index's
        vocabulary), answered without a scan."""
        members: list[list[str]] = [[] for _ in range(self.BUCKETS)]
        for key in texts:
            members[self._bucket(key)].append(key)
        self._members = [tuple(m) for m in members]
        self._joined = ["\n".join(texts[k] for k in m) for m in self._members]
        self._words = words
        self._texts = texts

    @classmethod
    def _bucket(cls, key: str) -> int:
        return zlib.crc32(key.encode("utf-8")) % cls.BUCKETS

    def updated(
        self, texts: Mapping[str, str], changed: Iterable[str], words: Container[str] = frozenset()
    ) -> CorpusText:
        """This text after an update: ``texts`` and ``words`` are the new state's, ``changed``
        the ids of the documents added, replaced or removed."""
        new = object.__new__(CorpusText)
        members, joined = list(self._members), list(self._joined)
        touched = set()
        for key in changed:
            b = self._bucket(key)
            kept = tuple(k for k in members[b] if k != key)
            members[b] = (*kept, key) if key in texts else kept
            touched.add(b)
        for b in touched:
            joined[b] = "\n".join(texts[k] for k in members[b])
        new._members, new._joined, new._words, new._texts = members, joined, words, texts
        return new

    def __contains__(self, fragment: str) -> bool:
        return fragment in self._words or any(fragment in part for part in self._joined)

    def holders(self, fragment: str) -> set[str]:
        """The ids of the documents whose text contains ``fragment`` (one scan of the
        corpus's characters, then a look at the members of the groups that hold it)."""
        found: set[str] = set()
        for members, part in zip(self._members, self._joined, strict=True):
            if fragment in part:
                found.update(k for k in members if fragment in self._texts[k])
        return found
