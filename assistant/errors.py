"""Every error the assistant raises on purpose, with a message a user can act on (in Chinese).

AssistantError                 root: shells catch this and show ``str(err)``
├── ConfigError                a setting is missing or unsafe
├── LoadError                  one input file could not be read (skipped, others go on)
│   └── UnsupportedFileType    extension outside .txt .md .html .pdf .docx .png .jpg
├── IndexNotReadyError         ask/search before ``policy-assistant index``
├── IndexBuildError            building the index failed; the previous index stays in use
├── InvalidQuestionError       empty, too long, or nothing to search for
├── DocumentNotFoundError      unknown doc_id
└── AuthError                  missing or wrong key
"""

from __future__ import annotations

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # a scanned page, read by OCR
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", *IMAGE_SUFFIXES)


class AssistantError(Exception):
    """Root of the assistant's own errors."""


class ConfigError(AssistantError):
    pass


class LoadError(AssistantError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UnsupportedFileType(LoadError):
    def __init__(self, path: str, suffix: str):
        super().__init__(
            path,
            f"不支持的文件类型 {suffix or '（无扩展名）'}（支持 {' '.join(SUPPORTED_SUFFIXES)}）",
        )


class IndexNotReadyError(AssistantError):
    def __init__(self, index_dir: str):
        super().__init__(f"索引尚未建立（{index_dir}）：请先运行 policy-assistant index")


class IndexCorruptError(IndexNotReadyError):
    def __init__(self, index_dir: str, detail: str):
        AssistantError.__init__(
            self, f"索引不完整或已损坏（{index_dir}：{detail}）：请重新运行 policy-assistant index"
        )


class IndexBuildError(AssistantError):
    pass


class EmbedderUnavailableError(AssistantError):
    """A remote embeddings endpoint did not answer in time, refused, or failed."""


class InvalidQuestionError(AssistantError):
    pass


class DocumentNotFoundError(AssistantError):
    def __init__(self, doc_id: str):
        self.doc_id = doc_id
        super().__init__(f"未找到文档 {doc_id}")


class AuthError(AssistantError):
    pass
