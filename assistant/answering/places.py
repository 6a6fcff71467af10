"""Place names from the national list of administrative divisions (the ``cpca`` package's
``adcodes.csv``), not from a hand-typed list: every province, prefecture and county-level name,
and the short forms of provinces and prefectures ("山东", "济南", "东营")."""

from __future__ import annotations

import csv
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

_SUFFIX = re.compile(
    r"(维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|自治州|地区|盟|省|市)$"
)


def _adcodes() -> Path | None:
    spec = importlib.util.find_spec("cpca")  # locate the data without importing the package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def national_places() -> frozenset[str]:
    path = _adcodes()
    if path is None:
        return frozenset()
    names: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name, code = row["name"].strip(), row["adcode"].strip()
            if not name:
                continue
            names.add(name)
            upper = code.endswith("00000000")  # province or prefecture
            short = _SUFFIX.sub("", name)
            if upper and len(short) >= 2 and short != name:
                names.add(short)
    return frozenset(names)


def places_in(text: str, extra: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Place names mentioned in ``text``, longest first, no name inside another found one."""
    found: list[tuple[int, str]] = []
    vocab = national_places() | set(extra)
    for size in range(min(8, len(text)), 1, -1):
        for i in range(len(text) - size + 1):
            piece = text[i : i + size]
            if piece in vocab and not any(s <= i < s + len(p) for s, p in found):
                found.append((i, piece))
    return [p for _, p in sorted(found)]


def same_place(a: str, b: str) -> bool:
    """ "甲川" and "甲川市" are one place."""
    return a == b or _SUFFIX.sub("", a) == _SUFFIX.sub("", b) or a.startswith(b) or b.startswith(a)


# "西港市……": a place the national list does not have (a new or fictional city) still reads as
# one when a two-character name plus 市/省/县 opens the question or a clause
_NAMED = re.compile(r"(?:^|[，,。？?！!\s在对从向于和与])([\u4e00-\u9fff]{2}[市省县])")
_NOT_NAMES = set("全本我该各城同外此当每")


def _common_word(stem: str) -> bool:
    """Is ``stem`` a word of general Chinese that names no place — "听说" in "听说市里……", a
    verb (jieba's part-of-speech tags)? A place name the national list lacks is no such word."""
    from .support import pos_tags

    tag = pos_tags().get(stem)
    return tag is not None and not tag.startswith(("n", "ns"))


def question_places(text: str, corpus_places: set[str]) -> list[str]:
    # the corpus's places by their short names too ("甲川" for 甲川市)
    short = {_SUFFIX.sub("", p) for p in corpus_places} | {p.rstrip("县区") for p in corpus_places}
    found = places_in(text, frozenset(corpus_places) | {p for p in short if len(p) >= 2})
    for m in _NAMED.finditer(text):
        name = m.group(1)
        if (
            name[0] not in _NOT_NAMES
            and not _common_word(name[:2])
            and not any(same_place(name, p) for p in found)
        ):
            found.append(name)
    return found


def strip_place(name: str) -> str:
    """An organisation's name without the places it opens with: "乙川县农业农村局" → "农业农村局",
    "山东省济南市科学技术局" → "科学技术局"."""
    while True:
        m = re.match(r"[\u4e00-\u9fff]{1,8}?[省市县区]", name)
        if not m or len(name) - m.end() < 2:
            return name
        head = m.group(0)
        if head not in national_places() and not _NAMED.match(head):
            return name
        name = name[m.end() :]
