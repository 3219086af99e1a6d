"""Crash-safe snapshots on disk: no pickle, checksummed, atomically switched.

Layout of an index folder::

    my-index/
      CURRENT                 {"format": "sapient-document-index", "snapshot": "snap-000007"}
      snap-000007/
        manifest.json         format name + version, embedder, counts, sha256 of every file
        chunks.jsonl          one JSON object per chunk (text, ids, hash, metadata)
        vectors.faiss         faiss.write_index of an IndexIDMap2
        bm25.*.npy, bm25.vocab.json   BM25 score matrix (allow_pickle=False) + vocabulary
      snap-000006/            the previous snapshot, kept until the next save

A save writes a new snapshot into a temporary folder, fsyncs every file, renames
the folder into place, then atomically replaces ``CURRENT`` (write, fsync,
``os.replace``). A crash or kill at any moment leaves ``CURRENT`` naming a complete
snapshot: the previous one or the new one. Loading checks the format name and
version first and every file's size and sha256 before any file is parsed, so a
damaged or foreign file is rejected with a clear error; nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sapient.connectors.docstore import (
    IndexCorruptError,
    IndexFormatError,
    IndexNotFoundError,
    RetrievalError,
)

__all__ = ["FORMAT", "VERSION", "write_snapshot", "read_snapshot", "exists", "write_json_file"]

FORMAT = "sapient-document-index"
VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
_SNAP = re.compile(r"^snap-(\d{6,})$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Largest manifest or CURRENT file we accept: guards against reading huge foreign files.
_MAX_SMALL_JSON = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_file(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock so two processes never save the same index at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fh = open(folder / ".lock", "a+")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RetrievalError(
                f"Another process is saving the index at {folder}. Wait for it to finish "
                "and try again.", path=folder) from exc
        yield
    finally:
        fh.close()


def _snapshots(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for p in folder.iterdir():
        m = _SNAP.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def _replace_current(folder: Path, snapshot: str) -> None:
    tmp = folder / f".{CURRENT}.tmp-{os.getpid()}"
    write_json_file(tmp, {"format": FORMAT, "snapshot": snapshot})
    os.replace(tmp, folder / CURRENT)
    _fsync_dir(folder)


def write_snapshot(folder: Path, write_files: Callable[[Path], list[str]],
                   manifest: dict[str, Any], keep: int = 2) -> Path:
    """Write a new snapshot and make it current; returns the snapshot folder.

    ``write_files(tmp)`` writes the data files into ``tmp`` (fsynced) and returns
    their names; this function adds their checksums to ``manifest``.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexFormatError(f"{folder} is a file, not an index folder. Choose another path.",
                               path=folder)
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CURRENT).exists() \
            and not _snapshots(folder):
        raise IndexFormatError(
            f"{folder} is a non-empty folder that is not a Sapient index; refusing to write "
            "into it. Choose an empty or new folder.", path=folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        for stale in folder.glob(".tmp-snap-*"):
            shutil.rmtree(stale, ignore_errors=True)
        snaps = _snapshots(folder)
        number = (snaps[-1][0] + 1) if snaps else 1
        name = f"snap-{number:06d}"
        tmp = folder / f".tmp-{name}-{os.getpid()}"
        tmp.mkdir()
        try:
            names = write_files(tmp)
            files = {}
            for n in names:
                if not _FILE.match(n):
                    raise ValueError(f"bad snapshot file name {n!r}")
                files[n] = {"sha256": _sha256(tmp / n), "bytes": (tmp / n).stat().st_size}
            write_json_file(tmp / MANIFEST, {**manifest, "format": FORMAT, "version": VERSION,
                                             "files": files})
            _fsync_dir(tmp)
            final = folder / name
            os.rename(tmp, final)
            _fsync_dir(folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _replace_current(folder, name)
        for _, old in _snapshots(folder)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def exists(folder: Path) -> bool:
    return (Path(folder) / CURRENT).is_file()


def _load_small_json(path: Path, what: str, folder: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > _MAX_SMALL_JSON:
            raise IndexFormatError(f"{path} is too large ({size} bytes) to be a Sapient {what}.",
                                   path=folder)
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(
            f"{path} is not a Sapient {what} (not valid JSON: {exc}). The folder holds a "
            "foreign or damaged file; rebuild the index with `sapient ingest`.",
            path=folder) from exc


def read_snapshot(folder: Path) -> tuple[Path, dict[str, Any]]:
    """Locate, validate and verify the current snapshot; returns (snapshot folder, manifest)."""
    folder = Path(folder)
    cur = folder / CURRENT
    if not cur.is_file():
        if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
            raise IndexNotFoundError(
                f"No document index at {folder}. Create one with `sapient ingest PATH` or "
                "DocumentIndex.create(path).", path=folder)
        raise IndexFormatError(
            f"{folder} is not a Sapient document index (no CURRENT file).", path=folder)
    pointer = _load_small_json(cur, "index pointer", folder)
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT:
        raise IndexFormatError(f"{cur} does not belong to a Sapient document index.", path=folder)
    snap = pointer.get("snapshot")
    if not isinstance(snap, str) or not _SNAP.match(snap):
        raise IndexFormatError(f"{cur} names an invalid snapshot {snap!r}.", path=folder)
    snap_dir = folder / snap
    mpath = snap_dir / MANIFEST
    if not mpath.is_file():
        raise IndexCorruptError(f"Snapshot {snap} of {folder} has no manifest; the index is "
                                "damaged. Rebuild it with `sapient ingest`.", path=folder)
    manifest = _load_small_json(mpath, "manifest", folder)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{mpath} is not a Sapient index manifest.", path=folder)
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise IndexFormatError(
            f"Index format version {version!r} at {folder} is not supported by this Sapient "
            f"(reads version {VERSION}). Upgrade Sapient or rebuild the index.", path=folder)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexCorruptError(f"{mpath} lists no files.", path=folder)
    for name, info in files.items():
        if not isinstance(name, str) or not _FILE.match(name) or not isinstance(info, dict):
            raise IndexCorruptError(f"{mpath} lists an invalid file entry {name!r}.", path=folder)
        fpath = snap_dir / name
        if not fpath.is_file():
            raise IndexCorruptError(f"Index file {fpath} is missing. Rebuild the index.",
                                    path=folder)
        if fpath.stat().st_size != info.get("bytes") or _sha256(fpath) != info.get("sha256"):
            raise IndexCorruptError(
                f"Index file {fpath} is damaged (its checksum does not match the manifest). "
                "Nothing was loaded. Rebuild the index with `sapient ingest`, or restore "
                "the folder from a backup.", path=folder)
    return snap_dir, manifest
