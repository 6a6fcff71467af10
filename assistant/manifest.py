"""The index manifest: which files the index holds, where each one's derived data lives, and
which Chroma collection holds their vectors.

On disk it is two parts. ``manifest.json`` — the *head*: everything but the per-file records,
and the names of the record *shards* (``records/<key>-<id>.json``, the records of the paths
whose hash falls in that shard, 256 shards at most). A commit writes the shards its change
touches as new files, then replaces the head atomically (``os.replace``): the head is the one
commit point, and a reader of an older head still finds that head's shards (a replaced shard is
retired with the entries it named and deleted after the grace period). So an upload or delete
writes one shard of a few dozen records, not the records of every document.

In memory a manifest is one dict with every record under ``files`` and, under ``shards``, each
shard's file name and paths (``read_manifest`` joins the parts). Its ``generation`` changes with
every committed update, which is how readers notice one. A head that holds ``files`` itself (a
manifest written before shards, or by hand) is read as it is and sharded at its next write.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Iterable
from pathlib import Path

import orjson

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2
RECORDS = "records"  # the shards of the manifest's per-file records
SHARDS = 256


def shard_of(rel: str) -> str:
    """The shard a corpus path's record lives in (stable across processes and versions)."""
    return f"{zlib.crc32(rel.encode()) % SHARDS:02x}"


def read_manifest(index_dir: Path) -> dict | None:
    """The committed manifest with its records joined, or ``None`` when there is none (or it
    cannot be read: a torn or foreign file)."""
    index_dir = Path(index_dir)
    for _attempt in range(3):
        try:
            data = orjson.loads((index_dir / MANIFEST).read_bytes())
        except (OSError, ValueError):  # missing, unreadable; orjson's errors are ValueErrors
            return None
        if not isinstance(data, dict):
            return None
        if "files" in data or "shards" not in data:  # written whole: as it is
            data.pop("shards", None)
            return data
        try:
            data["files"], data["shards"] = _read_shards(index_dir, data["shards"])
        except FileNotFoundError:  # retired by a later commit meanwhile: read the later head
            continue
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return data
    return None


def _read_shards(index_dir: Path, names: dict[str, str]) -> tuple[dict, dict]:
    files: dict[str, dict] = {}
    shards: dict[str, dict] = {}
    for key, name in names.items():
        records = orjson.loads((index_dir / RECORDS / name).read_bytes())
        files.update(records)
        shards[key] = {"file": name, "rels": list(records)}
    return dict(sorted(files.items())), shards


def write_manifest(
    index_dir: Path,
    manifest: dict,
    touched: Iterable[str] | None = None,
    previous: dict | None = None,
) -> list[str]:
    """Commit ``manifest``: the shards holding the ``touched`` paths' records (every shard when
    ``touched`` is ``None`` or ``previous`` has no shards), then the head. ``previous`` is the
    manifest it replaces, as read or committed — by default ``manifest`` itself, edited in
    place. Sets ``manifest["shards"]``; returns the shard files the new head no longer names,
    for the caller to retire (not delete: readers of the previous head may still read them)."""
    index_dir = Path(index_dir)
    files = manifest["files"]
    before: dict[str, dict] = (manifest if previous is None else previous).get("shards") or {}
    if touched is None or not before:
        groups: dict[str, list[str]] = {}
        for rel in files:
            groups.setdefault(shard_of(rel), []).append(rel)
        shards: dict[str, dict] = {}
        keys = set(groups) | set(before)
    else:
        shards = dict(before)
        by_key: dict[str, set[str]] = {}
        for rel in touched:
            by_key.setdefault(shard_of(rel), set()).add(rel)
        groups = {}
        for key, rels in by_key.items():
            held = set(before[key]["rels"]) if key in before else set()
            groups[key] = [r for r in held | rels if r in files]
        keys = set(groups)
    (index_dir / RECORDS).mkdir(parents=True, exist_ok=True)
    stale = []
    for key in sorted(keys):
        rels = sorted(groups.get(key, ()))
        if key in before:
            stale.append(before[key]["file"])
        if not rels:
            shards.pop(key, None)
            continue
        name = f"{key}-{uuid.uuid4().hex[:12]}.json"
        write_atomic(index_dir / RECORDS / name, orjson.dumps({r: files[r] for r in rels}))
        shards[key] = {"file": name, "rels": rels}
    head = {k: v for k, v in manifest.items() if k not in ("files", "shards")}
    head["shards"] = {k: shards[k]["file"] for k in sorted(shards)}
    write_atomic(index_dir / MANIFEST, orjson.dumps(head))
    manifest["shards"] = shards
    return stale


def live_shard_files(manifest: dict) -> set[str]:
    """The shard files a manifest (as read or committed) names."""
    return {s["file"] for s in (manifest.get("shards") or {}).values()}


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
    """Compact UTF-8 JSON (orjson), written atomically (``python -m json.tool`` shows it
    indented)."""
    write_atomic(path, orjson.dumps(data))
