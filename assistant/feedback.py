"""Feedback on answers (👍/👎 and an optional "哪里不对" text), kept in SQLite under the index dir.

Each record holds what a maintainer needs to turn a bad answer into a regression case: the
question, the conversation before it, the answer with its citations, the answering mode and the
time. ``eval_cases()`` writes the 👎 records as ``evals/qa.jsonl`` lines, with ``facts`` and
``evidence`` left empty for the maintainer to fill (the eval loader refuses the line until then,
so an unreviewed case cannot slip into a gate).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .models import Answer, Citation

FILENAME = "feedback.sqlite3"
MAX_COMMENT_CHARS = 1000
Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    mode TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    channel TEXT NOT NULL DEFAULT 'ui'
)
"""


class FeedbackRecord(BaseModel):
    """One stored verdict on one answer (what ``GET /v1/feedback`` lists)."""

    id: int
    created: str = Field(description="记录时间（UTC，ISO 8601）")
    rating: Rating = Field(description="up = 👍，down = 👎")
    comment: str = Field("", description="用户填写的“哪里不对”")
    question: str
    history: list[dict] = Field(default_factory=list, description="提问前的对话（纯文本）")
    answer: str
    abstained: bool
    mode: str
    citations: list[Citation] = Field(default_factory=list)
    channel: str = "ui"


def feedback_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / FILENAME


_stores: dict[Path, FeedbackStore] = {}


def store_for(settings) -> FeedbackStore:
    """The one store of an index directory (``PA_INDEX_DIR``), shared by the UI and the API."""
    path = feedback_path(settings.index_dir).resolve()
    if path not in _stores:
        _stores[path] = FeedbackStore(path)
    return _stores[path]


class FeedbackStore:
    """A small SQLite table; one connection per call (SQLite serialises writers itself), so the
    store is safe to share between the server's threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with sqlite3.connect(self.path) as db:
                    db.execute(_SCHEMA)
                self._ready = True
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def add(
        self,
        rating: Rating,
        answer: Answer,
        history: list[dict] | None = None,
        comment: str = "",
        channel: str = "ui",
    ) -> int:
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            rating,
            _clean(comment),
            answer.question,
            json.dumps(_plain_history(history), ensure_ascii=False),
            answer.answer,
            int(answer.abstained),
            answer.mode,
            json.dumps([c.model_dump() for c in answer.citations], ensure_ascii=False),
            channel,
        )
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (created, rating, comment, question, history, answer,"
                " abstained, mode, citations, channel) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid)

    def set_comment(self, record_id: int, comment: str) -> bool:
        with self._connect() as db:
            cur = db.execute(
                "UPDATE feedback SET comment = ? WHERE id = ?", (_clean(comment), record_id)
            )
            return cur.rowcount == 1

    def records(
        self, rating: Rating | None = None, limit: int | None = None
    ) -> list[FeedbackRecord]:
        if not self.path.exists():
            return []
        sql, args = "SELECT * FROM feedback", []
        if rating:
            sql += " WHERE rating = ?"
            args.append(rating)
        sql += " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._connect() as db:
            return [_record(r) for r in db.execute(sql, args)]

    def counts(self) -> dict[str, int]:
        if not self.path.exists():
            return {"up": 0, "down": 0}
        with self._connect() as db:
            got = dict(db.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY rating"))
        return {"up": got.get("up", 0), "down": got.get("down", 0)}

    def eval_cases(self) -> list[dict]:
        """The 👎 records as ``evals/qa.jsonl`` cases (the eval loader's exact keys)."""
        return [eval_case(r) for r in self.records("down")]


def eval_case(record: FeedbackRecord) -> dict:
    case = {
        "id": f"feedback-{record.id:04d}",
        "question": record.question,
        "category": "feedback",
        "answerable": True,  # a 👎 says an answer was expected; the maintainer decides
        "facts": [],
        "evidence": "",
    }
    if record.history:
        case["history"] = record.history
    if record.citations:
        case["doc"] = record.citations[0].doc_id
    return case


def _clean(comment: str | None) -> str:
    text = "".join(ch for ch in (comment or "") if ch.isprintable() or ch == "\n")
    return text.strip()[:MAX_COMMENT_CHARS]


def _plain_history(history: list[dict] | None) -> list[dict]:
    return [
        {"role": str(t.get("role", "")), "content": str(t.get("content", ""))}
        for t in history or []
        if isinstance(t, dict)
    ]


def _record(row: sqlite3.Row) -> FeedbackRecord:
    return FeedbackRecord(
        id=row["id"],
        created=row["created"],
        rating=row["rating"],
        comment=row["comment"],
        question=row["question"],
        history=json.loads(row["history"]),
        answer=row["answer"],
        abstained=bool(row["abstained"]),
        mode=row["mode"],
        citations=[Citation(**c) for c in json.loads(row["citations"])],
        channel=row["channel"],
    )
