"""Domain objects survive the index snapshot's pickling unchanged."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from assistant.load import load_bytes
from assistant.models import Chunk, _construct
from assistant.targets import Target, TargetLedger


def test_a_pickled_chunk_is_equal_to_the_original_and_behaves_as_one():
    chunk = Chunk(
        chunk_id="d-3",
        doc_id="d",
        title="东港市科技创新券管理办法",
        section="第二章 › 第七条",
        text="每家企业每年最高30万元。",
        start=10,
        end=22,
        ordinal=3,
        year=2025,
        kind="article",
        lead_in=None,
        status="已废止",
    )
    back = pickle.loads(pickle.dumps(chunk))
    assert back == chunk and hash(back) == hash(chunk)
    assert back.model_dump() == chunk.model_dump() and back.index_text() == chunk.index_text()
    with pytest.raises(ValidationError):  # still frozen
        back.text = "改了"


def test_target_rows_round_trip_and_a_snapshot_of_another_shape_is_refused():
    doc = load_bytes(
        "东港市科技金融工作要点\n\n1.科技贷款。争取为300家企业发放科技成果转化贷款12亿元以上。\n".encode(),
        "要点.txt",
    )
    rows = TargetLedger.from_documents([doc]).targets
    assert rows and all(isinstance(r, Target) for r in rows)
    assert pickle.loads(pickle.dumps(rows)) == rows
    with pytest.raises(ValueError):  # values for another version's fields: not a silent mix-up
        _construct(Chunk, ("only", "two"))
