"""Amounts and the tiers of a table: "营业收入是1500万元" falls in the row whose first cell
reads "500万元以上至2000万元（含）". A general grammar of Chinese amount ranges, used to prefer
the table row a question's amount belongs to."""

from __future__ import annotations

import math
import re

from ..text import chinese_number

_NUM = r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+)"
_UNIT = r"(亿元|万元|千元|元|亿|万|%|人|家|个|项|年)"
AMOUNT = re.compile(rf"{_NUM}\s*(?:来|多|余)?\s*{_UNIT}")
_SCALE = {"亿元": 1e8, "亿": 1e8, "万元": 1e4, "万": 1e4, "千元": 1e3, "元": 1.0}


def value(number: str, unit: str) -> float | None:
    n = float(number) if re.fullmatch(r"\d+(?:\.\d+)?", number) else chinese_number(number)
    if n is None:
        return None
    return float(n) * _SCALE.get(unit, 1.0)


_ABOVE_BEFORE = re.compile(r"(超过|超出|多于|高于|大于|逾)\s*$")
_ABOVE_AFTER = re.compile(r"^\s*(以上|多)")
_BELOW_BEFORE = re.compile(r"(不到|不足|低于|少于|小于)\s*$")
_BELOW_AFTER = re.compile(r"^\s*(以下|以内)")


def amounts(text: str) -> list[tuple[float, str]]:
    """Every amount in ``text`` as (value, kind) — kind "money" for 元/万/亿, else the unit.
    "超过2000万元" is a value just above 2000万, "不到500万" just below 500万."""
    out = []
    for m in AMOUNT.finditer(text):
        v = value(m.group(1), m.group(2))
        if v is None:
            continue
        before, after = text[max(m.start() - 4, 0) : m.start()], text[m.end() :]
        if _ABOVE_BEFORE.search(before) or _ABOVE_AFTER.match(after):
            v = math.nextafter(v, math.inf)
        elif _BELOW_BEFORE.search(before) or _BELOW_AFTER.match(after):
            v = math.nextafter(v, -math.inf)
        out.append((v, "money" if m.group(2) in _SCALE else m.group(2)))
    return out


def tier(cell: str) -> tuple[float, float, str] | None:
    """The interval a tier cell states: "X以下" (−∞, X], "X以上至Y" (X, Y], "X以上" (X, ∞)."""
    found = [(m, value(m.group(1), m.group(2))) for m in AMOUNT.finditer(cell)]
    found = [(m, v) for m, v in found if v is not None]
    if not found:
        return None
    kind = "money" if found[0][0].group(2) in _SCALE else found[0][0].group(2)
    if len(found) >= 2 and re.search(r"至|到|—|－|-|~|～", cell):
        return (found[0][1], found[1][1], kind)
    v = found[0][1]
    rest = cell[found[0][0].end() :]
    if re.match(r"\s*(（含）)?\s*(以下|以内|及以下)", rest) or re.search(r"不超过|不足|低于", cell):
        return (-math.inf, v, kind)
    if re.match(r"\s*(（含）)?\s*(以上|及以上)", rest) or re.search(r"超过|高于|不低于", cell):
        return (v, math.inf, kind)
    return None


def row_fits(question: str, cells: tuple[str, ...]) -> bool | None:
    """True when the question's amount lies in the row's tier, False when it lies outside,
    None when the question states no amount or the row states no tier."""
    asked = amounts(question)
    if not asked or not cells:
        return None
    span = next((t for c in cells if (t := tier(c)) is not None), None)
    if span is None:
        return None
    lo, hi, kind = span
    values = [v for v, k in asked if k == kind]
    if not values:
        return None
    return any(lo < v <= hi or (lo == -math.inf and v <= hi) for v in values)
