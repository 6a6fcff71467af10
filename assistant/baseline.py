"""The naive baseline the evals compare against: the pipeline a newcomer assembles from the
LangChain RAG tutorial.

``RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)`` over the loaded documents,
an embedded Chroma collection in a temporary directory, the product's own embedder, dense
similarity only; the top chunk is both the answer and the citation, and it never abstains.
It shares nothing with the product's retrieval or answering code on purpose.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Self

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .config import Settings
from .embed import get_embedder
from .errors import IndexBuildError
from .load import load_corpus

CHUNK_SIZE = 500
CHUNK_OVERLAP = 50


class NaiveBaseline:
    """Build once (embeds every chunk), then ``search``/``ask`` any number of times.
    Use as a context manager so the temporary Chroma directory is removed afterwards."""

    def __init__(self, settings: Settings):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        documents = load_corpus(Path(settings.corpus_dir)).documents
        if not documents:
            raise IndexBuildError(
                f"基线无法建立：语料目录 {settings.corpus_dir} 中没有可读取的文件"
            )
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        self.chunks = splitter.split_documents(documents)
        self.embedder = get_embedder(settings)
        self._tmp = tempfile.TemporaryDirectory(prefix="pa-baseline-")
        client = chromadb.PersistentClient(
            path=self._tmp.name, settings=ChromaSettings(anonymized_telemetry=False)
        )
        # embedding_function=None: Chroma's default embedder would download a model.
        self.collection = client.create_collection(
            name=f"naive-baseline-{uuid.uuid4().hex[:8]}", embedding_function=None
        )
        texts = [c.page_content for c in self.chunks]
        self.collection.add(
            ids=[f"chunk-{i}" for i in range(len(texts))],
            embeddings=self.embedder.embed_documents(texts),
            documents=texts,
            metadatas=[{"source": c.metadata.get("source", "")} for c in self.chunks],
        )

    def search(self, question: str, top_k: int = 5) -> list[str]:
        """The texts of the ``top_k`` nearest chunks, best first."""
        got = self.collection.query(
            query_embeddings=[self.embedder.embed_query(question)],
            n_results=min(top_k, len(self.chunks)),
            include=["documents"],
        )
        return list(got["documents"][0])

    def ask(self, question: str) -> str:
        """The tutorial's answer: the top chunk, verbatim (it is also the citation)."""
        hits = self.search(question, top_k=1)
        return hits[0] if hits else ""

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
