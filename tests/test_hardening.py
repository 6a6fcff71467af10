"""Hardening below the HTTP shell: upload names within the file system's byte limit, the
documents tab's upload cache cleaned and its wrong keys throttled, symlinks in the corpus never
followed, and ``index --force`` doing what its help says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.api.live_server import ADMIN_KEY
from tests.conftest import make_settings

EXE = str(Path(sys.executable).with_name("policy-assistant"))
DOC = "威海市科技特派员工作方案\n\n一、目标\n1.今年选派科技特派员120名，服务乡村振兴。\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("关于" + "科技" * 74 + ".txt", None),
        ("科" * 199 + ".docx", None),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
        ("政策" * 40 + "." + "扩" * 20, None),
        ("普通文件.txt", "普通文件.txt"),
        ("bad\ud800name.txt", "bad_name.txt"),
        ("del\x7f.txt", "del_.txt"),
    ],
    ids=[
        "150-chinese",
        "199-chinese-docx",
        "300-ascii",
        "long-suffix",
        "short",
        "surrogate",
        "del",
    ],
)
def test_upload_names_fit_the_file_system(name, expected):
    from assistant.service import MAX_NAME_BYTES, safe_filename

    safe = safe_filename(name)
    assert len(safe.encode()) <= MAX_NAME_BYTES and len(safe) <= 200
    assert len(f".{safe}.upload".encode()) <= 255  # the temp name written first
    safe.encode()  # always encodable
    if expected is not None:
        assert safe == expected
    suffix = Path(name).suffix
    if len(suffix.encode()) <= 16 and "\ud800" not in name:
        assert safe.endswith(suffix)


def _tiny_corpus(tmp_path: Path) -> Path:
    """One short document: building its index embeds a handful of chunks, not the seed's."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "海洋科技.txt").write_text(
        "威海市海洋科技专项资金管理办法\n\n一、总则\n1.2025年市财政安排海洋科技专项资金8000万元。\n",
        encoding="utf-8",
    )
    return corpus


def test_a_150_character_chinese_name_is_stored_and_indexed(tmp_path):
    from assistant.service import Assistant

    _tiny_corpus(tmp_path)
    assistant = Assistant(make_settings(tmp_path))
    assistant.build_index()
    name = "关于" + "科技" * 74 + ".txt"
    doc_id, summary = assistant.add_document(name, DOC.encode())
    assert summary.changed and (tmp_path / "corpus" / doc_id).is_file()
    assert doc_id in [d.doc_id for d in assistant.documents()]
    assistant.delete_document(doc_id)
    assert doc_id not in [d.doc_id for d in assistant.documents()]


def test_deleting_every_document_leaves_an_empty_index_that_answers(tmp_path):
    from assistant.service import Assistant

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "唯一.txt").write_text(DOC, encoding="utf-8")
    assistant = Assistant(make_settings(tmp_path))
    assistant.build_index()
    summary = assistant.delete_document("唯一.txt")
    assert summary.changed and summary.chunks == 0 and summary.files == 0
    assert assistant.documents() == [] and assistant.search("科技特派员") == []
    assert assistant.ask("今年选派多少名科技特派员？").abstained is True


def test_symlinks_in_the_corpus_are_never_followed(tmp_path):
    from assistant.load import iter_corpus_files

    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text("机密", encoding="utf-8")
    (outside / "sub" / "deep.txt").write_text("机密", encoding="utf-8")
    (corpus / "real").mkdir(parents=True)
    (corpus / "real" / "政策.txt").write_text(DOC, encoding="utf-8")
    os.symlink(outside / "secret.txt", corpus / "link.txt")
    os.symlink(outside, corpus / "linked-folder")
    os.symlink(corpus / "real", corpus / "alias")  # even one pointing inside
    assert iter_corpus_files(corpus) == [corpus / "real" / "政策.txt"]


@pytest.fixture
def docs_tab(tmp_path):
    from assistant.api.throttle import AuthThrottle
    from assistant.service import Assistant
    from ui.app import DocumentsHandler

    _tiny_corpus(tmp_path)
    settings = make_settings(tmp_path, api_key=ADMIN_KEY)
    assistant = Assistant(settings)
    assistant.build_index()
    return DocumentsHandler(assistant, settings, AuthThrottle(2, 60)), settings


def _gradio_request(host: str = "127.0.0.1"):
    return SimpleNamespace(client=SimpleNamespace(host=host))


def test_the_documents_tab_removes_gradios_cached_upload_once_read(docs_tab, tmp_path):
    handler, _ = docs_tab
    cached = tmp_path / "gradio-cache" / "科技特派员方案.txt"
    cached.parent.mkdir()
    cached.write_text(DOC, encoding="utf-8")
    status, _, _ = handler.upload(ADMIN_KEY, str(cached), _gradio_request())
    assert status.startswith("✅") and not cached.exists()
    refused = tmp_path / "gradio-cache" / "第二份.txt"
    refused.write_text(DOC, encoding="utf-8")
    status, _, _ = handler.upload("wrong", str(refused), _gradio_request())
    assert "管理密钥错误" in status and not refused.exists()  # refused files go too
    status, _, _ = handler.upload(ADMIN_KEY, str(refused), _gradio_request())
    assert "请重新选择文件" in status  # the same path again: a Chinese reason, not a traceback


def test_the_documents_tab_throttles_wrong_keys_per_address(docs_tab):
    handler, _ = docs_tab
    for _ in range(2):
        status, _, _ = handler.delete("guess", "x.txt", _gradio_request("10.1.1.1"))
        assert "管理密钥错误" in status
    status, _, _ = handler.delete(ADMIN_KEY, "x.txt", _gradio_request("10.1.1.1"))
    assert "秒后再试" in status
    status, _, _ = handler.delete(ADMIN_KEY, "x.txt", _gradio_request("10.1.1.2"))
    assert "未找到文档" in status


def test_gradio_cleans_its_file_cache(seed_settings, assistant):
    from ui.app import CACHE_CLEANUP, build_ui

    demo = build_ui(assistant, seed_settings)
    assert demo.delete_cache == CACHE_CLEANUP


def _cli(args, settings):
    env = {
        **os.environ,
        "PA_CORPUS_DIR": str(settings.corpus_dir),
        "PA_INDEX_DIR": str(settings.index_dir),
        "COLUMNS": "200",
    }
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300)


def test_index_force_does_what_its_help_says(tmp_path):
    """``--force`` rebuilds the index from every file again; the vectors of unchanged text are
    reused (the help says so, and how to recompute them all)."""
    _tiny_corpus(tmp_path)
    settings = make_settings(tmp_path)
    first = _cli(["index", "--json"], settings)
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    again = json.loads(_cli(["index", "--json"], settings).stdout)
    assert again["changed"] is False
    forced = _cli(["index", "--force", "--json"], settings)
    summary = json.loads(forced.stdout)
    assert summary["changed"] is True and summary["chunks"] == built["chunks"]
    assert summary["embedded"] == 0 and summary["reused"] == built["chunks"]
    help_text = " ".join(_cli(["index", "--help"], settings).stdout.split())
    assert "向量按文本哈希复用" in help_text and "不重新计算" in help_text
    assert "删除索引目录" in help_text
