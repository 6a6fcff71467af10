"""Uploads and deletes that were 500s: the last document deleted, a name over 255 bytes, an id
with ``%2F`` in it, a DOCX zip bomb. Each is a success or a 4xx with its reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.api.live_server import ADMIN_KEY, LiveServer
from tests.conftest import free_port, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
DOC = "威海市科技特派员工作方案\n\n一、目标\n1.今年选派科技特派员120名，服务乡村振兴。\n"


@pytest.fixture(scope="module")
def lone(tmp_path_factory):
    """A server whose corpus holds one document, so that it can be deleted."""
    from assistant.api.app import create_app
    from assistant.service import Assistant

    tmp = tmp_path_factory.mktemp("lone")
    (tmp / "corpus").mkdir()
    (tmp / "corpus" / "特派员方案.txt").write_text(DOC, encoding="utf-8")
    settings = make_settings(tmp, api_key=ADMIN_KEY)
    Assistant(settings).build_index()
    with LiveServer(create_app(settings), free_port()) as server:
        yield server, settings


@pytest.fixture
def client(lone):
    with httpx.Client(base_url=lone[0].url, timeout=120) as c:
        yield c


def test_deleting_the_last_document_succeeds_and_the_index_answers_empty(client, lone):
    _, settings = lone
    r = client.delete("/v1/documents/特派员方案.txt", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] is True and r.json()["index"]["chunks"] == 0
    assert client.get("/v1/documents").json()["documents"] == []
    assert client.post("/v1/search", json={"query": "科技特派员"}).json()["hits"] == []
    answer = client.post("/v1/ask", json={"question": "今年选派多少名科技特派员？"})
    assert answer.status_code == 200 and answer.json()["abstained"] is True
    # and a document can come back
    files = {"file": ("特派员方案.txt", DOC.encode(), "text/plain")}
    assert client.post("/v1/documents", files=files, headers=AUTH).status_code == 201
    hits = client.post("/v1/search", json={"query": "科技特派员"}).json()["hits"]
    assert hits and hits[0]["doc_id"] == "特派员方案.txt"


def test_a_name_over_255_bytes_is_shortened_not_a_500(client, lone):
    _, settings = lone
    name = "关于" + "科技" * 74 + ".txt"  # 150 Chinese characters: 450 bytes, under 200 characters
    assert len(name) < 200 and len(name.encode()) > 255
    r = client.post("/v1/documents", files={"file": (name, DOC.encode())}, headers=AUTH)
    assert r.status_code == 201, r.text
    stored = r.json()["filename"]
    assert stored.endswith(".txt") and stored.startswith("关于科技")
    assert len(stored.encode()) <= 240 and r.json()["doc_id"] == stored
    assert (Path(settings.corpus_dir) / stored).is_file()
    assert client.delete(f"/v1/documents/{stored}", headers=AUTH).status_code == 200


def test_an_id_with_an_encoded_slash_is_deletable_through_the_plain_url(client, lone):
    name = "科技%2F特派员.txt"
    r = client.post("/v1/documents", files={"file": (name, DOC.encode())}, headers=AUTH)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
    assert doc_id == name
    # the id pasted into the URL as it is: %2F arrives decoded as "/"
    r = client.delete(f"/v1/documents/{doc_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["doc_id"] == name
    assert name not in [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]


def _bomb(member: str, size: int) -> bytes:
    """A valid-looking DOCX whose ``member`` inflates to ``size`` bytes of zeros."""
    import docx

    doc = docx.Document()
    doc.add_paragraph("威海市科技特派员工作方案")
    base = io.BytesIO()
    doc.save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != member:
                dst.writestr(item, src.read(item))
        with dst.open(member, "w", force_zip64=True) as fh:
            block = b"\0" * (1024 * 1024)
            for _ in range(size // len(block)):
                fh.write(block)
    return out.getvalue()


@pytest.mark.parametrize(
    ("member", "reason"),
    [("word/document.xml", "解压后过大"), ("word/media/image1.png", "解压后过大")],
    ids=["document-xml", "media-part"],
)
def test_a_docx_zip_bomb_is_refused_before_it_is_inflated(client, lone, member, reason):
    _, settings = lone
    data = _bomb(member, 200 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    before = sorted(p.name for p in Path(settings.corpus_dir).iterdir())
    r = client.post("/v1/documents", files={"file": ("炸弹.docx", data)}, headers=AUTH)
    assert r.status_code == 400, r.text
    assert reason in r.json()["detail"] and "炸弹.docx" in r.json()["detail"]
    assert sorted(p.name for p in Path(settings.corpus_dir).iterdir()) == before
