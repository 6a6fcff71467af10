"""``/v1/documents`` end to end: list, upload → ask → delete → gone, and every bad upload.

Uploads and deletes run against ``private_server`` (its own corpus and index)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.api.live_server import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
NEW_DOC = (
    "威海市海洋科技专项资金管理办法\n\n"
    "一、总则\n"
    "1.设立海洋科技专项资金。2025年市财政安排海洋科技专项资金8000万元，重点支持深远海养殖装备研发。\n"
    "2.资金实行项目制管理，由市科学技术局会同市财政局组织实施。\n"
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _state(settings) -> tuple[bytes, list[str]]:
    """What must not change when an upload is rejected: the manifest and the corpus folder."""
    manifest = (Path(settings.index_dir) / "manifest.json").read_bytes()
    corpus = Path(settings.corpus_dir)
    files = sorted(
        str(p.relative_to(corpus.parent))
        for p in corpus.parent.rglob("*")
        if p.is_file() and "index" not in p.relative_to(corpus.parent).parts
    )
    return manifest, files


def test_lists_the_corpus_with_chunks_date_and_issuer(http):
    r = http.get("/v1/documents")
    assert r.status_code == 200
    (doc,) = r.json()["documents"]
    assert doc["title"] == "2025年全市科技工作要点" and doc["chunks"] > 10
    assert doc["date"] == "2025-04-14" and doc["issuer"] == "威海市科学技术局"
    assert doc["issuers"] == ["威海市科学技术局"] and doc["status"] == "现行"
    for field in ("doc_no", "published", "effective_from", "effective_to", "superseded_by"):
        assert doc[field] is None  # not stated by the document: nothing invented


def test_upload_then_ask_then_delete_then_gone(private_http):
    files = {"file": ("海洋科技专项资金管理办法.txt", NEW_DOC.encode(), "text/plain")}
    r = private_http.post("/v1/documents", files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
    assert r.json()["index"]["changed"] is True
    listed = [d["doc_id"] for d in private_http.get("/v1/documents").json()["documents"]]
    assert doc_id in listed

    question = {"question": "海洋科技专项资金安排了多少？"}
    answer = private_http.post("/v1/ask", json=question).json()
    assert answer["abstained"] is False and "8000万元" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == doc_id

    r = private_http.delete(f"/v1/documents/{doc_id}", headers=AUTH)
    assert r.status_code == 200 and r.json()["deleted"] is True
    listed = [d["doc_id"] for d in private_http.get("/v1/documents").json()["documents"]]
    assert doc_id not in listed
    answer = private_http.post("/v1/ask", json=question).json()
    assert all(c["doc_id"] != doc_id for c in answer["citations"])
    assert "8000万元" not in answer["answer"]
    assert private_http.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 404


def test_upload_docx(private_http, tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("威海市科技特派员工作方案")
    document.add_paragraph("今年选派科技特派员120名，服务乡村振兴。")
    buf = io.BytesIO()
    document.save(buf)
    files = {
        "file": (
            "科技特派员工作方案.docx",
            buf.getvalue(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
    }
    r = private_http.post("/v1/documents", files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
    hits = private_http.post("/v1/search", json={"query": "科技特派员"}).json()["hits"]
    assert hits[0]["doc_id"] == doc_id
    assert private_http.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 200


def _pdf_header_garbage() -> bytes:
    return b"%PDF-1.4\n" + b"\x00garbage" * 50


@pytest.mark.parametrize(
    ("name", "data", "headers", "status", "reason"),
    [
        ("a.txt", NEW_DOC.encode(), {}, 401, "缺少管理密钥"),
        ("a.txt", NEW_DOC.encode(), {"Authorization": "Bearer wrong-key"}, 401, "密钥错误"),
        ("a.txt", NEW_DOC.encode(), {"Authorization": "Basic YTpi"}, 401, "缺少管理密钥"),
        ("报表.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, AUTH, 415, "不支持的文件类型 .xls"),
        ("无扩展名", NEW_DOC.encode(), AUTH, 415, "不支持的文件类型"),
        ("坏文件.pdf", _pdf_header_garbage(), AUTH, 400, "坏文件.pdf"),
        ("坏文件.docx", b"PK\x03\x04 not really a zip", AUTH, 400, "坏文件.docx"),
        ("空文件.txt", b"", AUTH, 400, "空文件.txt"),
        ("..", NEW_DOC.encode(), AUTH, 400, "文件名无效"),
    ],
    ids=[
        "no-key",
        "wrong-key",
        "not-bearer",
        "unsupported",
        "no-suffix",
        "corrupt-pdf",
        "corrupt-docx",
        "empty",
        "dot-dot",
    ],
)
def test_bad_upload_is_rejected_with_reason_and_index_unchanged(
    private_http, private_settings, name, data, headers, status, reason
):
    before = _state(private_settings)
    r = private_http.post("/v1/documents", files={"file": (name, data)}, headers=headers)
    assert r.status_code == status, r.text
    assert reason in r.json()["detail"]
    assert _state(private_settings) == before


def test_oversized_upload_is_413_and_index_unchanged(private_http, private_settings):
    before = _state(private_settings)
    big = ("科技" * 1000 + "\n").encode() * 3600  # ≈ 21.6 MB, over the 20 MB limit
    assert len(big) > 20 * 1024 * 1024
    r = private_http.post("/v1/documents", files={"file": ("大文件.txt", big)}, headers=AUTH)
    assert r.status_code == 413
    assert "20 MB" in r.json()["detail"]
    assert _state(private_settings) == before


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (AUTH, 413)],
    ids=["no-key", "declared-too-large"],
)
def test_upload_is_refused_before_the_body_is_read(
    private_server, private_settings, headers, status
):
    """Only the request head is sent: a server that read (and spooled) the body first would
    wait for the 60 MB that never come instead of answering."""
    import socket
    from urllib.parse import urlparse

    before = _state(private_settings)
    url = urlparse(private_server.url)
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {url.hostname}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {60 * 1024 * 1024}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith(f"HTTP/1.1 {status}"), reply[:200]
    assert _state(private_settings) == before


def test_missing_file_field_is_422(private_http, private_settings):
    before = _state(private_settings)
    r = private_http.post("/v1/documents", data={"other": "x"}, headers=AUTH)
    assert r.status_code == 422 and CJK.search(r.json()["detail"])
    assert _state(private_settings) == before


@pytest.mark.parametrize(
    "name",
    ["../../escape.txt", "..\\..\\escape.txt", "/tmp/pa-escape-9f3c.txt", "sub/dir/escape.txt"],
    ids=["dotdot", "backslash", "absolute", "nested"],
)
def test_file_names_cannot_escape_the_corpus_folder(private_http, private_settings, name):
    corpus = Path(private_settings.corpus_dir).resolve()
    r = private_http.post("/v1/documents", files={"file": (name, NEW_DOC.encode())}, headers=AUTH)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
    try:
        bare = Path(name.replace("\\", "/")).name
        assert doc_id == bare
        assert (corpus / bare).is_file()
        assert not (corpus.parent / bare).exists()
        assert not (corpus.parent.parent / bare).exists()
        assert not Path("/tmp/pa-escape-9f3c.txt").exists()
    finally:
        assert private_http.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 200
    assert not (corpus / doc_id).exists()


@pytest.mark.parametrize(
    "doc_id",
    ["no-such-doc.txt", "..%2F..%2Fcorpus%2F2025年全市科技工作要点.txt", "%2e%2e%2fmanifest.json"],
    ids=["unknown", "traversal", "encoded"],
)
def test_deleting_an_unknown_document_is_404(private_http, private_settings, doc_id):
    before = _state(private_settings)
    r = private_http.delete(f"/v1/documents/{doc_id}", headers=AUTH)
    assert r.status_code == 404
    assert "未找到文档" in r.json()["detail"]
    assert _state(private_settings) == before


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}], ids=["missing-key", "wrong-key"]
)
def test_delete_needs_the_admin_key(private_http, private_settings, headers):
    before = _state(private_settings)
    r = private_http.delete("/v1/documents/2025年全市科技工作要点.txt", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert _state(private_settings) == before


def test_document_changes_are_refused_when_no_admin_key_is_configured(private_settings):
    from assistant.api.deps import check_admin_key
    from assistant.errors import AuthError

    settings = private_settings.model_copy(update={"api_key": None})
    with pytest.raises(AuthError, match="PA_API_KEY"):
        check_admin_key(settings, ADMIN_KEY)
