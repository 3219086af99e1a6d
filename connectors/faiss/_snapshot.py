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
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sapient.connectors.docstore import (
    IndexConflictError,
    IndexCorruptError,
    IndexFormatError,
    IndexNotFoundError,
    RetrievalError,
)

__all__ = ["FORMAT", "VERSION", "ANY", "write_snapshot", "read_snapshot", "exists", "pointer",
           "writer_lock", "write_json_file"]

log = logging.getLogger("sapient.retrieval")

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


_held: set[tuple[str, int]] = set()  # (folder, thread) pairs holding the writer lock
_held_guard = threading.Lock()


@contextlib.contextmanager
def writer_lock(folder: Path, *, wait: bool = True,
                on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index's exclusive writer lock (``folder/.lock``, an ``flock``).

    Wrap a whole load-modify-save in it (``sapient ingest`` does), so two writers are
    serialised: the second one loads what the first saved. With ``wait`` false a busy
    lock raises instead; ``on_wait`` is called once before waiting. Re-entrant within
    a thread; another thread or process waits. The operating system releases the lock
    when its holder dies, so a killed writer never leaves the index locked.
    """
    folder = Path(folder)
    key = (os.path.realpath(folder), threading.get_ident())
    with _held_guard:
        reentrant = key in _held
    if reentrant:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / ".lock", "a+")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise RetrievalError(
                    f"Another process is writing the index at {folder}. Wait for it to "
                    "finish and try again.", path=folder) from None
            if on_wait is not None:
                on_wait()
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with _held_guard:
            _held.add(key)
        try:
            yield
        finally:
            with _held_guard:
                _held.discard(key)
    finally:
        fh.close()


def _snapshots(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for p in folder.iterdir():
        m = _SNAP.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def _has_content(folder: Path) -> bool:
    """Whether ``folder`` holds anything but hidden files (the lock, stale temp files)."""
    return any(not p.name.startswith(".") for p in folder.iterdir())


def _clean_temps(folder: Path) -> None:
    """Remove what killed saves left behind (only called under the writer lock)."""
    for stale in folder.glob(".tmp-snap-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in folder.glob(f".{CURRENT}.tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _replace_current(folder: Path, snapshot: str) -> None:
    tmp = folder / f".{CURRENT}.tmp-{os.getpid()}"
    write_json_file(tmp, {"format": FORMAT, "snapshot": snapshot})
    os.replace(tmp, folder / CURRENT)
    _fsync_dir(folder)


class _NewerFormatError(IndexFormatError):
    """A snapshot in a format this version cannot read (never skipped over)."""


#: ``base`` of :func:`write_snapshot` when the caller does not care what is on disk.
ANY = object()


def write_snapshot(folder: Path, write_files: Callable[[Path], list[str]],
                   manifest: dict[str, Any], keep: int = 2, base: Any = ANY) -> Path:
    """Write a new snapshot and make it current; returns the snapshot folder.

    ``write_files(tmp)`` writes the data files into ``tmp`` (fsynced) and returns
    their names; this function adds their checksums to ``manifest``. ``base`` is
    :func:`pointer` as it was when the data was loaded (``None`` for a new index):
    if another writer committed since, nothing is written and
    :class:`IndexConflictError` says so, instead of silently dropping its documents.
    The newest ``keep`` snapshots stay; the one just written is complete and
    verified by its checksums, so pruning never removes the last good state.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexFormatError(f"{folder} is a file, not an index folder. Choose another path.",
                               path=folder)
    if folder.is_dir() and _has_content(folder) and not (folder / CURRENT).exists() \
            and not _snapshots(folder):
        raise IndexFormatError(
            f"{folder} is a non-empty folder that is not a Sapient index; refusing to write "
            "into it. Choose an empty or new folder.", path=folder)
    folder.mkdir(parents=True, exist_ok=True)
    with writer_lock(folder, wait=False):
        _clean_temps(folder)
        if base is not ANY and pointer(folder) != base:
            raise IndexConflictError(
                f"The index at {folder} was saved by another process after this one loaded "
                "it; nothing was saved, so neither run's documents are lost. Run the ingest "
                "again: it will add to what is there now.", path=folder)
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
    """Whether ``folder`` holds an index (a ``CURRENT`` pointer or a snapshot)."""
    folder = Path(folder)
    return (folder / CURRENT).is_file() or (folder.is_dir() and bool(_snapshots(folder)))


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


def pointer(folder: Path) -> str | None:
    """The snapshot ``CURRENT`` names, or ``None`` when there is no readable pointer."""
    try:
        return _named_snapshot(Path(folder))
    except (RetrievalError, OSError):
        return None


def _named_snapshot(folder: Path) -> str | None:
    cur = folder / CURRENT
    if not cur.is_file():
        return None
    data = _load_small_json(cur, "index pointer", folder)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexFormatError(f"{cur} does not belong to a Sapient document index.", path=folder)
    snap = data.get("snapshot")
    if not isinstance(snap, str) or not _SNAP.match(snap):
        raise IndexFormatError(f"{cur} names an invalid snapshot {snap!r}.", path=folder)
    return snap


def read_snapshot(folder: Path) -> tuple[Path, dict[str, Any]]:
    """Locate, validate and verify the snapshot to load; returns (folder, manifest).

    The one ``CURRENT`` names, when it verifies. When ``CURRENT`` is missing or
    unreadable, or names a snapshot that is missing or damaged, the newest other
    snapshot that verifies is loaded instead, with a warning: a damaged pointer or
    file never makes the index start over, and the next save builds on that state.
    """
    folder = Path(folder)
    if not folder.exists() or (folder.is_dir() and not _has_content(folder)):
        raise IndexNotFoundError(
            f"No document index at {folder}. Create one with `sapient ingest PATH` or "
            "DocumentIndex.create(path).", path=folder)
    if not (folder / CURRENT).is_file() and not (folder.is_dir() and _snapshots(folder)):
        raise IndexFormatError(
            f"{folder} is not a Sapient document index (no CURRENT file).", path=folder)
    named: str | None = None
    try:
        named = _named_snapshot(folder)
        if named is not None:
            return folder / named, _verify(folder, folder / named)
        problem: RetrievalError = IndexCorruptError(
            f"{folder / CURRENT} is missing.", path=folder)
    except _NewerFormatError:
        raise  # written by a newer Sapient: never fall back to older data
    except (IndexCorruptError, IndexFormatError) as exc:
        problem = exc
    for _, snap in reversed(_snapshots(folder)):
        if snap.name == named:
            continue
        try:
            manifest = _verify(folder, snap)
        except (IndexCorruptError, IndexFormatError):
            continue
        what = f"snapshot {named} is damaged" if named else "its CURRENT file is missing " \
            "or unreadable"
        log.warning("The index at %s: %s; loading the last good snapshot, %s, instead (the "
                    "next save builds on it).", folder, what, snap.name)
        return snap, manifest
    raise problem


def _verify(folder: Path, snap_dir: Path) -> dict[str, Any]:
    """The manifest of ``snap_dir`` after checking its format and every file's checksum."""
    snap = snap_dir.name
    mpath = snap_dir / MANIFEST
    if not mpath.is_file():
        raise IndexCorruptError(f"Snapshot {snap} of {folder} has no manifest; the index is "
                                "damaged. Rebuild it with `sapient ingest`.", path=folder)
    manifest = _load_small_json(mpath, "manifest", folder)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{mpath} is not a Sapient index manifest.", path=folder)
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise _NewerFormatError(
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
    return manifest
