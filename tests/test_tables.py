"""Copy-by-part tables of an index state (``assistant/tables.py``), against plain models."""

from __future__ import annotations

import pickle
import random
from collections import Counter

from assistant.tables import BLOCK, FOLD_MIN, Layered, Rows


def test_rows_behave_as_a_list_and_a_copy_never_changes_the_original():
    rng = random.Random(7)
    model: list = []
    rows: Rows = Rows()
    history = []
    for step in range(60):
        history.append((rows, list(model)))
        rows, model = rows.copy(), list(model)
        if model and rng.random() < 0.4:  # a removed document's rows become holes
            lo = rng.randrange(len(model))
            hi = min(len(model), lo + rng.randrange(1, 3 * BLOCK))
            rows.clear(lo, hi)
            model[lo:hi] = [None] * (hi - lo)
        else:  # an added document's rows are appended
            new = [f"{step}-{j}" for j in range(rng.randrange(1, 2 * BLOCK))]
            rows.extend(new)
            model.extend(new)
        assert len(rows) == len(model) and list(rows) == model
        lo = rng.randrange(len(model) + 1)
        hi = rng.randrange(lo, len(model) + 1)
        assert rows[lo:hi] == model[lo:hi]
        for i in (0, len(model) - 1, rng.randrange(len(model)), -1):
            assert rows[i] == model[i]
    for old, expected in history:  # every earlier state is as it was when copied
        assert list(old) == expected


def test_rows_out_of_range_is_an_index_error():
    rows = Rows(["a", "b"])
    for i in (2, -3):
        try:
            rows[i]
        except IndexError:
            continue
        raise AssertionError(f"rows[{i}] did not raise")


def test_layered_counts_equal_a_counter_through_many_changes_and_earlier_tables_keep_theirs():
    rng = random.Random(11)
    words = [f"w{i}" for i in range(3 * FOLD_MIN)]
    parts = [Counter(rng.choices(words, k=rng.randrange(1, 40))) for _ in range(200)]
    held: list[Counter] = []
    table = Layered()
    model: Counter = Counter()
    history = []
    for _step in range(300):
        history.append((table, +model))
        if held and rng.random() < 0.45:
            part = held.pop(rng.randrange(len(held)))
            table = table.changed([part], [])
            model.subtract(part)
        else:
            part = rng.choice(parts)
            held.append(part)
            table = table.changed([], [part])
            model.update(part)
        model = +model  # (drops counts at zero)
        assert dict(table) == dict(model) and len(table) == len(model)
        probe = rng.choice(words)
        assert table.get(probe, 0) == model[probe]
        assert (probe in table) == (model[probe] > 0)
    for old, expected in history:
        assert dict(old) == dict(expected)
    assert dict(pickle.loads(pickle.dumps(table))) == dict(model)  # a snapshot holds it whole
