"""A loaded document as structure, not a flat string: its normalised text plus the blocks it
is made of, each with exact character offsets into that text (and, for PDFs, its page).

Every loader builds its text through ``TextBuilder``, so ``text[block.start:block.end]`` is the
block's text by construction and a citation's offsets can never drift from what is quoted.

Kinds:
- ``heading``    a title or section heading; ``level`` 1 is the top (Markdown ``#``, DOCX
                 Heading 1, 第X章), deeper numbers are deeper.
- ``paragraph``  body text (an article "第五条　……" is a paragraph whose ``label`` is 第五条).
- ``list_item``  an enumerated item; ``lead_in`` is the sentence that introduces the list
                 ("……应当具备下列条件："), ``level`` its nesting depth (1 = outermost).
- ``table_row``  one row of a table; ``headers`` are the column headers, ``cells`` the row's
                 cells, and the text reads "表头：单元格；表头：单元格".
- ``qa``         a 问/答 pair, question and answer together.
- ``metadata``   the 公文 fields the file states outside its body (a page's metadata box),
                 rendered "文号：……；发布机构：……" so that they can be quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict

BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "qa", "metadata"]


class Block(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: BlockKind
    start: int
    end: int
    level: int | None = None
    page: int | None = None  # 1-based page the block starts on (PDF)
    label: str = ""  # its numbering or short heading: "第五条", "（一）", "1."
    lead_in: str | None = None
    headers: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    low_confidence: bool = False  # OCR text the recogniser was unsure of


class StructuredDocument(Document):
    """A LangChain ``Document`` (``page_content``, ``metadata``) that also carries its blocks."""

    blocks: list[Block] = []

    @property
    def text(self) -> str:
        return self.page_content

    def block_text(self, block: Block) -> str:
        return self.page_content[block.start : block.end]


def table_row_text(headers: tuple[str, ...] | list[str], cells: tuple[str, ...] | list[str]) -> str:
    """One table row as a self-contained, citable sentence: "项目类别：重点研发计划；支持金额：……"."""
    parts = []
    for i, cell in enumerate(cells):
        cell = " ".join(cell.split())
        head = " ".join(headers[i].split()) if i < len(headers) else ""
        if not cell:
            continue
        parts.append(f"{head}：{cell}" if head and head != cell else cell)
    return "；".join(parts)


@dataclass
class TextBuilder:
    """Accumulates blocks and the text they make, one block per line (joined by "\\n")."""

    parts: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    _pos: int = 0

    def add(self, kind: BlockKind, text: str, **attrs) -> Block | None:
        """Append a block; whitespace runs inside it are squeezed, line breaks become spaces
        only between Latin characters (Chinese text rejoins without a space). Empty text is
        ignored (returns None)."""
        text = squeeze(text)
        if not text:
            return None
        if self.parts:
            self._pos += 1  # the "\n" separating it from the previous block
        start = self._pos
        self.parts.append(text)
        self._pos += len(text)
        block = Block(kind=kind, start=start, end=self._pos, **attrs)
        self.blocks.append(block)
        return block

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def squeeze(text: str) -> str:
    """Normalise one block's text: NBSP/ideographic spaces and BOMs out, whitespace squeezed,
    a line break between two CJK characters removed (no space is inserted in Chinese)."""
    import re

    text = text.replace("\ufeff", "").replace("\xa0", " ").replace("\u3000", " ")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # a break inside Chinese text is layout, not content
    text = re.sub(r"(?<=[^\x00-\x7f])[ \t]*\n[ \t]*(?=[^\x00-\x7f])", "", text)
    text = re.sub(r"[ \t]*\n[ \t]*", " ", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


@dataclass
class Parsed:
    """What a format reader returns before metadata and structure are worked out.

    ``fields`` are labelled values the file states outside its body text, by their own label
    ("文号", "发布机构", "索引号", "有效性" …) — an HTML metadata box, DOCX core properties, a
    Markdown front list. ``title`` is the title the file's own markup gives (DOCX Title style,
    the first ``#``, the largest PDF line, an HTML article heading), or None.
    """

    text: str
    blocks: list[Block]
    fields: dict[str, str] = field(default_factory=dict)
    title: str | None = None

    @classmethod
    def from_builder(cls, builder: TextBuilder, **kw) -> Parsed:
        return cls(text=builder.text, blocks=list(builder.blocks), **kw)
