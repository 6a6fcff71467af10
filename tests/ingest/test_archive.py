"""DOCX zip bombs are refused from the zip directory, before anything is inflated."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import pytest

from assistant.errors import LoadError
from assistant.ingest.archive import MAX_MEMBER_BYTES, check_archive
from assistant.load import load_bytes


def _docx(text: str = "威海市科技特派员工作方案。今年选派科技特派员120名。") -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _with_member(member: str, size: int, fill: bytes = b"\0") -> bytes:
    """The small DOCX with ``member`` replaced by (or added as) ``size`` bytes of ``fill``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_docx())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            if item.filename != member:
                dst.writestr(item, src.read(item))
        with dst.open(member, "w", force_zip64=True) as fh:
            block = fill * (1024 * 1024 // len(fill))
            for _ in range(size // len(block)):
                fh.write(block)
    return out.getvalue()


def test_an_ordinary_docx_passes():
    check_archive(_docx(), "正常.docx")
    assert "科技特派员" in load_bytes(_docx(), "正常.docx").page_content


@pytest.mark.parametrize(
    ("member", "size"),
    [("word/document.xml", 1024 * 1024 * 1024), ("word/media/image1.png", 1024 * 1024 * 1024)],
    ids=["document-xml-1gib", "media-part-1gib"],
)
def test_a_member_that_inflates_past_the_cap_is_refused_without_inflating(member, size):
    data = _with_member(member, size)
    assert len(data) < 2 * 1024 * 1024  # a ~1 MB file that would take the server to gigabytes
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(LoadError) as caught:
        load_bytes(data, "炸弹.docx")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 64 * 1024 * 1024
    reason = caught.value.reason
    assert member in reason and "解压后过大" in reason and "1024 MB" in reason
    assert caught.value.path == "炸弹.docx"


def test_a_part_with_an_absurd_compression_ratio_is_refused():
    data = _with_member("word/document.xml", 32 * 1024 * 1024)  # under the size cap, ~1000:1
    assert 32 * 1024 * 1024 < MAX_MEMBER_BYTES
    with pytest.raises(LoadError, match="压缩比异常"):
        load_bytes(data, "高压缩比.docx")


def test_the_total_inflated_size_is_capped():
    parts = io.BytesIO()
    with zipfile.ZipFile(parts, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(5):
            z.writestr(f"word/media/image{i}.bin", bytes(range(256)) * 4096)  # 1 MB each
    with pytest.raises(LoadError, match="总大小过大"):
        check_archive(parts.getvalue(), "多图.docx", max_total_bytes=4 * 1024 * 1024)


def test_too_many_members_are_refused():
    parts = io.BytesIO()
    with zipfile.ZipFile(parts, "w") as z:
        for i in range(30):
            z.writestr(f"customXml/item{i}.xml", b"<a/>")
    with pytest.raises(LoadError, match="内部文件过多"):
        check_archive(parts.getvalue(), "碎片.docx", max_members=20)


def test_not_a_zip_is_a_clear_load_error():
    with pytest.raises(LoadError, match="DOCX 文件损坏"):
        load_bytes(b"PK\x03\x04 not really a zip", "坏文件.docx")
