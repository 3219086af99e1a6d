"""Ingesting files and folders into a DocumentIndex (see ``DocumentIndex.ingest``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import RetrievalError
from ._loaders import iter_files, read_file
from ._types import IngestSummary

if TYPE_CHECKING:
    from ._index import DocumentIndex

__all__ = ["ingest_paths"]


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def _doc_id(index: DocumentIndex, file: Path, root: Path, given_file: bool,
            by_source: dict[str, str]) -> str:
    if str(file) in by_source:  # already indexed (maybe via its folder): keep its id
        return by_source[str(file)]
    base = file.name if given_file else f"{root.name}/{file.relative_to(root).as_posix()}"
    existing = index.chunks(base)
    if existing and existing[0].source not in (None, str(file)):
        # Same relative name from another place: keep both, distinguishable.
        base = f"{base}~{hashlib.sha1(str(file).encode()).hexdigest()[:6]}"
    return base


def ingest_paths(index: DocumentIndex, paths: str | Path | Iterable[str | Path], *,
                 sync: bool = True, show_progress: bool = False) -> IngestSummary:
    t0 = time.perf_counter()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise RetrievalError("ingest needs at least one file or folder.")
    files = list(iter_files(paths))  # raises on a missing path before anything changes
    summary = IngestSummary(files=len(files))
    config = index.chunker.config
    docs: list[tuple[str, list[tuple[str, str, dict[str, Any]]]]] = []
    seen_sources: set[str] = set()
    by_source = {c.source: c.doc_id for c in index.chunks() if c.source is not None}
    iterator: Iterable[tuple[Path, Path]] = files
    if show_progress and files:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc="reading", unit="file")
    for file, root in iterator:
        source = str(file)
        seen_sources.add(source)
        given_file = file.parent == root and any(
            Path(p).expanduser().resolve() == file for p in paths)
        doc_id = _doc_id(index, file, root, given_file, by_source)
        try:
            sha = _file_sha(file)
            old = index.chunks(doc_id)
            if old and all(c.metadata.get("file_sha256") == sha
                           and c.metadata.get("chunking") == config for c in old):
                summary.skipped += len(old)
                continue
            sections = read_file(file)
        except RetrievalError as exc:
            summary.errors.append(str(exc))
            continue
        except OSError as exc:
            summary.errors.append(f"Cannot read {source}: {exc}")
            continue
        base_meta = {"source": source, "file_name": file.name, "file_type": file.suffix.lower()
                     .lstrip("."), "file_sha256": sha, "chunking": config}
        items: list[tuple[str, str, dict[str, Any]]] = []
        for section in sections:
            section.metadata = {**base_meta, **section.metadata}
            for text, meta in index.chunker.split(section):
                items.append((f"{doc_id}#{len(items)}", text, meta))
        docs.append((doc_id, items))
    result = index._upsert(docs, replace=True, show_progress=show_progress)
    summary.added, summary.updated, summary.embedded = (result.added, result.updated,
                                                        result.embedded)
    summary.skipped += result.skipped
    summary.deleted += result.deleted
    if sync:
        folders = [Path(p).expanduser().resolve() for p in paths if Path(p).is_dir()]
        vanished = set()
        for c in index.chunks():
            src = c.source
            if src is None or src in seen_sources:
                continue
            if any(src.startswith(str(f).rstrip("/") + "/") for f in folders):
                vanished.add(c.doc_id)
        if vanished:
            summary.deleted += index.delete(sorted(vanished))
    summary.seconds = time.perf_counter() - t0
    return summary
