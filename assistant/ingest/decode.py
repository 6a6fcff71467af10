"""Bytes → str for text formats: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030."""

from __future__ import annotations

from ..errors import LoadError


def decode_text(data: bytes, name: str = "") -> str:
    """UTF-8 (BOM or not) first, then GB18030; a binary file is an error, not mojibake."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise LoadError(name, "看起来是二进制文件，不是文本")
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise LoadError(name, "无法识别文本编码（支持 UTF-8、GBK/GB18030）")
