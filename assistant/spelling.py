"""Repair the ways people mistype policy terms, using the corpus's own vocabulary:

- homophone typos (同音错字): 科技付总 → 科技副总, 甲科带 → 甲科贷 (same pinyin, ≥ 3 characters),
  and a few look-alike characters (形近字): 创新卷 → 创新券;
- pinyin typed instead of characters: "chuang xin quan" → 创新券, "jie bang gua shuai" → 揭榜挂帅;
- common English words mixed in: "how much" → 多少, "patent" → 专利 (``glossary.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from pypinyin import lazy_pinyin

_ASCII_RUN = re.compile(r"[A-Za-z&][A-Za-z&\-']*(?:\s+[A-Za-z&][A-Za-z&\-']*)*")
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
MIN_HOMOPHONE = 3
# characters typed for another of like shape (形近字) in policy words, the intended one last:
# "创新卷" and "创新劵" for 创新券, "科技货款" for 科技贷款. A term with the intended character where
# the question has its look-alike is a typo of it, as a homophone is.
LOOKALIKE = {"劵": "券", "卷": "券", "货": "贷"}
MAX_TERM = 8


@lru_cache(maxsize=1)
def glossary() -> dict[str, str]:
    out = {}
    path = Path(__file__).with_name("glossary.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            en, zh = line.split("\t", 1)
            out[en.strip().lower()] = zh.strip()
    return out


@lru_cache(maxsize=64)
def _sound(ch: str) -> str:
    return lazy_pinyin(ch)[0]


class Corrector:
    def __init__(self, terms: Iterable[str], previous: Corrector | None = None):
        """``previous`` — the table of an earlier state: the sounds of the words it knew are
        reused, so an update reads (through pypinyin) only the words new to it."""
        self.by_sound: dict[tuple[str, ...], str] = {}
        self.by_roman: dict[str, str] = {}
        self.known: set[str] = set()
        before = getattr(previous, "_sounds", {})  # (a table from an older snapshot has none)
        self._sounds: dict[str, tuple[str, ...]] = {}
        # longest first, ties in code-point order: the same words give the same table
        for term in sorted(set(terms), key=lambda t: (-len(t), t)):
            if not _HAN.match(term) or not 2 <= len(term) <= MAX_TERM:
                continue
            self.known.add(term)
            sound = before.get(term) or tuple(lazy_pinyin(term))
            self._sounds[term] = sound
            self.by_roman.setdefault("".join(sound), term)
            if len(term) >= MIN_HOMOPHONE:
                self.by_sound.setdefault(sound, term)

    def correct(self, text: str) -> str:
        return self._homophones(self._romanised(text))

    def _romanised(self, text: str) -> str:
        def replace(m: re.Match) -> str:
            run = m.group(0)
            words = run.lower().split()
            out, i = [], 0
            while i < len(words):
                # longest glossary phrase or pinyin term starting at word i
                for j in range(len(words), i, -1):
                    phrase = " ".join(words[i:j])
                    joined = re.sub(r"[\s\-']", "", phrase)
                    hit = glossary().get(phrase) or self.by_roman.get(joined)
                    if hit:
                        out.append(hit)
                        i = j
                        break
                else:
                    out.append(words[i])
                    i += 1
            return " ".join(out) if any(not _HAN.match(w) for w in out) else "".join(out)

        return _ASCII_RUN.sub(replace, text)

    def _homophones(self, text: str) -> str:
        if not self.by_sound:
            return text
        sounds = lazy_pinyin(text)
        if len(sounds) != len(text):  # pypinyin merges non-Han runs; keep it simple and safe
            sounds = [lazy_pinyin(ch)[0] if ch.strip() else ch for ch in text]
        # the sounds with each look-alike heard as the character it stands for
        alike = [
            _sound(LOOKALIKE[ch]) if ch in LOOKALIKE else s
            for ch, s in zip(text, sounds, strict=True)
        ]
        out, i = [], 0
        while i < len(text):
            for size in range(min(MAX_TERM, len(text) - i), MIN_HOMOPHONE - 1, -1):
                piece = text[i : i + size]
                term = self.by_sound.get(tuple(sounds[i : i + size]))
                if term is None and any(ch in LOOKALIKE for ch in piece):
                    term = self.by_sound.get(tuple(alike[i : i + size]))
                    if term and not all(
                        t == LOOKALIKE[c]
                        for c, t in zip(piece, term, strict=True)
                        if c in LOOKALIKE
                    ):
                        term = None  # heard alike, but not where the look-alike is
                if term and term != piece and _HAN.match(piece) and piece not in self.known:
                    out.append(term)
                    i += size
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)
