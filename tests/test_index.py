"""Index lifecycle: incremental embedding, rebuild triggers, atomic generations, Chroma server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import assistant.index as index_mod
from assistant.chunk import chunk_document
from assistant.config import Settings
from assistant.embed import get_embedder
from assistant.index import IndexBuilder, read_manifest
from assistant.service import Assistant
from assistant.store import get_client, list_collection_names
from tests.conftest import make_settings

LOANS = "科技金融说明\n\n1.鲁科贷。争取为500家企业发放科技成果转化贷款25亿元以上。\n"
VOUCHERS = "创新券说明\n\n1.创新券。落实用好企业研发补助、创新券等普惠扶持政策。\n\n2.云上研发。支持中小企业云上研发。\n"


def small_corpus(tmp: Path) -> Settings:
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "loans.txt").write_text(LOANS, encoding="utf-8")
    (corpus / "vouchers.txt").write_text(VOUCHERS, encoding="utf-8")
    return make_settings(tmp)


def embedded_during(settings: Settings, **kw) -> tuple[int, index_mod.BuildSummary]:
    counter = get_embedder(settings)
    before = counter.passages_embedded
    summary = IndexBuilder(settings).build(**kw)
    return counter.passages_embedded - before, summary


def test_unchanged_corpus_embeds_nothing(tmp_path):
    settings = small_corpus(tmp_path)
    n, first = embedded_during(settings)
    assert n == first.chunks == first.embedded > 0
    n, again = embedded_during(settings)
    assert n == 0
    assert again.embedded == 0 and again.reused == first.chunks and not again.changed


def test_changing_one_file_reembeds_only_its_chunks(tmp_path):
    settings = small_corpus(tmp_path)
    embedded_during(settings)
    manifest = read_manifest(settings.index_dir)
    (settings.corpus_dir / "vouchers.txt").write_text(
        VOUCHERS + "\n3.新增条目。今年新增创新券发放渠道。\n", encoding="utf-8"
    )
    n, summary = embedded_during(settings)
    new = read_manifest(settings.index_dir)
    assert summary.changed and new["generation"] != manifest["generation"]
    assert 1 <= n <= new["files"]["vouchers.txt"]["chunks"]
    assert n == summary.embedded
    assert summary.reused == summary.chunks - n  # the loans file was not embedded again


def test_removed_file_disappears_from_answers(tmp_path):
    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    assistant = Assistant(settings)
    assert not assistant.ask("鲁科贷发放多少贷款？").abstained
    (settings.corpus_dir / "loans.txt").unlink()
    IndexBuilder(settings).build()  # as another process (the CLI) would
    assert [d.doc_id for d in assistant.documents()] == ["vouchers.txt"]
    # the running assistant keeps answering while it loads the new state in the background
    answer = assistant.ask("鲁科贷发放多少贷款？")
    wait_for_state(assistant, read_manifest(settings.index_dir)["generation"])
    answer = assistant.ask("鲁科贷发放多少贷款？")
    assert all(c.doc_id != "loans.txt" for c in answer.citations)


def wait_for_state(assistant: Assistant, generation: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while assistant.retriever.reader.generation != generation:
        assert time.monotonic() < deadline, "the new index state was never picked up"
        time.sleep(0.05)


def assert_clean(settings: Settings) -> None:
    """Nothing out of place between corpus, manifest, entries and Chroma."""
    report = IndexBuilder(settings).check(repair=False)
    assert report.clean, report.problems


def test_new_chunker_version_rebuilds(tmp_path, monkeypatch):
    settings = small_corpus(tmp_path)
    _, first = embedded_during(settings)
    old_generation = read_manifest(settings.index_dir)["generation"]
    monkeypatch.setattr(index_mod, "CHUNKER_VERSION", "structure-test")
    monkeypatch.setattr(index_mod, "chunk_document", lambda doc: chunk_document(doc, max_chars=20))
    n, summary = embedded_during(settings)
    manifest = read_manifest(settings.index_dir)
    assert summary.changed and manifest["generation"] != old_generation
    assert manifest["chunker"] == "structure-test"
    assert summary.chunks > first.chunks  # re-chunked with the new rules …
    assert n == summary.embedded > 0  # … and only texts never embedded before cost a vector
    assert summary.reused == summary.chunks - n


def test_new_embedder_rebuilds_without_reusing_vectors(tmp_path):
    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    head_path = settings.index_dir / "manifest.json"  # (the head: the records are in shards)
    head = json.loads(head_path.read_text(encoding="utf-8"))
    head["embedder_id"] = "some-other-embedder"  # as left by an index built with another model
    head_path.write_text(json.dumps(head), encoding="utf-8")
    n, summary = embedded_during(settings)
    assert summary.changed and n == summary.chunks
    assert read_manifest(settings.index_dir)["embedder_id"] == get_embedder(settings).embedder_id


def test_updates_keep_one_collection_and_leave_no_garbage(tmp_path):
    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    first = read_manifest(settings.index_dir)
    (settings.corpus_dir / "loans.txt").write_text(LOANS + "\n2.补充。\n", encoding="utf-8")
    IndexBuilder(settings).build()
    manifest = read_manifest(settings.index_dir)
    assert manifest["collection"] == first["collection"]  # updated in place, not copied
    assert manifest["files"]["vouchers.txt"]["entry"] == first["files"]["vouchers.txt"]["entry"]
    assert_clean(settings)  # the replaced vectors and entry wait out the grace period …
    IndexBuilder(settings).collect(everything=True)  # … and are then deleted
    entries = sorted(p.name for p in (settings.index_dir / "docs").iterdir())
    assert entries == sorted(r["entry"] for r in manifest["files"].values())
    collection = get_client(settings).get_collection(manifest["collection"])
    assert collection.count() == manifest["chunks"]
    ours = [n for n in list_collection_names(get_client(settings)) if n.startswith("policy-")]
    assert ours == [manifest["collection"]]
    assert_clean(settings)


def test_killed_build_leaves_previous_index_answering(tmp_path):
    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    manifest_path = settings.index_dir / "manifest.json"
    before = manifest_path.read_text(encoding="utf-8")
    # enough new text that embedding takes well over the few seconds we wait
    line = "推进科技项目建设,服务企业创新发展,加快科技成果转化应用,提升创新平台效能。"
    many = "\n\n".join(f"{i}.第{i}项工作。{line * 3}" for i in range(1, 601))
    (settings.corpus_dir / "big.txt").write_text("大量条目\n\n" + many, encoding="utf-8")
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(settings.corpus_dir),
        "PA_INDEX_DIR": str(settings.index_dir),
    }
    exe = Path(sys.executable).with_name("policy-assistant")
    proc = subprocess.Popen(
        [str(exe), "index"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # past start-up (≈2–4 s), inside ≈100 s of embedding
    assert proc.poll() is None, "build finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert manifest_path.read_text(encoding="utf-8") == before
    answer = Assistant(settings).ask("鲁科贷争取为多少家企业发放贷款？")
    assert not answer.abstained and "500家" in answer.answer
    # the next build (without the big file) completes and sweeps the interrupted leftovers
    (settings.corpus_dir / "big.txt").unlink()
    (settings.corpus_dir / "loans.txt").write_text(LOANS + "\n2.补充。\n", encoding="utf-8")
    summary = IndexBuilder(settings).build()
    assert summary.changed
    assert_clean(settings)


def test_chroma_server_holds_the_same_index(tmp_path, chroma_server):
    settings = small_corpus(tmp_path)
    settings = settings.model_copy(update={"chroma_url": chroma_server})
    n, summary = embedded_during(settings)
    assert n == summary.chunks > 0
    assert not (settings.index_dir / "chroma").exists()  # nothing embedded locally
    answer = Assistant(settings).ask("鲁科贷争取为多少家企业发放贷款？")
    assert not answer.abstained
    assert "500家" in answer.answer and answer.citations[0].doc_id == "loans.txt"
    n, again = embedded_during(settings)
    assert n == 0 and not again.changed


def test_missing_corpus_is_a_clear_error(tmp_path):
    from assistant.errors import IndexBuildError

    settings = make_settings(tmp_path)
    with pytest.raises(IndexBuildError, match="语料目录不存在"):
        IndexBuilder(settings).build()


def test_concurrent_builds_leave_a_working_index(tmp_path):
    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(settings.corpus_dir),
        "PA_INDEX_DIR": str(settings.index_dir),
    }
    exe = Path(sys.executable).with_name("policy-assistant")
    procs = [
        subprocess.Popen(
            [str(exe), "index", "--force"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=180) == 0, p.stderr.read().decode()
    assert_clean(settings)
    answer = Assistant(settings).ask("鲁科贷争取为多少家企业发放贷款？")
    assert not answer.abstained and "500家" in answer.answer


def test_damaged_index_is_a_clear_error(tmp_path):
    import shutil

    from assistant.errors import IndexNotReadyError

    settings = small_corpus(tmp_path)
    IndexBuilder(settings).build()
    shutil.rmtree(settings.index_dir / "docs")
    with pytest.raises(IndexNotReadyError, match="索引不完整或已损坏"):
        Assistant(settings).ask("鲁科贷")
    IndexBuilder(settings).build()  # and a rebuild repairs it
    assert not Assistant(settings).ask("鲁科贷争取为多少家企业发放贷款？").abstained
    assert_clean(settings)
