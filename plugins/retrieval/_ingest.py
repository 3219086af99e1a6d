"""Ingesting files and folders into a DocumentIndex (see ``DocumentIndex.ingest``).

The steps are shared by the in-process path here and the Ray path (``_ray``): plan
which document id each file gets and what is stored for it (:func:`plan_files`),
read and chunk one file (:func:`chunk_file`), and after writing, delete what vanished
(:func:`sync_folders`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sapient.connectors.docstore import IngestSummary, RetrievalError

from ._loaders import Chunker, iter_files, read_file

if TYPE_CHECKING:
    from ._index import DocumentIndex

__all__ = ["FileJob", "ingest_paths", "plan_files", "chunk_file", "file_sha", "sync_folders"]

Items = list[tuple[str, str, dict[str, Any]]]


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


@dataclass
class FileJob:
    """One file to ingest: its path, document id and the file hash of what is stored."""

    path: Path
    doc_id: str
    stored_sha: str | None  # set when every stored chunk came from one file version
    stored: int = 0  # chunks stored for this document

    @property
    def source(self) -> str:
        return str(self.path)


def _as_list(paths: str | Path | Iterable[str | Path]) -> list[str | Path]:
    out = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not out:
        raise RetrievalError("ingest needs at least one file or folder.")
    return out


def plan_files(index: DocumentIndex, paths: list[str | Path]) -> list[FileJob]:
    """The files under ``paths`` with their document ids (a missing path raises first).

    A document's id is its path relative to the folder given (prefixed with the
    folder's name), or the file name for a file given directly; a file ingested
    before keeps its id; the same relative name from another place gets a suffix.
    """
    files = list(iter_files(paths))
    given = {Path(p).expanduser().resolve() for p in paths}
    by_source: dict[str, str] = {}
    sources = [str(f) for f, _ in files]
    for i in range(0, len(sources), 1000):
        for c in index.store.query({"source": {"$in": sources[i:i + 1000]}}):
            by_source.setdefault(str(c.metadata["source"]), c.doc_id)
    base = {str(f): (f.name if (f.parent == root and f in given)
                     else f"{root.name}/{f.relative_to(root).as_posix()}") for f, root in files}
    stored = index._stored_docs(list(set(base.values()) | set(by_source.values())))
    config = index.chunker.config
    jobs = []
    for f, _root in files:
        doc_id = by_source.get(str(f)) or base[str(f)]
        old = stored.get(doc_id, [])
        if str(f) not in by_source and old and old[0].source not in (None, str(f)):
            doc_id = f"{doc_id}~{hashlib.sha1(str(f).encode()).hexdigest()[:6]}"
            old = []
        shas = {c.metadata.get("file_sha256") for c in old}
        same_chunking = all(c.metadata.get("chunking") == config for c in old)
        jobs.append(FileJob(f, doc_id, shas.pop() if len(shas) == 1 and same_chunking
                            else None, len(old)))
    return jobs


def chunk_file(job: FileJob, chunker: Chunker, sha: str) -> Items:
    """Read one file and split it into ``(chunk_id, text, metadata)`` items."""
    config = chunker.config
    base_meta = {"source": job.source, "file_name": job.path.name,
                 "file_type": job.path.suffix.lower().lstrip("."), "file_sha256": sha,
                 "chunking": config}
    items: Items = []
    for section in read_file(job.path):
        section.metadata = {**base_meta, **section.metadata}
        for text, meta in chunker.split(section):
            items.append((f"{job.doc_id}#{len(items)}", text, meta))
    return items


def read_job(job: FileJob, chunker: Chunker) -> tuple[Items | None, str | None]:
    """(items, None) for a changed file, (None, None) for an unchanged one, or
    (None, error sentence) when it cannot be read; never raises for one bad file."""
    try:
        sha = file_sha(job.path)
        if job.stored_sha == sha:
            return None, None
        return chunk_file(job, chunker, sha), None
    except RetrievalError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"Cannot read {job.source}: {exc}"


def sync_folders(index: DocumentIndex, paths: list[str | Path], seen: set[str]) -> int:
    """Delete documents read before from the given folders whose file is gone."""
    vanished: set[str] = set()
    for p in paths:
        folder = Path(p).expanduser().resolve()
        if not folder.is_dir():
            continue
        prefix = str(folder).rstrip("/") + "/"
        for c in index.store.query({"source": {"$prefix": prefix}}):
            if c.source not in seen:
                vanished.add(c.doc_id)
    return index.delete(sorted(vanished)) if vanished else 0


def ingest_paths(index: DocumentIndex, paths: str | Path | Iterable[str | Path], *,
                 sync: bool = True, show_progress: bool = False) -> IngestSummary:
    t0 = time.perf_counter()
    paths = _as_list(paths)
    jobs = plan_files(index, paths)  # raises on a missing path before anything changes
    summary = IngestSummary(files=len(jobs))
    docs: list[tuple[str, Items]] = []
    iterator: Iterable[FileJob] = jobs
    if show_progress and jobs:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, desc="reading", unit="file")
    for job in iterator:
        items, error = read_job(job, index.chunker)
        if error is not None:
            summary.errors.append(error)
        elif items is None:
            summary.skipped += job.stored
        else:
            docs.append((job.doc_id, items))
    summary += index._upsert(docs, replace=True, show_progress=show_progress)
    summary.files = len(jobs)
    if sync:
        summary.deleted += sync_folders(index, paths, {j.source for j in jobs})
    summary.seconds = time.perf_counter() - t0
    return summary
