"""Load policy files into structured documents: text, blocks and 公文 metadata.

Supported: .txt .md .html/.htm .pdf (pypdf) .docx (python-docx). Each format has its reader in
``assistant.ingest``; all of them yield blocks with exact offsets, then one structure pass
reads the numbering (第X章 › 第X条, enumerations with their lead-in, 问/答 pairs) and one
metadata pass reads 文号, 发文机关, dates, validity and repeal relations. A web page's header
and metadata box are read into metadata; fields the body does not itself state are kept as
one quotable ``metadata`` block at the top of the text.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IMAGE_SUFFIXES, SUPPORTED_SUFFIXES, LoadError, UnsupportedFileType
from .ingest.blocks import Parsed, StructuredDocument, TextBuilder
from .ingest.decode import decode_text
from .ingest.metadata import DocMeta, extract, resolve_repeals
from .ingest.structure import refine

__all__ = ["decode_text", "load_bytes", "load_file", "load_corpus", "LoadReport", "doc_id_for"]

MAX_FILE_BYTES = 50 * 1024 * 1024

# 公文 fields worth quoting, in the order a metadata box shows them
_SHOWN_FIELDS = (
    ("索引号",),
    ("发文机关", "发布机构", "发布单位", "发文单位"),
    ("成文日期", "发文日期"),
    ("发布日期", "发布时间"),
    ("文号", "发文字号"),
    ("施行日期", "实施日期"),
    ("有效期",),
    ("有效性",),
    ("解读文件",),
)


@dataclass
class LoadReport:
    """Outcome of loading a folder: the documents, and every file skipped with its reason."""

    documents: list[StructuredDocument] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


def _read(data: bytes, relpath: str, suffix: str) -> Parsed:
    if suffix == ".pdf":
        from .ingest.pdf import read_pdf

        return read_pdf(data, relpath)
    if suffix in IMAGE_SUFFIXES:
        from .ingest.image import read_image

        return read_image(data, relpath)
    if suffix == ".docx":
        from .ingest.docx import read_docx

        return read_docx(data, relpath)
    if suffix in (".html", ".htm"):
        from .ingest.html import read_html

        return read_html(data, relpath)
    if suffix == ".md":
        from .ingest.markdown import read_markdown

        return read_markdown(data, relpath)
    from .ingest.plain import read_plain

    return read_plain(data, relpath)


def _with_metadata_block(parsed: Parsed) -> Parsed:
    """Prepend the stated fields the body does not contain, as one quotable block."""
    shown = []
    for labels in _SHOWN_FIELDS:
        for label in labels:
            if value := (parsed.fields.get(label) or "").split("【")[0].strip():
                shown.append((label, value))
                break
    # one block with all of them, when any is stated nowhere in the body
    if not any(value not in parsed.text for _, value in shown):
        return parsed
    shown = [f"{label}：{value}" for label, value in shown]
    builder = TextBuilder()
    builder.add("metadata", "；".join(shown), label="文件信息")
    for b in parsed.blocks:
        builder.add(
            b.kind,
            parsed.text[b.start : b.end],
            **b.model_dump(exclude={"kind", "start", "end"}),
        )
    return Parsed.from_builder(builder, fields=parsed.fields, title=parsed.title)


def doc_id_for(relpath: str) -> str:
    """A readable, URL-safe-enough id: the relative path with separators flattened."""
    return relpath.replace("\\", "/").replace("/", "__")


def metadata_fields(meta: DocMeta) -> dict:
    """DocMeta as flat document metadata (lists stay lists; the manifest keeps them)."""
    return {
        "title": meta.title,
        "doc_no": meta.doc_no,
        "issuers": meta.issuers,
        "date": meta.date,
        "published": meta.published,
        "effective_from": meta.effective_from,
        "effective_to": meta.effective_to,
        "status": meta.status,
        "superseded_by": meta.superseded_by,
        "repeals": meta.repeals,
        "interprets": meta.interprets,
        "index_no": meta.index_no,
        "places": meta.places,
        "year": meta.year,
    }


def load_bytes(data: bytes, relpath: str) -> StructuredDocument:
    """Parse one file's bytes. Raises ``LoadError`` (with the file name and reason) on bad input.
    Repeal relations to other documents are resolved by ``resolve_corpus``."""
    suffix = Path(relpath).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileType(relpath, suffix)
    if not data:
        raise LoadError(relpath, "文件为空")
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(relpath, f"文件过大（{len(data) // 1048576} MB，上限 50 MB）")
    parsed = refine(_read(data, relpath, suffix))
    if not parsed.text.strip():
        reason = "没有可提取的文字（可能是扫描件）" if suffix == ".pdf" else "没有可提取的文字"
        raise LoadError(relpath, reason)
    meta = extract(parsed, Path(relpath).stem)
    parsed = _with_metadata_block(parsed)
    metadata = {
        "doc_id": doc_id_for(relpath),
        "source": relpath,
        "sha256": hashlib.sha256(data).hexdigest(),
        **metadata_fields(meta),
    }
    return StructuredDocument(page_content=parsed.text, metadata=metadata, blocks=parsed.blocks)


def resolve_corpus(docs: list[StructuredDocument]) -> None:
    """Mark documents repealed by another one in the same corpus (status 已废止, superseded_by)."""
    metas = {}
    for d in docs:
        m = DocMeta(title=d.metadata["title"], doc_no=d.metadata.get("doc_no"))
        m.repeals = d.metadata.get("repeals") or []
        metas[d.metadata["doc_id"]] = m
    resolve_repeals(metas)
    for d in docs:
        m = metas[d.metadata["doc_id"]]
        if m.superseded_by:
            d.metadata["status"] = "已废止"
            d.metadata["superseded_by"] = m.superseded_by


def load_file(path: Path, root: Path | None = None) -> StructuredDocument:
    relpath = path.relative_to(root).as_posix() if root else path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(relpath, f"无法读取文件（{exc.strerror or exc}）") from exc
    return load_bytes(data, relpath)


RESERVED_NAMES = frozenset({"domain_terms.txt", "README.md"})  # corpus files that are not policies


def iter_corpus_files(corpus_dir: Path) -> list[Path]:
    """Every regular file under the corpus, skipping hidden files and folders, our own
    dictionary, and symlinks of any kind: a linked file or folder could point outside the corpus
    (walked with ``followlinks=False`` whatever this Python's ``rglob`` does with links)."""
    corpus_dir = Path(corpus_dir)
    out = []
    for folder, dirs, names in os.walk(corpus_dir, followlinks=False):
        base = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (base / d).is_symlink()]
        for name in names:
            path = base / name
            if name.startswith(".") or name in RESERVED_NAMES or path.is_symlink():
                continue
            if path.is_file():
                out.append(path)
    return sorted(out)


def load_corpus(corpus_dir: Path) -> LoadReport:
    report = LoadReport()
    for path in iter_corpus_files(corpus_dir):
        try:
            report.documents.append(load_file(path, corpus_dir))
        except LoadError as err:
            report.errors.append(err)
    resolve_corpus(report.documents)
    return report
