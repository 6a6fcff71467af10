"""The index manifest: which files the index holds, where each one's derived data lives, and
which Chroma collection holds their vectors. Written atomically (``os.replace``); its
``generation`` changes with every committed update, which is how readers notice one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import orjson

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2


def read_manifest(index_dir: Path) -> dict | None:
    path = Path(index_dir) / MANIFEST
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # orjson.JSONDecodeError is a ValueError
        return None


Stamp = tuple[int, int, int]


def manifest_stamp(index_dir: Path) -> Stamp | None:
    """Which manifest file is there now: (inode, mtime, size). Every commit replaces the file
    (a new inode), so an equal stamp means the same commit — what a process that wrote or read
    a manifest uses to skip parsing the megabytes of it again."""
    try:
        st = (Path(index_dir) / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict) -> None:
    """Compact UTF-8 JSON (orjson: the manifest of a few thousand documents is megabytes,
    written on every upload and delete; indentation would add a third to its bytes and to the
    time to write them — ``python -m json.tool`` shows it indented)."""
    write_atomic(path, orjson.dumps(data))
