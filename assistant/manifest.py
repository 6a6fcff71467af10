"""The index manifest: which files the index holds, where each one's derived data lives, and
which Chroma collection holds their vectors. Written atomically (``os.replace``); its
``generation`` changes with every committed update, which is how readers notice one."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2


def read_manifest(index_dir: Path) -> dict | None:
    path = Path(index_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
