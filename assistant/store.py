"""Chroma access: embedded ``PersistentClient`` under ``index/chroma`` by default, or a Chroma
server when ``PA_CHROMA_URL`` is set — the same calls either way.

Chroma would silently attach its default ONNX embedder (which downloads a model) to any
collection created or fetched without one, so every call here passes ``embedding_function=None``
and supplies vectors itself.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from urllib.parse import urlparse

from .config import Settings
from .errors import ConfigError, IndexBuildError

_clients: dict[str, object] = {}
_lock = threading.Lock()


def collection_prefix(settings: Settings) -> str:
    """Collections of one index dir share a prefix, so several corpora can share one server."""
    digest = hashlib.sha1(str(Path(settings.index_dir).resolve()).encode()).hexdigest()[:8]
    return f"{settings.collection_prefix}-{digest}"


def get_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if settings.chroma_url:
        key = f"url:{settings.chroma_url}"
    else:
        key = f"path:{Path(settings.index_dir).resolve() / 'chroma'}"
    with _lock:
        if key in _clients:
            return _clients[key]
        # (built only here: Chroma's settings object reads the environment, ~50 ms a time)
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ConfigError(
                    f"PA_CHROMA_URL 格式不正确：{settings.chroma_url}（例：http://127.0.0.1:8001）"
                )
            try:
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 80),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            except Exception as exc:
                raise IndexBuildError(f"无法连接 Chroma 服务 {settings.chroma_url}：{exc}") from exc
        else:
            path = Path(settings.index_dir) / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        _clients[key] = client
        return client


def create_collection(client, name: str):
    return client.create_collection(
        name=name,
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"app": "policy-assistant"},
    )


def get_collection(client, name: str):
    return client.get_collection(name=name, embedding_function=None)


def list_collection_names(client) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]
