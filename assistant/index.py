"""Build and open the hybrid index: Chroma (vectors, system of record) + BM25 (derived).

Every build writes a new *generation* — a fresh Chroma collection plus ``gen/<id>/`` holding the
chunk table and the BM25 files — and only then swaps ``manifest.json`` (atomic ``os.replace``)
to point at it. A build that fails or is killed leaves the previous generation in use; its
leftovers are removed by the next build.

Nothing is embedded twice: vectors are reused by the hash of the text that was embedded (heading
path + chunk text), so an unchanged corpus embeds nothing and a changed file re-embeds only its
changed chunks. A different embedder or chunker version rebuilds from scratch.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s

from .answering.instructions import flagged_spans
from .chunk import CHUNKER_VERSION, chunk_document
from .config import Settings
from .embed import get_embedder
from .errors import IndexBuildError, LoadError
from .ingest.ocr import OcrOptions, ocr_options
from .load import iter_corpus_files, load_bytes, resolve_corpus
from .models import Chunk
from .store import (
    collection_prefix,
    create_collection,
    get_client,
    get_collection,
    list_collection_names,
)
from .text import add_terms, load_dictionary, quoted_terms, search_tokens

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
ADD_BATCH = 256
FLAGGED_LISTED = 20  # flagged sentences kept per document in the manifest

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildSummary:
    files: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    changed: bool = False
    skipped: list[LoadError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "changed": self.changed,
            "skipped": [{"file": e.path, "reason": e.reason} for e in self.skipped],
        }


def text_hash(chunk: Chunk) -> str:
    return hashlib.sha1(chunk.index_text().encode()).hexdigest()


def read_manifest(index_dir: Path) -> dict | None:
    path = Path(index_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _scan(corpus_dir: Path) -> dict[str, tuple[Path, bytes, str]]:
    files = {}
    for path in iter_corpus_files(corpus_dir):
        data = path.read_bytes()
        files[path.relative_to(corpus_dir).as_posix()] = (
            path,
            data,
            hashlib.sha256(data).hexdigest(),
        )
    return files


def _dictionary_fingerprint(corpus_dir: Path) -> str:
    parts = []
    path = corpus_dir / "domain_terms.txt"
    if path.is_file():
        parts.append(path.read_bytes())
    return hashlib.sha1(b"\x00".join(parts)).hexdigest()


class IndexBuilder:
    def __init__(self, settings: Settings, progress: ProgressFn | None = None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self.corpus_dir = Path(settings.corpus_dir)
        self.progress = progress or (lambda stage, done, total: None)

    def build(self, force: bool = False) -> BuildSummary:
        if not self.corpus_dir.is_dir():
            raise IndexBuildError(f"语料目录不存在：{self.corpus_dir}（可用 PA_CORPUS_DIR 指定）")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        # One build at a time per index, across processes (a CLI run and a server upload):
        # each build removes the generations it does not use, so two at once would race.
        with open(self.index_dir / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._build(force)

    def _build(self, force: bool) -> BuildSummary:
        started = time.perf_counter()
        embedder = get_embedder(self.settings)
        client = get_client(self.settings)
        old = read_manifest(self.index_dir)
        files = _scan(self.corpus_dir)
        dict_fp = _dictionary_fingerprint(self.corpus_dir)
        summary = BuildSummary()

        if not force and self._unchanged(old, files, embedder.embedder_id, dict_fp, client):
            summary.files = sum(1 for f in old["files"].values() if not f.get("error"))
            summary.chunks = summary.reused = old["chunks"]
            summary.skipped = [
                LoadError(rel, f["error"]) for rel, f in old["files"].items() if f.get("error")
            ]
            summary.seconds = time.perf_counter() - started
            return summary

        # 1. load + chunk everything (cheap); learn the corpus's own quoted terms first.
        load_dictionary(self.corpus_dir)
        docs, file_records = [], {}
        for rel, (_path, data, digest) in files.items():
            try:
                # scans are OCRed with the index's own page cache, reporting pages as progress
                with ocr_options(
                    OcrOptions.from_settings(
                        self.settings, progress=lambda _name, d, t: self.progress("ocr", d, t)
                    )
                ):
                    doc = load_bytes(data, rel)
            except LoadError as err:
                summary.skipped.append(err)
                file_records[rel] = {"sha256": digest, "error": err.reason}
                continue
            docs.append(doc)
        resolve_corpus(docs)  # a document repealed by another is marked 已废止 before chunking
        terms = sorted(
            set().union(*(quoted_terms(d.page_content) for d in docs)) if docs else set()
        )
        add_terms(terms)
        chunks: list[Chunk] = []
        for doc in docs:
            doc_chunks = chunk_document(doc)
            chunks.extend(doc_chunks)
            meta = {k: v for k, v in doc.metadata.items() if k not in ("sha256",)}
            file_records[doc.metadata["source"]] = {
                "sha256": doc.metadata["sha256"],
                "chunks": len(doc_chunks),
                **meta,
                # sentences addressing the assistant: never answers, listed for the admin
                "flagged": [doc.page_content[s:e] for s, e in flagged_spans(doc.page_content)][
                    :FLAGGED_LISTED
                ],
            }

        # 2. vectors: reuse by the hash of the embedded text from the live generation when the
        #    embedder matches (a new chunker version re-chunks everything, but a text it cuts
        #    the same way as before is the same vector).
        reuse: dict[str, list[float]] = {}
        if old and old.get("embedder_id") == embedder.embedder_id:
            reuse = self._existing_vectors(client, old.get("collection"))
        vectors: list[list[float]] = []
        todo = [i for i, c in enumerate(chunks) if text_hash(c) not in reuse]
        for c in chunks:
            vectors.append(reuse.get(text_hash(c)))  # type: ignore[arg-type]
        self.progress("embed", 0, len(todo))
        for n, i in enumerate(todo, 1):
            vectors[i] = embedder.embed_documents([chunks[i].index_text()])[0]
            self.progress("embed", n, len(todo))
        summary.embedded = len(todo)
        summary.reused = len(chunks) - len(todo)

        # 3. write the new generation, then switch the manifest to it.
        generation = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        prefix = collection_prefix(self.settings)
        coll_name = f"{prefix}-{generation}"
        gen_dir = self.index_dir / "gen" / generation
        try:
            collection = create_collection(client, coll_name)
            for s in range(0, len(chunks), ADD_BATCH):
                batch = chunks[s : s + ADD_BATCH]
                collection.add(
                    ids=[c.chunk_id for c in batch],
                    embeddings=vectors[s : s + ADD_BATCH],
                    documents=[c.text for c in batch],
                    metadatas=[_chroma_meta(c) for c in batch],
                )
                self.progress("store", min(s + ADD_BATCH, len(chunks)), len(chunks))
            gen_dir.mkdir(parents=True)
            _write_chunks(gen_dir, chunks, terms)
            manifest = {
                "version": MANIFEST_VERSION,
                "generation": generation,
                "collection": coll_name,
                "embedder_id": embedder.embedder_id,
                "chunker": CHUNKER_VERSION,
                "dictionary": dict_fp,
                "chroma": self.settings.chroma_url or "embedded",
                "chunks": len(chunks),
                "files": file_records,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            _write_json_atomic(self.index_dir / MANIFEST, manifest)
        except BaseException as exc:
            self._drop(client, coll_name, gen_dir)
            if isinstance(exc, Exception):
                raise IndexBuildError(f"建立索引失败，仍使用原有索引：{exc}") from exc
            raise
        self._collect_garbage(client, prefix, coll_name, generation)
        summary.files = len(docs)
        summary.chunks = len(chunks)
        summary.changed = True
        summary.seconds = time.perf_counter() - started
        return summary

    # -- helpers ---------------------------------------------------------------------------

    def _unchanged(self, old, files, embedder_id, dict_fp, client) -> bool:
        if not old or old.get("version") != MANIFEST_VERSION:
            return False
        if old.get("embedder_id") != embedder_id or old.get("chunker") != CHUNKER_VERSION:
            return False
        if old.get("dictionary") != dict_fp or old.get("chroma") != (
            self.settings.chroma_url or "embedded"
        ):
            return False
        if {rel: f["sha256"] for rel, f in old.get("files", {}).items()} != {
            rel: digest for rel, (_p, _d, digest) in files.items()
        }:
            return False
        if not (self.index_dir / "gen" / old["generation"] / "chunks.jsonl").is_file():
            return False
        return old.get("collection") in list_collection_names(client)

    def _existing_vectors(self, client, name: str | None) -> dict[str, list[float]]:
        if not name or name not in list_collection_names(client):
            return {}
        coll = get_collection(client, name)
        out: dict[str, list[float]] = {}
        total = coll.count()
        for offset in range(0, total, 1000):
            got = coll.get(include=["embeddings", "metadatas"], limit=1000, offset=offset)
            for meta, emb in zip(got["metadatas"], got["embeddings"], strict=True):
                if meta and meta.get("text_hash"):
                    out[meta["text_hash"]] = list(map(float, emb))
        return out

    def _drop(self, client, coll_name: str, gen_dir: Path) -> None:
        try:
            client.delete_collection(coll_name)
        except Exception:
            pass
        shutil.rmtree(gen_dir, ignore_errors=True)

    def _collect_garbage(self, client, prefix: str, keep_coll: str, keep_gen: str) -> None:
        for name in list_collection_names(client):
            if name.startswith(prefix + "-") and name != keep_coll:
                try:
                    client.delete_collection(name)
                except Exception:
                    pass
        gen_root = self.index_dir / "gen"
        for child in gen_root.iterdir() if gen_root.is_dir() else []:
            if child.name != keep_gen:
                shutil.rmtree(child, ignore_errors=True)


def _chroma_meta(chunk: Chunk) -> dict:
    meta = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "section": chunk.section,
        "start": chunk.start,
        "end": chunk.end,
        "ordinal": chunk.ordinal,
        "text_hash": text_hash(chunk),
    }
    if chunk.year is not None:
        meta["year"] = chunk.year
    if chunk.page is not None:
        meta["page"] = chunk.page
    meta["kind"] = chunk.kind
    meta["status"] = chunk.status
    return meta


def _write_chunks(gen_dir: Path, chunks: list[Chunk], terms: list[str]) -> None:
    with open(gen_dir / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(c.model_dump_json() + "\n")
    (gen_dir / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
    tokens = [search_tokens(c.index_text()) for c in chunks]
    if chunks:  # bm25s cannot index nothing; an empty corpus (the last document deleted) has none
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        retriever.save(str(gen_dir / "bm25"), show_progress=False)
    with open(gen_dir / "tokens.jsonl", "w", encoding="utf-8") as fh:
        for t in tokens:
            fh.write(json.dumps(t, ensure_ascii=False) + "\n")
