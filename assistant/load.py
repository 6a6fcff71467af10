"""Load policy files into LangChain ``Document``s: text plus metadata, site chrome stripped.

Supported: .txt .md .html/.htm .pdf (pypdf) .docx (python-docx). Text is decoded as UTF-8
(with or without BOM) or GB18030 (a superset of GBK/GB2312). A government web page's header —
当前位置, 索引号, 发布单位, 成文日期, 文号, 时间, 点击次数 … — is read into metadata and removed,
so offsets and quotes refer to the policy text itself.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from .errors import SUPPORTED_SUFFIXES, LoadError, UnsupportedFileType

MAX_FILE_BYTES = 50 * 1024 * 1024

# Header lines of a government page that are navigation or counters, not policy text.
_CHROME = re.compile(
    r"^\s*(当前位置|您的位置|>|›|首页\s*>|索引号|发布单位|发文机关|内容分类|主题分类|成文日期|发布日期"
    r"|公开方式|公开范围|有效性|文号|发文字号|时间\s*[:：]|点击次数|浏览次数|阅读次数|来源\s*[:：]"
    r"|字号|【?\s*打印|【?\s*关闭|分享到|扫一扫)"
)
_META = {
    "index_no": re.compile(r"索引号\s*[:：]\s*([^\s]+)"),
    "issuer": re.compile(r"(?:发布单位|发文机关)\s*[:：]\s*([^\s]+)"),
    "date": re.compile(r"成文日期\s*[:：]\s*(\d{4}[-年./]\d{1,2}[-月./]\d{1,2}日?)"),
    "published": re.compile(r"发布日期\s*[:：]\s*(\d{4}[-年./]\d{1,2}[-月./]\d{1,2}日?)"),
    "doc_no": re.compile(
        r"(?:文号|发文字号)\s*[:：][ \t]*([^\s:：]*[〔\[（(]\d{4}[〕\]）)][^\s]*号)"
    ),
}
_HEADER_SCAN_LINES = 25


@dataclass
class LoadReport:
    """Outcome of loading a folder: the documents, and every file skipped with its reason."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


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


def _read_pdf(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password still allows reading; anything else we cannot open.
            try:
                if not reader.decrypt(""):
                    raise LoadError(name, "PDF 已加密，无法读取（请提供未加密的版本）")
            except LoadError:
                raise
            except Exception as exc:
                raise LoadError(name, "PDF 已加密，无法读取（请提供未加密的版本）") from exc
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise LoadError(name, f"PDF 文件损坏或格式不正确（{type(exc).__name__}）") from exc
    except Exception as exc:  # pypdf raises a wide range on hostile input
        raise LoadError(name, f"PDF 无法解析（{type(exc).__name__}）") from exc
    return "\n".join(pages)


def _read_docx(data: bytes, name: str) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(name, f"DOCX 文件损坏或格式不正确（{type(exc).__name__}）") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(lines)


def _read_html(data: bytes, name: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data, name), "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "iframe"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    body = soup.get_text("\n")
    return f"{title}\n{body}" if title and title not in body else body


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    text = text.replace("\xa0", " ").replace("\ufeff", "")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _looks_like_title(line: str) -> bool:
    return (
        3 <= len(line) <= 60
        and not line.endswith(("。", "；", ";"))
        and not re.match(
            r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|\d+[.．、])", line
        )
    )


def strip_page_chrome(text: str) -> tuple[str, dict[str, str]]:
    """Split a page into (policy text, header metadata). Text without a page header is unchanged."""
    lines = text.split("\n")
    head = lines[:_HEADER_SCAN_LINES]
    head_text = "\n".join(head)
    meta: dict[str, str] = {}
    for key, pattern in _META.items():
        if m := pattern.search(head_text):
            meta[key] = m.group(1)
    if not any(_CHROME.match(line) for line in head):
        return text, meta

    kept: list[str] = []
    in_header = True
    for i, line in enumerate(lines):
        if in_header and i < _HEADER_SCAN_LINES:
            if _CHROME.match(line):
                continue
            if line and len(line) > 60:  # first body paragraph: header is over
                in_header = False
            elif line and "title" not in meta and _looks_like_title(line):
                meta["title"] = line
                continue
        kept.append(line)
    return _normalise("\n".join(kept)), meta


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.split("\n")[:5]:
        line = line.strip().lstrip("#").strip()
        if line and _looks_like_title(line):
            return line
    return fallback


def doc_id_for(relpath: str) -> str:
    """A readable, URL-safe-enough id: the relative path with separators flattened."""
    return relpath.replace("\\", "/").replace("/", "__")


def load_bytes(data: bytes, relpath: str) -> Document:
    """Parse one file's bytes. Raises ``LoadError`` (with the file name and reason) on bad input."""
    suffix = Path(relpath).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileType(relpath, suffix)
    if not data:
        raise LoadError(relpath, "文件为空")
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(relpath, f"文件过大（{len(data) // 1048576} MB，上限 50 MB）")
    if suffix == ".pdf":
        raw = _read_pdf(data, relpath)
    elif suffix == ".docx":
        raw = _read_docx(data, relpath)
    elif suffix in (".html", ".htm"):
        raw = _read_html(data, relpath)
    else:
        raw = decode_text(data, relpath)
    text, meta = strip_page_chrome(_normalise(raw))
    if not text.strip():
        reason = "没有可提取的文字（可能是扫描件）" if suffix == ".pdf" else "没有可提取的文字"
        raise LoadError(relpath, reason)
    title = meta.pop("title", None) or _title_from_text(text, Path(relpath).stem)
    year_src = meta.get("date") or title
    year = int(m.group(1)) if (m := re.search(r"(20\d{2})", year_src or "")) else None
    metadata = {
        "doc_id": doc_id_for(relpath),
        "source": relpath,
        "title": title,
        "sha256": hashlib.sha256(data).hexdigest(),
        **({"year": year} if year else {}),
        **meta,
    }
    return Document(page_content=text, metadata=metadata)


def load_file(path: Path, root: Path | None = None) -> Document:
    relpath = path.relative_to(root).as_posix() if root else path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(relpath, f"无法读取文件（{exc.strerror or exc}）") from exc
    return load_bytes(data, relpath)


RESERVED_NAMES = frozenset({"domain_terms.txt", "README.md"})  # corpus files that are not policies


def iter_corpus_files(corpus_dir: Path) -> list[Path]:
    """Every regular file under the corpus, skipping hidden files and our own dictionary."""
    return sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
        and p.name not in RESERVED_NAMES
    )


def load_corpus(corpus_dir: Path) -> LoadReport:
    report = LoadReport()
    for path in iter_corpus_files(corpus_dir):
        try:
            report.documents.append(load_file(path, corpus_dir))
        except LoadError as err:
            report.errors.append(err)
    return report
