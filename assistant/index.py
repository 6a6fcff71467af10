"""Build and update the hybrid index, one document at a time.

What the index holds:

- ``manifest.json`` with ``records/`` — the committed state: every corpus file with its
  metadata and the name of its *entry*, the Chroma collection, the embedder and chunker. The
  per-file records are in shards (``records/``) and ``manifest.json`` is the head naming them
  (see ``manifest.py``): a commit writes the shards it touched, then replaces the head
  atomically; its ``generation`` changes with every commit, which is how readers (this
  process, another ``serve`` process on the same index directory) notice an update.
- ``docs/<entry>.json`` — one per document version: chunks, BM25 tokens, targets-ledger rows,
  sentence statistics, quoted terms. Computed once, when the document is indexed; a reader
  combines entries instead of re-reading the corpus.
- one Chroma collection (``<prefix>-<stamp>``) of chunk vectors, shared by every generation. A
  vector's id is its chunk id plus the hash of the text embedded, so a changed chunk gets a new
  id and a reader only uses the ids its own entries name: it sees all of a document's old
  version or all of its new one, never a mix, and never a collection that disappears.

An update (a changed corpus file, an upload, a delete) costs work in proportion to the document:
its file is loaded and chunked, its new chunks embedded (unless a vector for the same text
exists) and written, its entry and its record's manifest shard written, the head committed.
What other documents derive from it is patched in their entries without re-reading them: a
document it repeals becomes 已废止; a document containing a term it newly quotes is
re-tokenised. Replaced vectors, entries, manifest shards and collections are *retired*:
deleted only after a grace period, so that readers still holding the previous state (a request
in flight, another replica) keep working.

Uploads and deletes are transactions (``pending/``): the file enters or leaves the corpus only
after the manifest has committed the change; a process killed at any moment leaves the previous
state answering, and the next build, update or ``check`` completes or rolls back what it left.
A different embedder, chunker version or domain dictionary rebuilds into a fresh collection.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .answering.instructions import flagged_spans
from .chunk import CHUNKER_VERSION, chunk_document
from .config import Settings
from .embed import embedder_id, get_embedder
from .errors import IndexBuildError, LoadError
from .ingest.metadata import DocMeta, resolve_repeals
from .ingest.ocr import OcrOptions, ocr_options
from .load import iter_corpus_files, load_bytes
from .manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    RECORDS,
    Stamp,
    live_shard_files,
    manifest_stamp,
    read_manifest,
    write_atomic,
    write_json_atomic,
    write_manifest,
)
from .models import Chunk
from .store import (
    collection_prefix,
    create_collection,
    get_client,
    get_collection,
    list_collection_names,
)
from .text import CorpusText, add_terms, load_dictionary, quoted_terms, search_tokens

__all__ = [
    "MANIFEST",
    "BuildSummary",
    "CheckReport",
    "Entry",
    "IndexBuilder",
    "ProgressFn",
    "build_index",
    "read_entry",
    "read_manifest",
    "text_hash",
    "vector_id",
]

log = logging.getLogger(__name__)

ADD_BATCH = 256  # vectors written to Chroma per call
GET_BATCH = 500  # ids or hashes looked up per Chroma call
FLAGGED_LISTED = 20  # flagged sentences kept per document in the manifest
RETIRE_GRACE_S = 30.0  # how long a replaced vector, entry or collection outlives its state
ENTRIES = "docs"
PENDING = "pending"
RETIRED = "retired.json"

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildSummary:
    files: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    changed: bool = False
    updated: int = 0  # documents whose entries were (re)computed
    removed: int = 0
    skipped: list[LoadError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "updated": self.updated,
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
            "changed": self.changed,
            "skipped": [{"file": e.path, "reason": e.reason} for e in self.skipped],
        }


@dataclass
class CheckReport:
    """What ``index --check`` found out of place, and what it did about it."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"clean": self.clean, "problems": self.problems, "repaired": self.repaired}


def text_hash(chunk: Chunk) -> str:
    return hashlib.sha1(chunk.index_text().encode()).hexdigest()


def vector_id(chunk: Chunk) -> str:
    """Chroma id of a chunk's vector: a changed chunk (or its heading path) is a new id."""
    return f"{chunk.chunk_id}:{text_hash(chunk)[:12]}"


# -- per-document entries ----------------------------------------------------------------------


@dataclass
class Entry:
    """Everything the index derives from one document version."""

    rel: str
    record: dict  # the manifest's record: doc_id, title, 公文 metadata, sha256, chunks …
    text: str
    chunks: list[Chunk]
    tokens: list[list[str]] | None  # None in a snapshot, where BM25 holds their counts
    targets: list  # targets.Target rows
    sentence_df: dict[str, int]
    n_sentences: int

    @functools.cached_property
    def doc_id(self) -> str:
        return self.record["doc_id"]

    def vector_ids(self) -> list[str]:
        return [vector_id(c) for c in self.chunks]

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "rel": self.rel,
                "record": self.record,
                "text": self.text,
                "chunks": [c.model_dump() for c in self.chunks],
                "tokens": self.tokens,
                "targets": [t.model_dump() for t in self.targets],
                "sentence_df": self.sentence_df,
                "n_sentences": self.n_sentences,
            }
        )

    @classmethod
    def loads(cls, data: bytes) -> Entry:
        from .targets import Target

        raw = orjson.loads(data)
        return cls(
            rel=raw["rel"],
            record=raw["record"],
            text=raw["text"],
            chunks=[Chunk.model_construct(**c) for c in raw["chunks"]],
            tokens=raw["tokens"],
            targets=[
                Target.model_construct(**{**t, "value": float(t["value"])}) for t in raw["targets"]
            ],
            sentence_df=raw["sentence_df"],
            n_sentences=raw["n_sentences"],
        )


def read_entry(index_dir: Path, name: str) -> Entry:
    return Entry.loads((Path(index_dir) / ENTRIES / name).read_bytes())


def _entry_of(rel: str, doc, record: dict) -> Entry:
    from .targets import extract_targets, sentence_stats

    chunks = chunk_document(doc)
    text = doc.page_content
    df, n = sentence_stats(text)
    meta = doc.metadata
    targets = extract_targets(
        meta["doc_id"], meta.get("title", meta["doc_id"]), text, chunks, meta.get("year")
    )
    record = {**record, "chunks": len(chunks)}
    return Entry(
        rel=rel,
        record=record,
        text=text,
        chunks=chunks,
        tokens=[search_tokens(c.index_text()) for c in chunks],
        targets=targets,
        sentence_df=dict(df),
        n_sentences=n,
    )


def _retokenised(entry: Entry) -> Entry:
    """The entry with tokens and sentence statistics recomputed under the current dictionary
    (a term another document quotes now stays one token here too); vectors are unaffected."""
    from .targets import sentence_stats

    df, n = sentence_stats(entry.text)
    entry.tokens = [search_tokens(c.index_text()) for c in entry.chunks]
    entry.sentence_df, entry.n_sentences = dict(df), n
    return entry


def _with_status(entry: Entry, status: str, superseded_by: str | None) -> Entry:
    entry.record = {**entry.record, "status": status, "superseded_by": superseded_by}
    entry.chunks = [c.model_copy(update={"status": status}) for c in entry.chunks]
    return entry


def _record_of(doc, digest: str, size: int | None, mtime_ns: int | None) -> dict:
    from .targets import locality_of

    meta = {k: v for k, v in doc.metadata.items() if k not in ("sha256",)}
    return {
        **meta,
        "sha256": digest,
        "size": size,
        "mtime_ns": mtime_ns,
        "stated_status": meta.get("status") or "现行",
        "quoted": sorted(quoted_terms(doc.page_content)),
        "locality": sorted(locality_of(doc.page_content, meta)),
        # sentences addressing the assistant: never answers, listed for the admin
        "flagged": [doc.page_content[s:e] for s, e in flagged_spans(doc.page_content)][
            :FLAGGED_LISTED
        ],
    }


def _dictionary_fingerprint(corpus_dir: Path) -> str:
    path = corpus_dir / "domain_terms.txt"
    return hashlib.sha1(path.read_bytes() if path.is_file() else b"").hexdigest()


# -- the builder -------------------------------------------------------------------------------


@dataclass
class _Change:
    """A file to (re)index — its bytes, digest and stat — or ``None`` data for a removal."""

    data: bytes | None
    digest: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    stat_only: bool = False  # the same bytes under a new size/mtime (a copy, a touch)


class IndexBuilder:
    def __init__(
        self,
        settings: Settings,
        progress: ProgressFn | None = None,
        known: tuple[dict, Stamp] | None = None,
        text: CorpusText | None = None,
    ):
        """``known`` — a manifest the caller holds with its stamp (a server's current state):
        used instead of reading the file while the file is still that commit. It is only
        read, never changed. ``text`` — the documents' text in that state (the reader's
        ``full_text``): which documents contain a term an upload newly quotes is then looked
        up in it instead of in every document's entry file."""
        self.settings = settings
        self._text = text if known is not None else None
        self._committed: dict | None = None  # the manifest this builder committed last
        self._committed_stamp: Stamp | None = None
        self._delta: tuple[dict, frozenset[str]] | None = None  # see ``delta``
        self._known = known
        self.index_dir = Path(settings.index_dir)
        self.corpus_dir = Path(settings.corpus_dir)
        self.progress = progress or (lambda stage, done, total: None)

    # -- public entry points ---------------------------------------------------------------

    def build(self, force: bool = False) -> BuildSummary:
        """Bring the index in line with the corpus folder: only changed files cost work.
        ``force`` reloads and re-chunks every file into a fresh collection (vectors of text
        embedded before are reused by its hash)."""
        if not self.corpus_dir.is_dir():
            raise IndexBuildError(f"语料目录不存在：{self.corpus_dir}（可用 PA_CORPUS_DIR 指定）")
        with self._locked():
            self._recover()
            return self._sync(force)

    @property
    def committed(self) -> tuple[dict, Stamp] | None:
        """The manifest this builder committed last and its stamp (``None`` before any)."""
        if self._committed is None or self._committed_stamp is None:
            return None
        return self._committed, self._committed_stamp

    @property
    def delta(self) -> tuple[dict, frozenset[str]] | None:
        """What the last commit changed: the previous manifest and the paths whose records
        may differ from it, for a reader of that previous state (its generation) to patch
        itself by (``None`` after a full build, which touches every record)."""
        return self._delta if self._committed is not None else None

    def _current_manifest(self) -> dict | None:
        """The committed manifest: the one the caller holds while the file is that commit."""
        if self._known is not None and manifest_stamp(self.index_dir) == self._known[1]:
            return self._known[0]
        return read_manifest(self.index_dir)

    def add(self, rel: str, data: bytes) -> BuildSummary:
        """Index one uploaded file as a transaction: it enters the corpus only once the index
        holds it; a failure or a kill leaves corpus and index as they were."""
        return self._transaction("add", rel, data)

    def remove(self, rel: str) -> BuildSummary:
        """Remove one file from the index and then from the corpus, as a transaction."""
        return self._transaction("delete", rel, None)

    def check(self, repair: bool = True) -> CheckReport:
        """Compare corpus, manifest, entries and Chroma; with ``repair``, fix what differs."""
        with self._locked():
            return self._check(repair)

    def recover(self) -> list[str]:
        """Complete or roll back an update a killed process left (see ``_recover``)."""
        with self._locked():
            return self._recover()

    @staticmethod
    def has_pending(settings: Settings) -> bool:
        pending = Path(settings.index_dir) / PENDING
        return pending.is_dir() and any(pending.iterdir())

    def collect(self, everything: bool = False) -> None:
        """Delete retired vectors, entries and collections older than the grace period."""
        with self._locked():
            self._collect_retired(everything)

    # -- locking, transactions, recovery ---------------------------------------------------

    @contextmanager
    def _locked(self):
        """One writer at a time per index, across processes (a CLI run, two servers)."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.index_dir / ".build.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _transaction(self, op: str, rel: str, data: bytes | None) -> BuildSummary:
        with self._locked():
            self._recover()
            self._committed = None
            pending = self.index_dir / PENDING
            pending.mkdir(exist_ok=True)
            txn = uuid.uuid4().hex
            digest = hashlib.sha256(data).hexdigest() if data is not None else ""
            if data is not None:
                write_atomic(pending / f"{txn}.data", data)
            write_json_atomic(pending / f"{txn}.json", {"op": op, "rel": rel, "sha256": digest})
            try:
                if op == "add":  # the file is placed with this mtime: no second manifest write
                    change = _Change(data, digest, len(data or b""), time.time_ns())
                else:
                    change = _Change(None)
                summary = self._apply({rel: change}, fresh=False, started=time.perf_counter())
            except BaseException:
                self._discard_txn(pending, txn)
                raise
            # the commit point has passed: place the file (by the manifest just committed)
            self._finish_txn(pending, txn, self._committed)
            return summary

    def _finish_txn(self, pending: Path, txn: str, manifest: dict | None = None) -> None:
        spec = json.loads((pending / f"{txn}.json").read_text(encoding="utf-8"))
        if manifest is None:
            manifest = read_manifest(self.index_dir) or {"files": {}}
        rec = manifest.get("files", {}).get(spec["rel"])
        target = self.corpus_dir / spec["rel"]
        if spec["op"] == "add":
            if rec and rec.get("sha256") == spec["sha256"] and (pending / f"{txn}.data").exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{txn[:8]}.upload")
                shutil.copyfile(pending / f"{txn}.data", tmp)
                if rec.get("mtime_ns") and rec.get("size") == tmp.stat().st_size:
                    # the stat the manifest committed, so a later scan need not hash it
                    os.utime(tmp, ns=(rec["mtime_ns"], rec["mtime_ns"]))
                    os.replace(tmp, target)
                else:
                    os.replace(tmp, target)
                    self._note_stat(spec["rel"], target)
        elif rec is None and target.is_file():
            target.unlink()
        self._discard_txn(pending, txn)

    def _note_stat(self, rel: str, path: Path) -> None:
        """Remember the placed file's size and mtime, so a later scan need not hash it."""
        manifest = read_manifest(self.index_dir)
        if not manifest or rel not in manifest.get("files", {}):
            return
        st = path.stat()
        manifest["files"][rel].update(size=st.st_size, mtime_ns=st.st_mtime_ns)
        self._write_manifest(manifest, [rel])

    @staticmethod
    def _discard_txn(pending: Path, txn: str) -> None:
        for suffix in (".data", ".json"):
            (pending / f"{txn}{suffix}").unlink(missing_ok=True)

    def _recover(self) -> list[str]:
        """Finish or roll back what a killed update left: transactions whose manifest commit
        happened are completed (the file placed in, or removed from, the corpus); the others
        are dropped, and vectors written for an uncommitted state are retired."""
        done = []
        pending = self.index_dir / PENDING
        if not pending.is_dir() or not any(pending.iterdir()):
            return done
        # a process killed before replacing the head left the entries and manifest shards it
        # had written for its commit: no head names them, and no reader ever saw them
        strays = self._stray_entries() + self._stray_records()
        for path in strays:
            path.unlink(missing_ok=True)
        if strays:
            done.append(f"删除了中断的提交留下的 {len(strays)} 个条目与索引清单分片文件")
        for spec_path in sorted(pending.glob("*.json")):
            txn = spec_path.stem
            if spec_path.name.startswith("vectors-"):
                continue
            try:
                self._finish_txn(pending, txn)
                done.append(f"完成了中断的上传/删除事务 {txn[:8]}")
            except (OSError, ValueError):
                self._discard_txn(pending, txn)
                done.append(f"丢弃了损坏的事务记录 {txn[:8]}")
        for path in pending.glob("*.data"):  # data without a spec: never committed
            path.unlink(missing_ok=True)
        journals = sorted(pending.glob("vectors-*.json"))
        if journals:
            manifest = read_manifest(self.index_dir) or {"files": {}}
            live = self._live_vector_ids(manifest)
            stray: list[str] = []
            for path in journals:
                try:
                    spec = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    spec = {}
                stray += [i for i in spec.get("ids", []) if i not in live]
                if spec.get("collection") and spec["collection"] != manifest.get("collection"):
                    self._retire(collections=[spec["collection"]], at=0.0)
                path.unlink(missing_ok=True)
            if stray:
                self._retire(ids=stray, at=0.0)
                done.append(f"回收了中断构建写入的 {len(stray)} 个向量")
        return done

    # -- syncing with the corpus folder ----------------------------------------------------

    def _needs_fresh(self, old: dict | None, embedder: str, dict_fp: str, client=None) -> bool:
        """Must everything be rebuilt (into a fresh collection)? ``client`` also checks that
        the collection still exists; without it, only the manifest is consulted."""
        if not old or old.get("version") != MANIFEST_VERSION:
            return True
        if old.get("embedder_id") != embedder or old.get("chunker") != CHUNKER_VERSION:
            return True
        if old.get("dictionary") != dict_fp:
            return True
        if old.get("chroma") != (self.settings.chroma_url or "embedded"):
            return True
        return client is not None and old.get("collection") not in list_collection_names(client)

    def _sync(self, force: bool) -> BuildSummary:
        started = time.perf_counter()
        old = read_manifest(self.index_dir)
        dict_fp = _dictionary_fingerprint(self.corpus_dir)
        # Chroma and a remote embedder's client are only opened when there is work to do
        fresh = force or self._needs_fresh(old, embedder_id(self.settings), dict_fp)
        records = {} if fresh else dict(old.get("files", {}))
        changes: dict[str, _Change] = {}
        seen = set()
        for path in iter_corpus_files(self.corpus_dir):
            rel = path.relative_to(self.corpus_dir).as_posix()
            seen.add(rel)
            st = path.stat()
            rec = records.get(rel)
            if rec and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
                if rec.get("error") or self._entry_ok(rec):
                    continue  # unchanged by its stat: not even read
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if rec and rec.get("sha256") == digest and (rec.get("error") or self._entry_ok(rec)):
                if rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
                    changes[rel] = _Change(None, digest, st.st_size, st.st_mtime_ns, True)
                continue
            changes[rel] = _Change(data, digest, st.st_size, st.st_mtime_ns)
        for rel in records:
            if rel not in seen:
                changes[rel] = _Change(None)
        if not fresh and all(c.stat_only for c in changes.values()):
            if not self._collection_exists(old.get("collection")):  # dropped behind our back
                return self._apply(_all_changed(self.corpus_dir), True, started, force)
            if changes:  # only stats differ (a copy, a touch): remember them, no new state
                for rel, change in changes.items():
                    old["files"][rel].update(size=change.size, mtime_ns=change.mtime_ns)
                self._write_manifest(old, list(changes))
            self._collect_retired()
            return self._summary_of(old, started)
        summary = self._apply(changes, fresh=fresh, started=started, force=force)
        return summary

    def _collection_exists(self, name: str | None) -> bool:
        """Is the collection there? For embedded Chroma, asked of its SQLite file directly, so
        a no-op ``index`` need not import chromadb."""
        if not name:
            return False
        db = self.index_dir / "chroma" / "chroma.sqlite3"
        if not self.settings.chroma_url and db.is_file():
            import sqlite3

            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    row = con.execute("SELECT 1 FROM collections WHERE name = ?", (name,))
                    return row.fetchone() is not None
            except sqlite3.Error:
                pass
        return name in list_collection_names(get_client(self.settings))

    def _entry_ok(self, rec: dict) -> bool:
        return bool(rec.get("entry")) and (self.index_dir / ENTRIES / rec["entry"]).is_file()

    def _summary_of(self, manifest: dict, started: float) -> BuildSummary:
        files = manifest.get("files", {})
        summary = BuildSummary(
            files=sum(1 for f in files.values() if not f.get("error")),
            chunks=manifest.get("chunks", 0),
            reused=manifest.get("chunks", 0),
        )
        summary.skipped = [LoadError(r, f["error"]) for r, f in files.items() if f.get("error")]
        summary.seconds = time.perf_counter() - started
        return summary

    # -- applying changes ------------------------------------------------------------------

    def _apply(
        self, changes: dict[str, _Change], fresh: bool, started: float, force: bool = False
    ) -> BuildSummary:
        """Index the changed files, patch what they change in other entries, write vectors and
        entries, then commit the manifest (the one moment the new state becomes visible)."""
        settings = self.settings
        embedder = get_embedder(settings)
        client = get_client(settings)
        old = self._current_manifest()
        # the caller's text describes ``old`` only while ``old`` is the caller's manifest
        text = self._text if self._known is not None and old is self._known[0] else None
        self._text = None
        dict_fp = _dictionary_fingerprint(self.corpus_dir)
        if not fresh and self._needs_fresh(old, embedder.embedder_id, dict_fp, client):
            # an upload into an index built by another embedder or chunker: rebuild it first
            self._sync(force=False)
            old = read_manifest(self.index_dir)
        summary = BuildSummary()
        # (copy on write: a record this update changes is replaced, never edited in place —
        # the previous state's manifest holds the same objects)
        records: dict[str, dict] = {} if fresh else dict(old["files"])
        old_records: dict[str, dict] = {} if not old else old.get("files", {})  # (only read)

        # 1. load the changed files (a scan is OCRed with the index's page cache)
        domain = load_dictionary(self.corpus_dir)
        docs = {}
        loads = [(rel, c) for rel, c in changes.items() if c.data is not None]
        for n, (rel, change) in enumerate(loads, 1):
            self.progress("load", n - 1, len(loads))
            try:
                with ocr_options(
                    OcrOptions.from_settings(
                        settings, progress=lambda _name, d, t: self.progress("ocr", d, t)
                    )
                ):
                    doc = load_bytes(change.data, rel)
            except LoadError as err:
                summary.skipped.append(err)
                records[rel] = {
                    "sha256": change.digest,
                    "size": change.size,
                    "mtime_ns": change.mtime_ns,
                    "error": err.reason,
                }
                continue
            docs[rel] = doc
            records[rel] = _record_of(doc, change.digest, change.size, change.mtime_ns)
        self.progress("load", len(loads), len(loads))
        for rel, change in changes.items():
            if change.stat_only:
                if rel in records:
                    records[rel] = {
                        **records[rel],
                        "size": change.size,
                        "mtime_ns": change.mtime_ns,
                    }
            elif change.data is None:
                records.pop(rel, None)
                summary.removed += 1

        # 2. what the changed documents change in others: repeals, quoted terms. Both are
        # kept in the manifest as summaries (the names repeals point at, the number of
        # documents quoting each term), so that a change which touches neither costs nothing
        # here; otherwise the repeals are resolved over every record, as a full build does.
        # (a manifest written before the summaries were kept gets them computed here)
        summarised = bool(not fresh and old and "term_docs" in old and "repeal_targets" in old)
        before = [old_records[rel] for rel in changes if rel in old_records]
        after = [records[rel] for rel in changes if rel in records]
        if summarised and not _touches_repeals([*before, *after], old["repeal_targets"]):
            superseded, repeal_targets = None, old["repeal_targets"]
        else:
            superseded, repeal_targets = _repeals(records), _repeal_targets(records)
        for rel, doc in docs.items():
            by = superseded.get(records[rel]["doc_id"]) if superseded else None
            if by:
                doc.metadata["status"], doc.metadata["superseded_by"] = "已废止", by
                records[rel].update(status="已废止", superseded_by=by)
        if summarised:
            term_docs = dict(old["term_docs"])
            for rec, sign in [*((r, -1) for r in before), *((r, 1) for r in after)]:
                for t in rec.get("quoted", ()) if not rec.get("error") else ():
                    term_docs[t] = term_docs.get(t, 0) + sign
                    if term_docs[t] <= 0:
                        del term_docs[t]
            same = term_docs.keys() == old["term_docs"].keys()
            terms = list(old["terms"]) if same else sorted(term_docs)
        else:
            term_docs = _term_docs(records)
            terms = sorted(term_docs)
        old_terms = set() if fresh or not old else set(old.get("terms", []))
        add_terms(domain)
        add_terms(terms)
        new_terms = [t for t in terms if t not in old_terms]

        # 3. entries: computed for changed documents, patched for affected others
        entries: dict[str, Entry] = {}
        for n, (rel, doc) in enumerate(docs.items(), 1):
            entries[rel] = _entry_of(rel, doc, records[rel])
            self.progress("chunk", n, len(docs))
        if new_terms and not fresh and text is not None:
            # the documents holding a new term, by their text or their title (chunks are
            # tokenised with the title), and those whose status a repeal can change
            holders = set().union(*(text.holders(t) for t in new_terms))
            others = [
                (rel, rec)
                for rel, rec in records.items()
                if rec.get("doc_id") in holders
                or any(t in rec.get("title", "") for t in new_terms)
                or (
                    superseded is not None
                    and (rec.get("superseded_by") or rec.get("doc_id") in superseded)
                )
            ]
        elif fresh or new_terms:
            others = list(records.items())
        elif superseded is None:  # no repeal starts or ends: no other status changes
            others = []
        else:  # a status can change only where a repeal starts or ends
            others = [
                (rel, rec)
                for rel, rec in records.items()
                if rec.get("superseded_by") or rec.get("doc_id") in superseded
            ]
        if superseded is None and others:  # (the repeals as the records hold them)
            superseded = {
                r["doc_id"]: r["superseded_by"] for r in records.values() if r.get("superseded_by")
            }
        for rel, rec in others:
            if rel in entries or rec.get("error") or not rec.get("entry"):
                continue
            by = superseded.get(rec["doc_id"]) if superseded else None
            status = "已废止" if by else rec.get("stated_status") or "现行"
            restatus = (rec.get("status"), rec.get("superseded_by")) != (status, by)
            retoken = False
            if new_terms:  # a cheap look at the entry's bytes before parsing it
                raw = (self.index_dir / ENTRIES / rec["entry"]).read_bytes()
                retoken = any(t.encode() in raw for t in new_terms)
            if not (restatus or retoken):
                continue
            entry = read_entry(self.index_dir, rec["entry"])
            if restatus:
                _with_status(entry, status, by)
            if retoken:
                _retokenised(entry)
            entry.record = {**entry.record, **rec, "status": status, "superseded_by": by}
            entries[rel] = entry
        summary.updated = len(entries)

        # 4. vectors for the changed documents' chunks
        coll_name = (
            f"{collection_prefix(settings)}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
            if fresh
            else old["collection"]
        )
        try:
            collection = (
                create_collection(client, coll_name) if fresh else get_collection(client, coll_name)
            )
            embedded, reused = self._write_vectors(
                client, collection, [e for rel, e in entries.items() if rel in docs], old, force
            )
        except BaseException as exc:
            if fresh:
                self._retire(collections=[coll_name], at=0.0)
            if isinstance(exc, Exception):
                raise IndexBuildError(f"建立索引失败，仍使用原有索引：{exc}") from exc
            raise
        summary.embedded, summary.reused = embedded, reused

        # 5. entries, then the manifest: the commit
        (self.index_dir / ENTRIES).mkdir(exist_ok=True)
        retired_entries = []
        for rel, entry in entries.items():
            name = f"{hashlib.sha1(rel.encode()).hexdigest()[:12]}-{uuid.uuid4().hex[:10]}.json"
            entry.record = {**entry.record, "entry": name}
            write_atomic(self.index_dir / ENTRIES / name, entry.dumps())
            records[rel] = entry.record
        touched = set(changes) | set(entries)  # records that may differ from the old ones
        if fresh or not old or "chunks" not in old or "documents" not in old:
            indexed = [r for r in records.values() if not r.get("error")]
            total_chunks, total_docs = sum(r.get("chunks", 0) for r in indexed), len(indexed)
        else:  # the previous totals, ± the records this update touched
            total_chunks, total_docs = old["chunks"], old["documents"]
            for rel in touched:
                for rec, sign in ((old_records.get(rel), -1), (records.get(rel), 1)):
                    if rec and not rec.get("error"):
                        total_chunks += sign * rec.get("chunks", 0)
                        total_docs += sign
        manifest = {
            "version": MANIFEST_VERSION,
            "generation": time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6],
            "collection": coll_name,
            "embedder_id": embedder.embedder_id,
            "chunker": CHUNKER_VERSION,
            "dictionary": dict_fp,
            "chroma": settings.chroma_url or "embedded",
            "chunks": total_chunks,
            "documents": total_docs,
            "terms": terms,
            "term_docs": term_docs,
            "repeal_targets": repeal_targets,
            "files": records,  # (in any order: the shards are written sorted)
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # (only the shards of the records this update touched are written)
        retired_records = write_manifest(
            self.index_dir, manifest, None if fresh or not old else touched, old or {}
        )
        self._committed = manifest
        self._committed_stamp = manifest_stamp(self.index_dir)  # ours: the lock is held
        self._delta = None if fresh or not old else (old, frozenset(touched))
        self._known = None
        for path in (self.index_dir / PENDING).glob("vectors-*.json"):
            path.unlink(missing_ok=True)

        # 6. retire what the committed state no longer uses
        stale_ids: list[str] = []
        for rel in old_records if fresh else touched & old_records.keys():
            rec = old_records[rel]
            if not rec.get("entry"):
                continue
            new = records.get(rel)
            if fresh or new is None or new.get("entry") != rec["entry"]:
                retired_entries.append(rec["entry"])
                if not fresh and (new is None or rel in docs):
                    stale_ids += self._ids_of_entry(rec["entry"])
        keep = {i for e in entries.values() for i in e.vector_ids()}
        stale_ids = [i for i in stale_ids if i not in keep]
        old_colls = [old["collection"]] if fresh and old and old.get("collection") else []
        self._retire(
            ids=stale_ids,
            entries=retired_entries,
            collections=old_colls,
            records=retired_records,
            adopt=keep,
        )
        if fresh:  # a rebuild leaves nothing of the old layout behind
            shutil.rmtree(self.index_dir / "gen", ignore_errors=True)
        self._collect_retired(manifest=manifest)

        summary.files = total_docs
        summary.chunks = total_chunks
        summary.reused = total_chunks - summary.embedded  # every vector not embedded now
        summary.changed = True
        summary.seconds = time.perf_counter() - started
        return summary

    def _ids_of_entry(self, name: str) -> list[str]:
        try:
            return read_entry(self.index_dir, name).vector_ids()
        except (OSError, ValueError, KeyError):
            return []

    def _write_vectors(self, client, collection, entries, old, force) -> tuple[int, int]:
        """Add the vectors the entries need and the collection lacks: found by id (unchanged
        chunks), else by the hash of the embedded text anywhere in the old collection (a
        renamed file, a new chunker), else embedded — in batches when the embedder is remote."""
        chunks = {vector_id(c): c for e in entries for c in e.chunks}
        ids = list(chunks)
        present = set()
        if not force:  # a forced rebuild writes into a fresh collection: nothing is there
            for s in range(0, len(ids), GET_BATCH):
                present.update(collection.get(ids=ids[s : s + GET_BATCH], include=[])["ids"])
        missing = [i for i in ids if i not in present]
        vectors: dict[str, list[float]] = {}
        if missing and old and old.get("embedder_id") == get_embedder(self.settings).embedder_id:
            source = collection
            if old.get("collection") and old["collection"] != collection.name:
                try:
                    source = get_collection(client, old["collection"])
                except Exception:
                    source = None
            if source is not None:
                by_hash: dict[str, list[str]] = {}
                for i in missing:
                    by_hash.setdefault(text_hash(chunks[i]), []).append(i)
                hashes = list(by_hash)
                for s in range(0, len(hashes), GET_BATCH):
                    got = source.get(
                        where={"text_hash": {"$in": hashes[s : s + GET_BATCH]}},
                        include=["embeddings", "metadatas"],
                    )
                    for meta, emb in zip(got["metadatas"], got["embeddings"], strict=True):
                        for i in by_hash.get((meta or {}).get("text_hash"), []):
                            vectors[i] = list(map(float, emb))
        todo = [i for i in missing if i not in vectors]
        embedder = get_embedder(self.settings)
        batch = max(1, embedder.batch_size)
        self.progress("embed", 0, len(todo))
        for s in range(0, len(todo), batch):
            part = todo[s : s + batch]
            for i, vec in zip(
                part, embedder.embed_documents([chunks[i].index_text() for i in part]), strict=True
            ):
                vectors[i] = vec
            self.progress("embed", min(s + batch, len(todo)), len(todo))
        if missing:
            pending = self.index_dir / PENDING
            pending.mkdir(exist_ok=True)
            write_json_atomic(
                pending / f"vectors-{uuid.uuid4().hex}.json",
                {"collection": collection.name, "ids": missing},
            )
        for s in range(0, len(missing), ADD_BATCH):
            part = missing[s : s + ADD_BATCH]
            collection.add(
                ids=part,
                embeddings=[vectors[i] for i in part],
                documents=[chunks[i].text for i in part],
                metadatas=[_chroma_meta(chunks[i]) for i in part],
            )
            self.progress("store", min(s + ADD_BATCH, len(missing)), len(missing))
        return len(todo), len(ids) - len(todo)

    # -- retirement and garbage ------------------------------------------------------------

    def _write_manifest(self, manifest: dict, touched: list[str] | None = None) -> None:
        """Rewrite the committed manifest, edited in place (its ``touched`` records' shards,
        or all of them), retiring the shard files it replaces."""
        self._retire(records=write_manifest(self.index_dir, manifest, touched))

    def _read_retired(self) -> list[dict]:
        try:
            return json.loads((self.index_dir / RETIRED).read_text(encoding="utf-8"))["items"]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def _retire(
        self,
        ids=(),
        entries=(),
        collections=(),
        at: float | None = None,
        adopt: set[str] | None = None,
        records=(),
    ) -> None:
        items = self._read_retired()
        if adopt:  # ids the new state uses again must outlive an earlier retirement
            for item in items:
                item["ids"] = [i for i in item.get("ids", []) if i not in adopt]
        if ids or entries or collections or records:
            items.append(
                {
                    "at": time.time() if at is None else at,
                    "ids": list(ids),
                    "entries": list(entries),
                    "collections": list(collections),
                    "records": list(records),
                }
            )
        write_json_atomic(self.index_dir / RETIRED, {"items": items})

    def _collect_retired(self, everything: bool = False, manifest: dict | None = None) -> None:
        """Delete what was retired longer ago than the grace period (``manifest`` — the one
        just committed, when the caller has it)."""
        items = self._read_retired()
        if not items:
            return
        now = time.time()
        ripe = [i for i in items if everything or now - i.get("at", 0) >= RETIRE_GRACE_S]
        if not ripe:
            return
        client = get_client(self.settings)
        if manifest is None:
            manifest = read_manifest(self.index_dir) or {}
        live_coll = manifest.get("collection")
        names = set(list_collection_names(client))
        live_entries = {r.get("entry") for r in manifest.get("files", {}).values()}
        live_records = live_shard_files(manifest)
        coll = get_collection(client, live_coll) if live_coll in names else None
        for item in ripe:
            ids = item.get("ids", [])
            if coll is not None:
                for s in range(0, len(ids), GET_BATCH):
                    coll.delete(ids=ids[s : s + GET_BATCH])
            for name in item.get("entries", []):
                if name not in live_entries:
                    (self.index_dir / ENTRIES / name).unlink(missing_ok=True)
            for name in item.get("records", []):
                if name not in live_records:
                    (self.index_dir / RECORDS / name).unlink(missing_ok=True)
            for name in item.get("collections", []):
                if name != live_coll and name in names:
                    try:
                        client.delete_collection(name)
                    except Exception:
                        pass
        rest = [i for i in items if i not in ripe]
        write_json_atomic(self.index_dir / RETIRED, {"items": rest})
        if any(i.get("collections") for i in ripe):
            _remove_orphan_segments(self.index_dir, self.settings)

    def _stray_entries(self, manifest: dict | None = None, retired=None) -> list[Path]:
        """Entry files that neither a committed record names nor a retirement holds."""
        return self._strays(ENTRIES, "entries", manifest, retired)

    def _stray_records(self, manifest: dict | None = None, retired=None) -> list[Path]:
        """Manifest shard files that neither the committed head names nor a retirement holds
        (a head written whole names none)."""
        return self._strays(RECORDS, "records", manifest, retired)

    def _strays(self, folder: str, kind: str, manifest, retired) -> list[Path]:
        path = self.index_dir / folder
        if not path.is_dir():
            return []
        if manifest is None:
            manifest = read_manifest(self.index_dir)
            if manifest is None:  # no readable head: nothing can be called stray
                return []
        if kind == "entries":
            live = {r.get("entry") for r in manifest.get("files", {}).values()}
        else:
            live = live_shard_files(manifest)
        items = retired if retired is not None else self._read_retired()
        held = {name for item in items for name in item.get(kind, [])}
        return [p for p in path.iterdir() if p.name not in live and p.name not in held]

    def _live_vector_ids(self, manifest: dict) -> set[str]:
        live: set[str] = set()
        for rec in manifest.get("files", {}).values():
            if rec.get("entry"):
                live.update(self._ids_of_entry(rec["entry"]))
        return live

    # -- check and repair ------------------------------------------------------------------

    def _check(self, repair: bool) -> CheckReport:
        report = CheckReport()
        recovered = self._recover() if repair else []
        report.problems += recovered
        report.repaired += recovered
        manifest = read_manifest(self.index_dir)
        if manifest is None or manifest.get("version") != MANIFEST_VERSION:
            report.problems.append("没有可用的索引清单（manifest.json）")
            if repair and self.corpus_dir.is_dir():
                self._sync(force=False)
                report.repaired.append("重新建立了索引")
            return report
        # corpus ↔ manifest
        files = manifest.get("files", {})
        on_disk = {
            p.relative_to(self.corpus_dir).as_posix(): p
            for p in (iter_corpus_files(self.corpus_dir) if self.corpus_dir.is_dir() else [])
        }
        drift = []
        for rel, path in on_disk.items():
            rec = files.get(rel)
            if rec is None:
                drift.append(f"语料中有未入索引的文件：{rel}")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != rec.get("sha256"):
                drift.append(f"文件内容与索引不一致：{rel}")
        drift += [f"索引中的文件已不在语料中：{rel}" for rel in files if rel not in on_disk]
        # manifest ↔ entries
        missing_entries = [
            rel for rel, rec in files.items() if not rec.get("error") and not self._entry_ok(rec)
        ]
        drift += [f"缺少文档条目：{rel}" for rel in missing_entries]
        # the manifest's summaries of its records (what an update reads instead of them)
        summaries = {"term_docs": _term_docs(files), "repeal_targets": _repeal_targets(files)}
        stale = [k for k, v in summaries.items() if manifest.get(k) != v]
        if stale:
            report.problems.append(f"索引清单的汇总与文件记录不一致：{', '.join(stale)}")
            if repair:
                manifest.update(summaries)
                self._write_manifest(manifest)
                report.repaired.append("重算了索引清单的汇总")
        report.problems += drift
        if repair and drift:
            for rel in missing_entries:  # recomputed by the sync below
                files[rel].pop("entry", None)
                files[rel]["size"] = None
            if missing_entries:
                self._write_manifest(manifest, missing_entries)
            self._sync(force=False)
            report.repaired.append("按语料目录同步了索引")
            manifest = read_manifest(self.index_dir) or manifest
        # manifest ↔ Chroma
        client = get_client(self.settings)
        names = list_collection_names(client)
        retired = self._read_retired()
        retired_ids = {i for item in retired for i in item.get("ids", [])}
        retired_colls = {c for item in retired for c in item.get("collections", [])}
        prefix = collection_prefix(self.settings) + "-"
        orphans = [
            n
            for n in names
            if n.startswith(prefix) and n != manifest["collection"] and n not in retired_colls
        ]
        report.problems += [f"多余的 Chroma 集合：{n}" for n in orphans]
        if manifest["collection"] not in names:
            report.problems.append(f"Chroma 集合不存在：{manifest['collection']}")
            if repair:
                self._sync(force=False)
                report.repaired.append("重建了向量集合")
            return report
        coll = get_collection(client, manifest["collection"])
        live = self._live_vector_ids(manifest)
        stored: set[str] = set()
        total = coll.count()
        for offset in range(0, total, 5000):
            stored.update(coll.get(include=[], limit=5000, offset=offset)["ids"])
        extra = sorted(stored - live - retired_ids)
        lacking = sorted(live - stored)
        if extra:
            report.problems.append(f"Chroma 中有 {len(extra)} 个不属于任何文档的向量")
        if lacking:
            report.problems.append(f"Chroma 中缺少 {len(lacking)} 个向量")
        stray_entries = self._stray_entries(manifest, retired)
        if stray_entries:
            report.problems.append(f"有 {len(stray_entries)} 个不再使用的文档条目文件")
        stray_records = self._stray_records(manifest, retired)
        if stray_records:
            report.problems.append(f"有 {len(stray_records)} 个不再使用的索引清单分片文件")
        stray_dirs = _orphan_segments(self.index_dir, self.settings)
        if stray_dirs:
            report.problems.append(f"Chroma 目录中有 {len(stray_dirs)} 个已删除集合留下的文件夹")
        old_layout = self.index_dir / "gen"
        if old_layout.exists():
            report.problems.append("旧版本索引留下的 gen/ 目录")
        if not repair:
            return report
        if extra:
            for s in range(0, len(extra), GET_BATCH):
                coll.delete(ids=extra[s : s + GET_BATCH])
            report.repaired.append(f"删除了 {len(extra)} 个多余向量")
        for name in orphans:
            client.delete_collection(name)
            report.repaired.append(f"删除了多余集合 {name}")
        for path in stray_entries:
            path.unlink(missing_ok=True)
        if stray_entries:
            report.repaired.append(f"删除了 {len(stray_entries)} 个多余条目文件")
        for path in stray_records:
            path.unlink(missing_ok=True)
        if stray_records:
            report.repaired.append(f"删除了 {len(stray_records)} 个多余的索引清单分片文件")
        if lacking:
            by_rel = {}
            for rel, rec in manifest["files"].items():
                if rec.get("entry"):
                    by_rel[rel] = read_entry(self.index_dir, rec["entry"])
            need = [e for e in by_rel.values() if set(e.vector_ids()) & set(lacking)]
            self._write_vectors(client, coll, need, manifest, force=False)
            report.repaired.append(f"补写了 {len(lacking)} 个缺失的向量")
        if stray_dirs:
            _remove_orphan_segments(self.index_dir, self.settings)
            report.repaired.append("删除了已删除集合留下的文件夹")
        if old_layout.exists():
            shutil.rmtree(old_layout, ignore_errors=True)
            report.repaired.append("删除了旧版 gen/ 目录")
        return report


def build_index(
    settings: Settings,
    progress: ProgressFn | None = None,
    force: bool = False,
    state: Callable[[], object] | None = None,
) -> BuildSummary:
    """Bring the index in line with the corpus folder; when it changed, also save the new
    state's combined structures (the snapshot), so that the next ``serve`` starts from them.
    ``state`` returns the caller's own reader of the new state (a server has one loaded);
    without it the state is opened here — only when something changed, so a no-op run never
    imports the retrieval stack."""
    summary = IndexBuilder(settings, progress).build(force=force)
    if summary.changed:
        try:
            if state is None:
                from .retrieve import Retriever

                reader = Retriever(settings).reader
            else:
                reader = state()
            reader.write_snapshot()
        except Exception:  # only a slower next start
            log.exception("could not save the index snapshot; the next start combines entries")
    return summary


def _all_changed(corpus_dir: Path) -> dict[str, _Change]:
    out = {}
    for path in iter_corpus_files(corpus_dir):
        data, st = path.read_bytes(), path.stat()
        out[path.relative_to(corpus_dir).as_posix()] = _Change(
            data, hashlib.sha256(data).hexdigest(), st.st_size, st.st_mtime_ns
        )
    return out


def _repeals(records: dict[str, dict]) -> dict[str, str | None]:
    """doc_id → the doc_id that repeals it (absent: none does), over every readable document
    the records hold. Only the repealing documents and the ones they can name are resolved:
    the same result as resolving all of them, at a cost that does not grow with the corpus's
    unrelated documents."""
    live = [r for r in records.values() if not r.get("error") and r.get("doc_id")]
    repealing = [r for r in live if r.get("repeals")]
    if not repealing:
        return {}
    # the documents a repeal can name, by 文号 and by title (the last of equals, as
    # ``resolve_repeals`` finds them)
    by_no = {r["doc_no"]: r for r in live if r.get("doc_no")}
    by_title = {r.get("title", ""): r for r in live}
    wanted = {id(r) for r in repealing}
    for r in repealing:
        for target in r["repeals"]:
            for found in (by_no.get(target.get("doc_no")), by_title.get(target.get("title"))):
                if found is not None:
                    wanted.add(id(found))
    metas = {}
    for rec in live:  # in the records' order, so that equal titles resolve as before
        if id(rec) in wanted:
            m = DocMeta(title=rec.get("title", ""), doc_no=rec.get("doc_no"))
            m.repeals = rec.get("repeals") or []
            metas[rec["doc_id"]] = m
    resolve_repeals(metas)
    return {doc_id: m.superseded_by for doc_id, m in metas.items() if m.superseded_by}


def _repeal_targets(records: dict[str, dict]) -> list[str]:
    """Every 文号 and title a readable document's repeal clause names: a change to a document
    with none of these, repealing nothing itself, cannot change any document's status."""
    names = set()
    for r in records.values():
        if not r.get("error"):
            for target in r.get("repeals") or ():
                names.update(v for v in (target.get("doc_no"), target.get("title")) if v)
    return sorted(names)


def _touches_repeals(changed: list[dict], targets: list[str]) -> bool:
    """Whether records changed (as they were and as they are) can start or end a repeal."""
    names = set(targets)
    return any(
        not r.get("error")
        and bool(
            r.get("repeals")
            or r.get("superseded_by")
            or r.get("doc_no") in names
            or r.get("title") in names
        )
        for r in changed
    )


def _term_docs(records: dict[str, dict]) -> dict[str, int]:
    """Quoted term → how many readable documents quote it."""
    counts: dict[str, int] = {}
    for r in records.values():
        if not r.get("error"):
            for t in r.get("quoted", ()):
                counts[t] = counts.get(t, 0) + 1
    return dict(sorted(counts.items()))


def _chroma_meta(chunk: Chunk) -> dict:
    return {"doc_id": chunk.doc_id, "text_hash": text_hash(chunk)}


def _orphan_segments(index_dir: Path, settings: Settings) -> list[Path]:
    """Folders an embedded Chroma left behind for collections it deleted (chroma-core/chroma
    #5259): segment folders no segment in its own database names."""
    if settings.chroma_url:
        return []
    root = Path(index_dir) / "chroma"
    db = root / "chroma.sqlite3"
    if not db.is_file():
        return []
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            known = {row[0] for row in con.execute("SELECT id FROM segments")}
    except sqlite3.Error:
        return []
    out = []
    for child in root.iterdir():
        if child.is_dir() and _is_uuid(child.name) and child.name not in known:
            out.append(child)
    return out


def _remove_orphan_segments(index_dir: Path, settings: Settings) -> None:
    for path in _orphan_segments(index_dir, settings):
        shutil.rmtree(path, ignore_errors=True)


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
