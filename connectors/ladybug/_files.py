"""Opening LadybugDB files: one ``Database`` per file per process, checked before use.

LadybugDB (0.22) opens some damaged files without a word: an emptied file opens
as a new empty graph, and overwritten data pages are read as data. So each time
Sapient closes a graph it had open for writing, it records the file's size and
BLAKE2b digest in ``<file>.sapient.json``; before opening, it checks them. While a
graph is open for writing the record says ``clean: false`` (a crash leaves it so,
and the next writer records a new one), because LadybugDB rewrites the file even
when a writer only read. Read-only opens never write anything.

Errors are sorted by cause so that the advice fits: another program holds the
file; the file is damaged or not a graph; it is a folder; it is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sapient.connectors.graph import GraphError

__all__ = ["DamagedGraphError", "close_all", "import_ladybug", "open_database", "release"]

RECORD_SUFFIX = ".sapient.json"
_lock = threading.Lock()


class DamagedGraphError(GraphError):
    """The graph file is damaged, replaced or not a LadybugDB database."""


@dataclass
class _Open:
    db: Any
    key: str
    read_only: bool
    users: int = 1
    owners: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)


_databases: dict[str, _Open] = {}


def import_ladybug() -> Any:
    try:
        import ladybug
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise GraphError("The embedded graph store needs the 'ladybug' package: "
                         "pip install 'sapient[graph]'.") from exc
    return ladybug


def _record_path(key: str) -> Path:
    return Path(key + RECORD_SUFFIX)


def _wal(key: str) -> Path:
    return Path(key + ".wal")


def _fingerprint(key: str) -> dict[str, Any]:
    with open(key, "rb") as fh:
        digest = hashlib.file_digest(fh, "blake2b").hexdigest()
    return {"size": os.path.getsize(key), "blake2b": digest}


def _read_record(key: str) -> dict[str, Any] | None:
    try:
        record = json.loads(_record_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(key: str, record: dict[str, Any]) -> None:
    path = _record_path(key)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(OSError):  # a read-only folder: no record, no check
        tmp.write_text(json.dumps({"format": 1, **record}), encoding="utf-8")
        os.replace(tmp, path)


def _damaged(key: str, what: str) -> DamagedGraphError:
    return DamagedGraphError(
        f"The graph file {key} {what}. Restore it from a backup, or move it aside and "
        "load your data again with 'sapient graph ingest'. If you changed it on purpose "
        f"with another program, delete {key}{RECORD_SUFFIX} to accept it as it is.")


def verify(key: str) -> None:
    """Refuse a file that differs from what Sapient recorded when it last closed it."""
    path = Path(key)
    if path.is_file() and path.stat().st_size == 0 and not _wal(key).exists():
        raise DamagedGraphError(
            f"The graph file {key} is empty (0 bytes), so it holds no graph: it was "
            "probably cut short. Restore it from a backup, or delete it and load your "
            "data again with 'sapient graph ingest'.")
    record = _read_record(key)
    if record and not path.exists():  # LadybugDB makes the file as it opens a new graph
        raise _damaged(key, "is missing, though Sapient recorded it there")
    if not record or not record.get("clean") or _wal(key).exists():
        return  # nothing recorded, or a writer did not finish: LadybugDB's own checks only
    if not path.is_file():
        return  # reported by the open itself, with its own advice
    if _fingerprint(key) != {"size": record.get("size"), "blake2b": record.get("blake2b")}:
        raise _damaged(key, "is not the one Sapient last wrote (its size or checksum "
                       "differs): it is damaged or was replaced")


def _open_error(key: str, exc: Exception) -> GraphError:
    text = str(exc)
    low = text.lower()
    if "lock" in low:
        return GraphError(f"The graph at {key} is in use by another program: close it, or "
                          "open the graph read-only ('?read_only=1').")
    if "directory" in low:
        return GraphError(f"{key} is a folder, but a LadybugDB graph is one file. Give a "
                          "file path (e.g. a name inside that folder) or move the folder aside.")
    if "version" in low:
        return GraphError(f"The graph at {key} was written by another LadybugDB version "
                          f"({text}). Open it with that version, or load your data again.")
    if any(w in low for w in ("not a valid", "corrupt", "checksum", "cannot read checkpoint",
                              "outside the database file", "wal")):
        return _damaged(key, f"is damaged or is not a LadybugDB database ({text})")
    return GraphError(f"Could not open the graph at {key}: {text}")


def open_database(path: str, read_only: bool = False, owner: Any = None) -> Any:
    """The process-wide ``ladybug.Database`` for ``path`` (opened once, ref-counted).

    ``owner`` (a store with a ``close()``) is closed at exit if still open, so its
    connections go first and the file is complete when its fingerprint is taken.
    """
    lb = import_ladybug()
    if path == ":memory:":
        return lb.Database(":memory:")
    key = str(Path(path).expanduser().resolve())
    with _lock:
        entry = _databases.get(key)
        if entry is not None:
            if entry.read_only and not read_only:
                raise GraphError(f"The graph at {key} is already open read-only in this "
                                 "process; close that store before opening it for writing.")
            entry.users += 1
        else:
            verify(key)
            if read_only and not Path(key).exists():
                raise GraphError(f"No graph at {key} to open read-only. Ingest data first.")
            entry = _databases[key] = _Open(_open_new(lb, key, read_only), key, read_only)
        if owner is not None:
            entry.owners.add(owner)
        return entry.db


def _open_new(lb: Any, key: str, read_only: bool) -> Any:
    before = None if read_only else _read_record(key)
    if not read_only:
        Path(key).parent.mkdir(parents=True, exist_ok=True)
        _write_record(key, {"clean": False})
    try:
        return lb.Database(key, read_only=read_only)
    except RuntimeError as exc:
        if not read_only:  # nothing was opened: put the record back as it was
            if before is None:
                with contextlib.suppress(OSError):
                    _record_path(key).unlink()
            else:
                _write_record(key, {k: v for k, v in before.items() if k != "format"})
        raise _open_error(key, exc) from exc


def _close(entry: _Open) -> None:
    entry.db.close()
    if not entry.read_only and Path(entry.key).is_file() and not _wal(entry.key).exists():
        _write_record(entry.key, {"clean": True, **_fingerprint(entry.key)})


def release(db: Any) -> None:
    """Drop one user of ``db``; the last one closes it and records its fingerprint."""
    with _lock:
        for key, entry in list(_databases.items()):
            if entry.db is db:
                entry.users -= 1
                if entry.users <= 0:
                    del _databases[key]
                    _close(entry)
                return
    db.close()


@atexit.register
def close_all() -> None:
    """Close every database still open (at exit), recording fingerprints."""
    with _lock:
        owners = [o for entry in _databases.values() for o in list(entry.owners)]
    for owner in owners:  # their connections first: LadybugDB finishes the file then
        with contextlib.suppress(Exception):
            owner.close()
    with _lock:
        entries = list(_databases.values())
        _databases.clear()
    for entry in entries:
        with contextlib.suppress(Exception):
            _close(entry)
