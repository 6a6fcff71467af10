"""Tables an index state shares with the state it was made from.

An update makes a new ``IndexReader`` while the old one keeps answering, so the new state may
not edit the old one's tables. Copying them is itself a cost that grows with the corpus: a
list of 100k chunk rows or a dict of every term is copied at C speed, but each element copied
is an object touched (its reference count), and at a few thousand documents those copies were
the largest part of a one-document delete. These tables are copied by *part* instead:

- ``Rows`` — the chunk of each row, in fixed-size blocks; a copy shares every block and a
  write copies only the block it lands in.
- ``Layered`` — counts by key (the sentence frequency of each term): a shared base and a small
  layer of differences; the layer is folded into a new base once it is a sizeable fraction of
  it, so an update costs its own size plus, amortised, a constant share of the base.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Generic, TypeVar

T = TypeVar("T")

BLOCK = 1024  # rows per block: a write copies one block (8 KiB of pointers)
FOLD = 0.125  # fold the layer into the base once it holds this share of the base's keys
FOLD_MIN = 256  # … and at least this many keys (a tiny table is simply copied)


class Rows(Sequence, Generic[T]):
    """A list of rows, copied by block: ``copy()`` shares every block, ``extend`` and
    ``clear`` copy only the blocks they change."""

    __slots__ = ("_blocks", "_owned", "_n")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._blocks: list[list[T]] = []
        self._owned: set[int] = set()  # the blocks this table may write (not shared)
        self._n = 0
        self.extend(items)

    def copy(self) -> Rows[T]:
        other = Rows.__new__(Rows)
        other._blocks, other._owned, other._n = list(self._blocks), set(), self._n
        return other

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            lo, hi, step = i.indices(self._n)
            if step != 1:
                return [self[j] for j in range(lo, hi, step)]
            return list(self._span(lo, hi))
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("row out of range")
        return self._blocks[i // BLOCK][i % BLOCK]

    def _span(self, lo: int, hi: int) -> Iterator[T]:
        while lo < hi:
            b, off = divmod(lo, BLOCK)
            take = min(BLOCK - off, hi - lo)
            yield from self._blocks[b][off : off + take]
            lo += take

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self._blocks)

    def _writable(self, b: int) -> list[T]:
        if b not in self._owned:
            self._blocks[b] = list(self._blocks[b])
            self._owned.add(b)
        return self._blocks[b]

    def extend(self, items: Iterable[T]) -> None:
        items = list(items)
        at = 0
        while at < len(items):
            b, off = divmod(self._n, BLOCK)
            if b == len(self._blocks):
                self._blocks.append([])
                self._owned.add(b)
            block = self._writable(b)
            take = items[at : at + BLOCK - off]
            block.extend(take)
            at += len(take)
            self._n += len(take)

    def clear(self, lo: int, hi: int, value: T | None = None) -> None:
        """Set rows ``lo`` to ``hi`` (exclusive) to ``value``."""
        while lo < hi:
            b, off = divmod(lo, BLOCK)
            take = min(BLOCK - off, hi - lo)
            self._writable(b)[off : off + take] = [value] * take  # type: ignore[list-item]
            lo += take


class Layered(Mapping[str, int]):
    """Positive counts by key — a base shared with earlier tables and a layer of differences.
    Immutable: ``changed`` returns a new table; a key whose count falls to 0 is absent."""

    __slots__ = ("_base", "_layer", "_gone")

    def __init__(self, base: Mapping[str, int] | None = None) -> None:
        self._base: dict[str, int] = dict(base or {})
        self._layer: dict[str, int] = {}  # key → its count now (0: gone), where it differs
        self._gone = 0  # keys of the base the layer sets to 0

    def changed(self, minus: Iterable[Mapping[str, int]], plus: Iterable[Mapping[str, int]]):
        """A new table: these counts subtracted and added."""
        layer = dict(self._layer)
        base = self._base
        for sign, parts in ((-1, minus), (1, plus)):
            for part in parts:
                for key, n in part.items():
                    now = layer[key] if key in layer else base.get(key, 0)
                    layer[key] = max(now + sign * n, 0)
        out = Layered.__new__(Layered)
        out._base, out._layer = base, {}
        if len(layer) > max(FOLD * len(base), FOLD_MIN):  # fold: a new base
            merged = dict(base)
            for key, n in layer.items():
                if n > 0:
                    merged[key] = n
                else:
                    merged.pop(key, None)
            out._base, out._gone = merged, 0
            return out
        for key, n in layer.items():
            if n != base.get(key, 0):
                out._layer[key] = n
        out._gone = sum(1 for k, n in out._layer.items() if n == 0 and k in base)
        return out

    def __getitem__(self, key: str) -> int:
        n = self._layer.get(key)
        if n is None:
            return self._base[key]
        if n == 0:
            raise KeyError(key)
        return n

    def get(self, key, default=None):
        n = self._layer.get(key)
        if n is None:
            return self._base.get(key, default)
        return n if n else default

    def __contains__(self, key) -> bool:
        n = self._layer.get(key)
        return key in self._base if n is None else n > 0

    def __iter__(self) -> Iterator[str]:
        layer = self._layer
        for key in self._base:
            if key not in layer or layer[key]:
                yield key
        for key, n in layer.items():
            if n and key not in self._base:
                yield key

    def __len__(self) -> int:
        new = sum(1 for k, n in self._layer.items() if n and k not in self._base)
        return len(self._base) - self._gone + new

    def __reduce__(self):  # pickled (a snapshot) as one plain table
        return (Layered, (dict(self.items()),))
