"""Distributed ingestion on Ray Data: workers read, chunk and embed; one writer stores.

``sapient ingest PATH --engine ray`` (or :func:`ingest_with_ray`):

1. this process hashes every file (threads, at disk speed); files whose hash and
   chunking match what the store holds are skipped without being parsed;
2. Ray tasks read and split the changed files (one failing file becomes an error
   line, not a failure); chunks whose text is stored unchanged under the same id are
   passed through, the rest are embedded in batches by a pool of Ray actors, each
   holding one copy of the model.

Batches stream back to this process, which writes them to the store through the
index (one writer: Milvus Lite and the FAISS files take one writer at a time), then
deletes chunks that vanished from changed files and documents whose file is gone.

On a laptop a local Ray instance is started with ``workers + 1`` CPUs and shut down
at the end; with ``RAY_ADDRESS`` set (or ``address=``) the run joins that cluster,
whose nodes need Sapient and the embedding model installed. Needs
``pip install 'sapient[ray]'``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sapient.connectors.docstore import IngestSummary, RetrievalError

from ._ingest import FileJob, _as_list, chunk_file, file_sha, plan_files, sync_folders
from ._loaders import Chunker, text_hash

if TYPE_CHECKING:
    from ._index import DocumentIndex

__all__ = ["ingest_with_ray", "EMBED_BATCH"]

#: Chunks per embedding call on a worker (and per write on the driver).
EMBED_BATCH = 128


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(
            "--engine ray needs Ray Data. Install it with: pip install 'sapient[ray]'") from exc
    return ray


@contextlib.contextmanager
def ray_session(workers: int | None, address: str | None = None) -> Iterator[int]:
    """Join ``address``/``RAY_ADDRESS`` or start a bounded local Ray; yields the worker
    count. A Ray started here is shut down on exit."""
    ray = _ray()
    started = False
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # Ray Data's per-run INFO lines; progress stays
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        try:
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                n = workers or max(1, (os.cpu_count() or 2) - 1)
                ray.init(num_cpus=n + 1, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, object_store_memory=256 * 1024 * 1024)
        except Exception as exc:
            where = f"join the Ray cluster at {address}" if address else "start a local Ray"
            raise RetrievalError(f"Could not {where} ({type(exc).__name__}: {exc}). Check "
                                 "RAY_ADDRESS, or ingest without --engine ray.") from exc
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 2))
        yield workers or max(1, cpus - 1)
    finally:
        quiet.setLevel(level)
        if started:
            ray.shutdown()


# -- worker side ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _chunker(size: int, overlap: int) -> Chunker:
    return Chunker(size, overlap)


def _chunk_rows(row: dict[str, Any], size: int, overlap: int, known: Any) -> list[dict[str, Any]]:
    """One file -> its chunk rows plus one status row (never raises for a bad file)."""
    from sapient.connectors.docstore import RetrievalError

    job = FileJob(Path(row["path"]), row["doc_id"], None)
    status = {"kind": "file", "doc_id": job.doc_id, "chunk_id": "", "text": "", "meta": "",
              "hash": "", "embed": False, "error": ""}
    try:
        items = chunk_file(job, _chunker(size, overlap), row["sha"])
    except RetrievalError as exc:
        return [{**status, "error": str(exc)}]
    except OSError as exc:
        return [{**status, "error": f"Cannot read {job.source}: {exc}"}]
    stored = (known.get(job.doc_id) if known is not None else None) or {}
    out = []
    for chunk_id, text, meta in items:
        h = text_hash(text)
        out.append({"kind": "chunk", "doc_id": job.doc_id, "chunk_id": chunk_id, "text": text,
                    "meta": json.dumps(meta, ensure_ascii=False), "hash": h,
                    "embed": stored.get(chunk_id) != h, "error": ""})
    return [*out, status]


class _Embed:
    """A Ray actor holding one embedding model; embeds the rows marked ``embed``."""

    def __init__(self, factory: Any, rest: str, settings: Any) -> None:
        with contextlib.suppress(ImportError):
            import torch

            torch.set_num_threads(1)  # one CPU per actor: the pool gives the parallelism
        self.embedder = factory(rest, settings)

    def __call__(self, batch: Any) -> Any:
        mask = batch["embed"].to_numpy(dtype=bool)
        vectors: list[list[float]] = [[] for _ in range(len(batch))]
        if mask.any():
            texts = batch["text"][mask].tolist()
            emb = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            for pos, vec in zip(np.flatnonzero(mask), emb, strict=True):
                vectors[int(pos)] = vec.tolist()
        batch["vector"] = vectors
        return batch


def _embed_class(factory: Any, rest: str, settings: Any) -> type:
    """An actor class with the embedder's recipe inside it (shipped with the class, so
    the actors need no constructor arguments in Ray's object store)."""

    class Embed(_Embed):
        def __init__(self) -> None:
            super().__init__(factory, rest, settings)

    return Embed


# -- driver side ------------------------------------------------------------------------


def _embedder_factory(index: DocumentIndex) -> tuple[Any, str, Any]:
    """(factory, rest, settings) that rebuild the index's embedder in a worker process."""
    from sapient.core.settings import Settings

    settings = index._settings if index._settings is not None else (
        index._host.settings if index._host is not None else Settings.from_env())
    spec = index._embedder_spec or settings.embedder
    scheme, _, rest = spec.partition(":")
    if index._host is not None:
        registry = index._host.registry("embedders")
        if scheme in registry:
            return registry[scheme].value, rest, settings
    from sapient.plugins._resolve import _builtin_factories

    factories = _builtin_factories("embedders")
    if scheme not in factories:
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(f"Unknown embedder scheme '{scheme}' in {spec!r}; "
                                 "--engine ray rebuilds the embedder on each worker from it.")
    return factories[scheme], rest, settings


def _changed_jobs(jobs: list[FileJob], summary: IngestSummary) -> list[dict[str, Any]]:
    """Hash every file (threads: hashlib releases the GIL); keep the ones that changed."""
    from concurrent.futures import ThreadPoolExecutor

    def hashed(job: FileJob) -> tuple[FileJob, str | None, str | None]:
        try:
            return job, file_sha(job.path), None
        except OSError as exc:
            return job, None, f"Cannot read {job.source}: {exc}"

    changed = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for job, sha, error in pool.map(hashed, jobs):
            if error is not None:
                summary.errors.append(error)
            elif sha == job.stored_sha:
                summary.skipped += job.stored
            else:
                changed.append({"path": job.source, "doc_id": job.doc_id, "sha": sha})
    return changed


def _write_batches(index: DocumentIndex, batches: Iterable[Any], summary: IngestSummary,
                   seen: dict[str, set[str]], bar: Any) -> None:
    """Hand each streamed batch to the index: one writer."""
    for batch in batches:
        chunks = batch[batch["kind"] == "chunk"]
        for row in batch[batch["kind"] == "file"].itertuples():
            if row.error:
                summary.errors.append(row.error)
                seen.pop(row.doc_id, None)  # keep what is stored for a file that failed
            if bar is not None:
                bar.update(1)
        if chunks.empty:
            continue
        docs: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        for row in chunks.itertuples():
            docs.setdefault(row.doc_id, []).append((row.chunk_id, row.text, json.loads(row.meta)))
            seen.setdefault(row.doc_id, set()).add(row.chunk_id)
        dim = max((len(v) for v in chunks["vector"]), default=0)
        vectors = np.zeros((len(chunks), dim), dtype=np.float32)
        for i, vec in enumerate(chunks["vector"]):
            if len(vec):
                vectors[i] = vec
        summary += index._upsert(list(docs.items()), replace=False, embeddings=vectors)


def ingest_with_ray(index: DocumentIndex, paths: str | Path | Iterable[str | Path], *,
                    sync: bool = True, workers: int | None = None, address: str | None = None,
                    batch_size: int = EMBED_BATCH, show_progress: bool = False
                    ) -> IngestSummary:
    """Ingest files and folders like :meth:`DocumentIndex.ingest`, on Ray Data.

    Args:
        index: the index to write into (through this process: one writer).
        paths: files and/or folders (txt, md, html, pdf).
        sync: delete documents read before from a given folder whose file is gone.
        workers: embedding actors (default: CPUs - 1, at least one).
        address: a Ray cluster to join (default ``RAY_ADDRESS``; none: start locally).
        batch_size: chunks per embedding call.
        show_progress: Ray's operator progress and a bar of files written.
    """
    t0 = time.perf_counter()
    paths = _as_list(paths)
    jobs = plan_files(index, paths)  # raises on a missing path before anything changes
    summary = IngestSummary(files=len(jobs))
    changed = _changed_jobs(jobs, summary)
    known = {doc_id: {c.id: c.hash for c in chunks} for doc_id, chunks
             in index._stored_docs([r["doc_id"] for r in changed]).items()}
    seen: dict[str, set[str]] = {}
    if changed:
        with ray_session(workers, address) as n_workers:
            batches = _pipeline(index, changed, known, n_workers, batch_size, show_progress)
            bar = None
            if show_progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(changed), desc="writing", unit="file")
            try:
                _write_batches(index, batches, summary, seen, bar)
            except _ray().exceptions.RayError as exc:
                cause = getattr(exc, "cause", None) or exc
                raise RetrievalError(
                    f"Ingestion on Ray stopped: {type(cause).__name__}: "
                    f"{str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}. "
                    "What was written so far is kept; fix the cause and run the same command "
                    "again (unchanged chunks are skipped).") from exc
            finally:
                if bar is not None:
                    bar.close()
    summary.deleted += _drop_vanished_chunks(index, known, seen)
    if sync:
        summary.deleted += sync_folders(index, paths, {j.source for j in jobs})
    summary.files = len(jobs)
    summary.seconds = time.perf_counter() - t0
    return summary


def _pipeline(index: DocumentIndex, changed: list[dict[str, Any]],
              known: dict[str, dict[str, str]], workers: int, batch_size: int,
              show_progress: bool) -> Iterable[Any]:
    """The Ray Data plan: read and chunk (tasks) -> embed (an actor pool); streamed back."""
    ray = _ray()
    ray.data.DataContext.get_current().enable_progress_bars = show_progress
    factory, rest, settings = _embedder_factory(index)
    ds = (ray.data.from_items(changed, override_num_blocks=min(len(changed), workers * 4))
          .flat_map(_chunk_rows, fn_kwargs={"size": index.chunker.chunk_size,
                                            "overlap": index.chunker.chunk_overlap,
                                            "known": known})
          .map_batches(_embed_class(factory, rest, settings), batch_size=batch_size,
                       batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=workers),
                       num_cpus=1))
    return ds.iter_batches(batch_size=batch_size, batch_format="pandas")


def _drop_vanished_chunks(index: DocumentIndex, known: dict[str, dict[str, str]],
                          seen: dict[str, set[str]]) -> int:
    """Chunks a changed file no longer has (a shorter file) are deleted."""
    gone = [cid for doc_id, ids in seen.items() for cid in known.get(doc_id, {})
            if cid not in ids]
    return index.store.delete(gone) if gone else 0
