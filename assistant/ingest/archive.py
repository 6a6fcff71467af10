"""Checks on a ZIP container (DOCX) before anything inflates it.

The central directory states each member's compressed and uncompressed size; ``zipfile`` never
yields more than the stated size, so capping the stated sizes caps what parsing can inflate. A
1 MB file whose ``document.xml`` inflates to 1 GiB, or one carrying a 1 GiB "image", is refused
here with its reason, before python-docx reads every part into memory.
"""

from __future__ import annotations

import io
import zipfile

from ..errors import LoadError

MAX_MEMBERS = 5_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one part (document.xml, one image) inflated
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # all parts inflated
MAX_RATIO = 200  # inflated / compressed, for a part large enough to matter
RATIO_FLOOR = 1024 * 1024  # parts smaller than this inflate to little whatever their ratio

_MB = 1024 * 1024


def check_archive(
    data: bytes,
    name: str,
    *,
    max_members: int = MAX_MEMBERS,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> None:
    """Raise ``LoadError`` (with the Chinese reason) unless ``data`` is a ZIP within the caps."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise LoadError(name, f"DOCX 文件损坏或格式不正确（{type(exc).__name__}）") from exc
    if len(members) > max_members:
        raise LoadError(name, f"DOCX 内部文件过多（{len(members)} 个，上限 {max_members} 个）")
    total = 0
    for m in members:
        if m.file_size > max_member_bytes:
            raise LoadError(
                name,
                f"DOCX 内部文件 {m.filename} 解压后过大（{m.file_size // _MB} MB，"
                f"上限 {max_member_bytes // _MB} MB），疑似压缩炸弹，已拒绝",
            )
        if m.file_size > RATIO_FLOOR and m.file_size > max_ratio * max(m.compress_size, 1):
            ratio = m.file_size // max(m.compress_size, 1)
            raise LoadError(
                name,
                f"DOCX 内部文件 {m.filename} 的压缩比异常（{ratio}:1，上限 {max_ratio:g}:1），"
                "疑似压缩炸弹，已拒绝",
            )
        total += m.file_size
    if total > max_total_bytes:
        raise LoadError(
            name,
            f"DOCX 解压后总大小过大（{total // _MB} MB，上限 {max_total_bytes // _MB} MB），"
            "疑似压缩炸弹，已拒绝",
        )
