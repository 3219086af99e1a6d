"""DocumentIndex: hybrid (FAISS + BM25) search over chunks, with safe persistence.

The index keeps the chunk table in memory (texts, metadata, content hashes), dense
vectors in FAISS and a BM25 model built from the same texts. Changes are
incremental for FAISS; BM25 is rebuilt lazily on the next lexical search or save
(bm25s has no incremental update, and a rebuild is fast). ``save()`` writes an
atomic snapshot (see ``_store``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _store
from ._bm25 import BM25Index
from ._errors import (
    EmbedderMismatchError,
    IndexCorruptError,
    IndexFormatError,
    RetrievalError,
)
from ._filters import MISSING, Filters, compile_filter
from ._loaders import Chunker, text_hash
from ._types import Chunk, IngestSummary, SearchHit, jsonable_metadata
from ._vectors import HNSW_THRESHOLD, IndexKind, VectorIndex

__all__ = ["DocumentIndex", "SearchMode", "RRF_K"]

SearchMode = Literal["hybrid", "dense", "bm25"]
#: The constant of reciprocal rank fusion: score = sum over lists of 1 / (RRF_K + rank).
RRF_K = 60
EMBED_BATCH = 512


def _embedder_name(embedder: Any) -> str | None:
    name = getattr(embedder, "name", None)
    return name if isinstance(name, str) else None


def resolve_embedder(spec: str | None, settings: Any = None, host: Any = None) -> Any:
    """The embedder named by ``spec`` (default: the settings').

    Through ``host`` when there is one, so the user's plugins and settings apply and
    the model is shared with every other tool of that host; otherwise straight from
    the built-in embedder connectors (plain Python use without a host).
    """
    if host is not None:
        return host.embedder(spec)
    from sapient.plugins._resolve import resolve_builtin

    return resolve_builtin("embedders", spec, settings)


@dataclass(slots=True)
class _Planned:
    """One incoming chunk and the stored chunk it replaces (if any)."""

    doc_id: str
    chunk_id: str
    text: str
    meta: dict[str, Any]
    hash: str
    old: Chunk | None


@dataclass(slots=True)
class _Source:
    """Where a chunk's vector comes from: ``same`` (stored vid), ``reuse`` (vid of a
    chunk with the same text), ``new`` (row of the freshly embedded texts) or ``given``
    (row of caller-supplied embeddings)."""

    kind: Literal["same", "reuse", "new", "given"]
    ref: int


def _check_embeddings(embeddings: Any, n: int) -> np.ndarray | None:
    if embeddings is None:
        return None
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) != n:
        raise RetrievalError(f"embeddings must have one row per chunk ({n}), got shape "
                             f"{embeddings.shape}.")
    return embeddings


class DocumentIndex:
    """A searchable collection of text chunks: dense (FAISS), lexical (BM25) and hybrid.

    Build one in memory with ``DocumentIndex(embedder)``, or on disk with
    :meth:`create` / :meth:`open`. Add content with :meth:`add_texts`,
    :meth:`add_documents` (LangChain ``Document`` objects) or :meth:`ingest` (files
    and folders); query with :meth:`search`; persist with :meth:`save`.

    Args:
        embedder: object with ``embed(list[str]) -> (n, d) float32`` unit rows and a
            ``name``, or a spec string such as ``"sentence-transformers:all-MiniLM-L6-v2"``;
            ``None`` builds the default from the settings when first needed.
        path: folder the index saves to.
        index_type: ``"auto"`` (exact below ``hnsw_threshold`` vectors, HNSW above),
            ``"flat"`` (always exact) or ``"hnsw"`` (always approximate).
        chunk_size, chunk_overlap: splitting of documents, in characters.
        settings: Sapient settings used to resolve a default embedder.
        hnsw_threshold: vector count at which ``auto`` switches to HNSW.
        host: the :class:`~sapient.Host` that resolves the embedder spec (its plugins
            and shared models apply); without one, the built-in embedder connectors
            build it.
    """

    def __init__(self, embedder: Any = None, *, path: str | Path | None = None,
                 index_type: IndexKind = "auto", chunk_size: int = 800,
                 chunk_overlap: int = 100, settings: Any = None,
                 hnsw_threshold: int = HNSW_THRESHOLD, host: Any = None) -> None:
        if index_type not in ("auto", "flat", "hnsw"):
            raise RetrievalError(
                f"index_type must be 'auto', 'flat' or 'hnsw', got {index_type!r}.")
        self.path = Path(path).expanduser() if path is not None else None
        spec = embedder if isinstance(embedder, str) else None
        self._embedder = None if isinstance(embedder, str) else embedder
        self._embedder_spec: str | None = spec or _embedder_name(embedder)
        self._host = host
        self._settings = settings
        self.index_type: IndexKind = index_type
        self.hnsw_threshold = hnsw_threshold
        self.chunker = Chunker(chunk_size, chunk_overlap)
        self._chunks: dict[str, Chunk] = {}
        self._docs: dict[str, list[str]] = {}
        self._by_vid: dict[int, str] = {}
        self._vectors: VectorIndex | None = None
        self._bm25 = BM25Index()
        # Row order shared by BM25 and filter columns; rebuilt lazily after changes.
        self._rows: list[str] = []
        self._row_of: dict[str, int] = {}
        self._row_vids = np.zeros(0, dtype=np.int64)
        self._columns: dict[str, np.ndarray] = {}
        self._rows_dirty = False
        self._bm25_dirty = False
        self._next_vid = 0
        self._dirty = False
        self._lock = threading.RLock()

    # -- construction ------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, embedder: Any = None, *, overwrite: bool = False,
               **options: Any) -> DocumentIndex:
        """A new, empty index that will save to ``path``.

        Raises ``RetrievalError`` if an index already exists there (unless
        ``overwrite``: the next save then replaces it, atomically).
        """
        path = Path(path).expanduser()
        if _store.exists(path) and not overwrite:
            raise RetrievalError(
                f"An index already exists at {path}. Open it with DocumentIndex.open(path), "
                "or pass overwrite=True to replace it on the next save.", path=path)
        return cls(embedder, path=path, **options)

    @classmethod
    def open(cls, path: str | Path, embedder: Any = None, *, create: bool = False,
             settings: Any = None, host: Any = None, **options: Any) -> DocumentIndex:
        """Load the index saved at ``path``.

        Args:
            path: the index folder.
            embedder: the embedder to query with; it must be the model the index was
                built with. ``None`` builds the recorded one (e.g.
                ``sentence-transformers:all-MiniLM-L6-v2``).
            create: return a new empty index when none exists yet.
            settings: settings used to build the recorded embedder.
            host: the host that builds it (see the class docstring).
            options: ``index_type``, ``chunk_size``, ``chunk_overlap`` overrides.

        Raises:
            IndexNotFoundError: nothing saved there (and ``create`` is false).
            IndexCorruptError: a file is damaged; nothing was loaded.
            IndexFormatError: the folder is not a Sapient index, or a newer format.
            EmbedderMismatchError: ``embedder`` is not the model the index was built with.
        """
        path = Path(path).expanduser()
        if create and not _store.exists(path):
            return cls.create(path, embedder, settings=settings, host=host, **options)
        snap_dir, manifest = _store.read_snapshot(path)
        try:
            return cls._from_snapshot(path, snap_dir, manifest, embedder, settings,
                                      {**options, "host": host})
        except (RetrievalError, MemoryError):
            raise
        except Exception as exc:  # any parse failure of a checksummed file
            raise IndexCorruptError(
                f"The index at {path} could not be read ({type(exc).__name__}: {exc}). "
                "Rebuild it with `sapient ingest`.", path=path) from exc

    @classmethod
    def _from_snapshot(cls, path: Path, snap_dir: Path, manifest: dict[str, Any], embedder: Any,
                       settings: Any, options: dict[str, Any]) -> DocumentIndex:
        emb_info = manifest.get("embedder") or {}
        recorded = emb_info.get("name")
        given = embedder if isinstance(embedder, str) else _embedder_name(embedder)
        if recorded and given and given != recorded:
            raise EmbedderMismatchError(
                f"The index at {path} was built with embedder '{recorded}', but '{given}' was "
                "given. Open it with the same model (or none, to use the recorded one), or "
                "rebuild the index with the new model.", path=path)
        chunking = manifest.get("chunking") or {}
        opts = {"index_type": manifest.get("index_type", "auto"),
                "chunk_size": chunking.get("chunk_size", 800),
                "chunk_overlap": chunking.get("chunk_overlap", 100),
                "hnsw_threshold": manifest.get("hnsw_threshold", HNSW_THRESHOLD)}
        opts.update(options)
        self = cls(embedder, path=path, settings=settings, **opts)
        self._embedder_spec = recorded or given
        chunks: dict[str, Chunk] = {}
        with open(snap_dir / "chunks.jsonl", encoding="utf-8") as fh:
            header = json.loads(fh.readline() or "null")
            if not isinstance(header, dict) or header.get("format") != "sapient-chunks":
                raise IndexFormatError(f"{snap_dir / 'chunks.jsonl'} is not a chunk table.",
                                       path=path)
            for line in fh:
                rec = json.loads(line)
                c = Chunk(id=str(rec["id"]), doc_id=str(rec["doc_id"]), text=str(rec["text"]),
                          metadata=dict(rec["metadata"]), hash=str(rec["hash"]),
                          vid=int(rec["vid"]))
                chunks[c.id] = c
        counts = manifest.get("counts") or {}
        if len(chunks) != counts.get("chunks"):
            raise IndexCorruptError(f"The chunk table at {snap_dir} holds {len(chunks)} chunks, "
                                    f"the manifest says {counts.get('chunks')}.", path=path)
        self._chunks = chunks
        for c in chunks.values():
            self._docs.setdefault(c.doc_id, []).append(c.id)
            self._by_vid[c.vid] = c.id
        self._next_vid = int(manifest.get("next_vid", 0))
        live = np.fromiter((c.vid for c in chunks.values()), dtype=np.int64, count=len(chunks))
        if (snap_dir / "vectors.faiss").exists():
            self._vectors = VectorIndex.read(snap_dir / "vectors.faiss", self.index_type, live,
                                             hnsw_threshold=self.hnsw_threshold)
            if emb_info.get("dimension") not in (None, self._vectors.dimension):
                raise IndexCorruptError("Vector dimension differs from the manifest.", path=path)
        elif chunks:
            raise IndexCorruptError(f"{snap_dir} has chunks but no vectors file.", path=path)
        self._bm25 = BM25Index.read(snap_dir, manifest.get("bm25") or {}, len(chunks))
        self._rows_dirty = True
        self._ensure_rows()
        return self

    # -- facts -------------------------------------------------------------------

    @property
    def embedder(self) -> Any:
        """The embedder, built from the recorded or default spec on first use."""
        if self._embedder is None:
            self._embedder = resolve_embedder(self._embedder_spec, self._settings, self._host)
            self._embedder_spec = self._embedder_spec or _embedder_name(self._embedder)
        return self._embedder

    @property
    def dimension(self) -> int | None:
        return self._vectors.dimension if self._vectors is not None else None

    @property
    def vector_index_kind(self) -> str | None:
        """``"flat"`` or ``"hnsw"``: what FAISS uses now (``None`` while empty)."""
        return self._vectors.kind if self._vectors is not None else None

    @property
    def modified(self) -> bool:
        """True when there are changes that :meth:`save` has not written yet."""
        return self._dirty

    def __len__(self) -> int:
        return len(self._chunks)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._chunks

    def get(self, chunk_id: str) -> Chunk | None:
        """The stored chunk with this id, or None."""
        return self._chunks.get(chunk_id)

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """All chunks, or those of one document, in insertion order."""
        if doc_id is None:
            return list(self._chunks.values())
        return [self._chunks[i] for i in self._docs.get(doc_id, [])]

    def documents(self) -> list[str]:
        """Ids of the stored documents."""
        return list(self._docs)

    # -- writing -----------------------------------------------------------------

    def _embed(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension or 0), dtype=np.float32)
        emb = self.embedder
        if len(texts) <= EMBED_BATCH or not show_progress:
            return np.asarray(emb.embed(texts), dtype=np.float32)
        from tqdm.auto import tqdm

        parts = []
        with tqdm(total=len(texts), desc="embedding", unit="chunk") as bar:
            for i in range(0, len(texts), EMBED_BATCH):
                batch = texts[i:i + EMBED_BATCH]
                parts.append(np.asarray(emb.embed(batch), dtype=np.float32))
                bar.update(len(batch))
        return np.concatenate(parts)

    def _upsert(self, docs: Sequence[tuple[str, list[tuple[str, str, dict[str, Any]]]]], *,
                replace: bool, embeddings: np.ndarray | None = None,
                show_progress: bool = False) -> IngestSummary:
        """Insert or replace chunks, grouped by document.

        ``docs`` holds ``(doc_id, [(chunk_id, text, metadata), ...])``. With
        ``replace`` a document's old chunks missing from the new list are deleted.
        ``embeddings`` (one row per chunk, in order) skips the embedder. Steps: plan
        what each chunk needs, find or compute its vector, apply the changes.
        """
        t0 = time.perf_counter()
        summary = IngestSummary()
        plan = self._plan(docs)
        given = _check_embeddings(embeddings, len(plan))
        with self._lock:
            sources, need = self._vector_sources(plan, given is not None, summary)
            new_vectors = self._embed([plan[r].text for r in need], show_progress)
            summary.embedded = len(need) if given is None else sum(
                s.kind == "given" for s in sources)
            vectors = self._gather_vectors(sources, given, new_vectors)
            add_ids, add_rows, remove_vids, touched = self._apply(plan, sources, vectors)
            if replace:
                remove_vids.extend(self._drop_missing(docs, summary))
            self._write_vectors(add_ids, add_rows, remove_vids)
            self._mark_changed(summary.changed, touched)
        summary.seconds = time.perf_counter() - t0
        return summary

    def _plan(self, docs: Sequence[tuple[str, list[tuple[str, str, dict[str, Any]]]]]
              ) -> list[_Planned]:
        """Validate the incoming chunks and pair each with the stored chunk it replaces."""
        plan: list[_Planned] = []
        seen: set[str] = set()
        for doc_id, items in docs:
            for chunk_id, text, meta in items:
                if chunk_id in seen:
                    raise RetrievalError(
                        f"Chunk id {chunk_id!r} appears twice in one call; ids must be unique.")
                seen.add(chunk_id)
                if not isinstance(text, str):
                    raise RetrievalError(
                        f"Text of {chunk_id!r} must be a string, got {type(text).__name__}.")
                meta = jsonable_metadata(meta)
                meta.update(doc_id=doc_id, chunk_id=chunk_id)
                old = self._chunks.get(chunk_id)
                if old is not None and old.doc_id != doc_id:
                    raise RetrievalError(
                        f"Chunk id {chunk_id!r} already belongs to document {old.doc_id!r}; "
                        "use another id or delete that document first.")
                plan.append(_Planned(doc_id, chunk_id, text, meta, text_hash(text), old))
        return plan

    def _vector_sources(self, plan: list[_Planned], given: bool, summary: IngestSummary
                        ) -> tuple[list[_Source], list[int]]:
        """Where each chunk's vector comes from, counting added/updated/skipped chunks.

        Unchanged text keeps its vector; text already stored under another id reuses
        that vector; only new text is embedded, once per distinct text. Returns the
        sources and the plan rows to embed.
        """
        known: dict[str, int] = {c.hash: c.vid for c in self._chunks.values()}
        need: list[int] = []
        to_embed: dict[str, int] = {}
        sources: list[_Source] = []
        for row, p in enumerate(plan):
            if p.old is not None and p.old.hash == p.hash:
                sources.append(_Source("same", p.old.vid))
                if _same_meta(p.old.metadata, p.meta):
                    summary.skipped += 1
                else:
                    summary.updated += 1
                continue
            if p.old is None:
                summary.added += 1
            else:
                summary.updated += 1
            if given:
                sources.append(_Source("given", row))
            elif p.hash in known:
                sources.append(_Source("reuse", known[p.hash]))
            else:
                if p.hash not in to_embed:
                    to_embed[p.hash] = len(need)
                    need.append(row)
                sources.append(_Source("new", to_embed[p.hash]))
        return sources, need

    def _gather_vectors(self, sources: list[_Source], given: np.ndarray | None,
                        new_vectors: np.ndarray) -> list[np.ndarray | None]:
        """One vector per plan row (None for chunks whose text did not change)."""
        reuse = [s.ref for s in sources if s.kind == "reuse"]
        reused = dict(zip(reuse, self._vectors.reconstruct(reuse), strict=True)
                      ) if reuse and self._vectors is not None else {}
        pick = {"given": lambda r: given[r], "reuse": reused.__getitem__,  # type: ignore[index]
                "new": new_vectors.__getitem__, "same": lambda r: None}
        return [pick[s.kind](s.ref) for s in sources]

    def _apply(self, plan: list[_Planned], sources: list[_Source],
               vectors: list[np.ndarray | None]
               ) -> tuple[list[int], list[np.ndarray], list[int], bool]:
        """Update the chunk table; returns (new FAISS ids, their vectors, ids to remove,
        whether metadata of unchanged chunks was touched)."""
        add_ids: list[int] = []
        add_rows: list[np.ndarray] = []
        remove_vids: list[int] = []
        touched = False
        for p, src, vec in zip(plan, sources, vectors, strict=True):
            if src.kind == "same":
                assert p.old is not None
                touched = touched or p.old.metadata != p.meta
                p.old.metadata, p.old.text = p.meta, p.text
                continue
            vid = self._next_vid
            self._next_vid += 1
            add_ids.append(vid)
            add_rows.append(vec)  # type: ignore[arg-type]
            if p.old is not None:
                remove_vids.append(p.old.vid)
                self._by_vid.pop(p.old.vid, None)
            self._chunks[p.chunk_id] = Chunk(p.chunk_id, p.doc_id, p.text, p.meta, p.hash, vid)
            self._by_vid[vid] = p.chunk_id
            ids = self._docs.setdefault(p.doc_id, [])
            if p.chunk_id not in ids:
                ids.append(p.chunk_id)
        return add_ids, add_rows, remove_vids, touched

    def _drop_missing(self, docs: Sequence[tuple[str, list[tuple[str, str, dict[str, Any]]]]],
                      summary: IngestSummary) -> list[int]:
        """Delete each given document's stored chunks that the new version lacks."""
        removed: list[int] = []
        for doc_id, items in docs:
            keep = {cid for cid, _, _ in items}
            gone = [cid for cid in self._docs.get(doc_id, []) if cid not in keep]
            removed.extend(self._drop_chunks(gone))
            summary.deleted += len(gone)
        return removed

    def _write_vectors(self, add_ids: list[int], add_rows: list[np.ndarray],
                       remove_vids: list[int]) -> None:
        """Add new unit vectors to FAISS (creating it on the first) and remove old ones."""
        if add_rows:
            matrix = np.vstack(add_rows).astype(np.float32)
            if self._vectors is None:
                self._vectors = VectorIndex(matrix.shape[1], self.index_type,
                                            hnsw_threshold=self.hnsw_threshold)
            elif matrix.shape[1] != self._vectors.dimension:
                raise EmbedderMismatchError(
                    f"Vectors of dimension {matrix.shape[1]} cannot join an index of "
                    f"dimension {self._vectors.dimension}; use the index's embedder.",
                    path=self.path)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._vectors.add(np.asarray(add_ids, dtype=np.int64),
                              matrix / np.maximum(norms, 1e-12))
        if remove_vids and self._vectors is not None:
            self._vectors.remove(remove_vids)

    def _mark_changed(self, changed: bool, touched: bool) -> None:
        if changed or touched:
            self._dirty = True
        if changed:
            self._rows_dirty = self._bm25_dirty = True
        elif touched:
            self._rows_dirty = True  # metadata columns changed

    def _drop_chunks(self, chunk_ids: Iterable[str]) -> list[int]:
        """Forget chunks (caller holds the lock); returns their FAISS ids."""
        vids = []
        for cid in list(chunk_ids):
            c = self._chunks.pop(cid, None)
            if c is None:
                continue
            vids.append(c.vid)
            self._by_vid.pop(c.vid, None)
            ids = self._docs.get(c.doc_id)
            if ids is not None:
                ids.remove(cid)
                if not ids:
                    del self._docs[c.doc_id]
        return vids

    def add_texts(self, texts: Sequence[str], metadatas: Sequence[Mapping[str, Any]] | None = None,
                  ids: Sequence[str] | None = None, *, split: bool = False,
                  embeddings: Any = None, show_progress: bool = False) -> IngestSummary:
        """Add or update texts. Each text is a document; the same id replaces it.

        Args:
            texts: the texts.
            metadatas: one metadata dict per text (JSON-able values; others become str).
            ids: one id per text; default a content hash, so re-adding the same text
                is a no-op.
            split: chunk long texts (chunk ids ``"<id>#<n>"``); by default each text is
                one chunk with id ``<id>``.
            embeddings: precomputed vectors, one row per text (needs ``split=False``).
            show_progress: show a progress bar while embedding.
        """
        texts = list(texts)
        if isinstance(texts, str) or any(not isinstance(t, str) for t in texts):
            raise RetrievalError("add_texts expects a list of strings.")
        if metadatas is not None and len(metadatas) != len(texts):
            raise RetrievalError(f"Got {len(texts)} texts but {len(metadatas)} metadatas.")
        if ids is not None and len(ids) != len(texts):
            raise RetrievalError(f"Got {len(texts)} texts but {len(ids)} ids.")
        if embeddings is not None and split:
            raise RetrievalError("Precomputed embeddings need split=False (one row per text).")
        ids = [str(i) for i in ids] if ids is not None else ["txt-" + text_hash(t)[:16]
                                                              for t in texts]
        if len(set(ids)) != len(ids):
            raise RetrievalError("ids must be unique within one call.")
        docs = []
        for i, (doc_id, text) in enumerate(zip(ids, texts, strict=True)):
            meta = dict(metadatas[i]) if metadatas is not None and metadatas[i] else {}
            if split:
                parts = self.chunker.split(_section(text, meta))
                items = [(f"{doc_id}#{n}", t, m) for n, (t, m) in enumerate(parts)]
            else:
                items = [(doc_id, text, meta)]
            docs.append((doc_id, items))
        return self._upsert(docs, replace=True, embeddings=embeddings,
                            show_progress=show_progress)

    def add_documents(self, documents: Iterable[Any], *, split: bool = True,
                      show_progress: bool = False) -> IngestSummary:
        """Add LangChain ``Document`` objects (anything with ``page_content``/``metadata``).

        Document ids: ``doc.id`` when set, else ``metadata["source"]`` (plus
        ``page=N`` when the loader gives a page), else a content hash. Documents that
        share an id (e.g. pages from one loader call without page numbers) are joined.
        """
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for doc in documents:
            text = getattr(doc, "page_content", None)
            if not isinstance(text, str):
                raise RetrievalError(
                    f"add_documents expects LangChain Documents (with page_content), got "
                    f"{type(doc).__name__}.")
            meta = dict(getattr(doc, "metadata", None) or {})
            doc_id = getattr(doc, "id", None)
            if not doc_id:
                src = meta.get("source")
                if src is not None:
                    doc_id = str(src) + (f"#page={meta['page']}" if "page" in meta else "")
                else:
                    doc_id = "doc-" + text_hash(text)[:16]
            grouped.setdefault(str(doc_id), []).append((text, meta))
        docs = []
        for doc_id, parts in grouped.items():
            items: list[tuple[str, str, dict[str, Any]]] = []
            for text, meta in parts:
                pieces = self.chunker.split(_section(text, meta)) if split else [(text, meta)]
                for t, m in pieces:
                    n = len(items)
                    items.append((f"{doc_id}#{n}" if split or len(parts) > 1 else doc_id, t, m))
            docs.append((doc_id, items))
        return self._upsert(docs, replace=True, show_progress=show_progress)

    def ingest(self, paths: str | Path | Iterable[str | Path], *, sync: bool = True,
               show_progress: bool = False) -> IngestSummary:
        """Read files and folders (txt, md, html, pdf), chunk, embed what changed.

        A document's id is its path relative to the folder given (prefixed with the
        folder's name), or the file name for a file given directly; chunk ids are
        ``"<doc_id>#<n>"``. Unchanged files are skipped without being re-read by
        the splitter; changed ones only re-embed the chunks whose text changed.

        Args:
            paths: files and/or folders.
            sync: delete documents previously ingested from a given folder whose file
                no longer exists there.
            show_progress: progress bars (files, then embedding).
        """
        from ._ingest import ingest_paths

        return ingest_paths(self, paths, sync=sync, show_progress=show_progress)

    def delete(self, ids: str | Iterable[str] | None = None, *, source: str | Path | None = None,
               filters: Filters | None = None) -> int:
        """Delete chunks; returns how many were removed.

        Args:
            ids: chunk ids or document ids (a document id deletes all its chunks).
            source: a file path given to ``ingest``, or a folder: every document read
                from it is deleted.
            filters: delete every chunk whose metadata matches (see ``search``).
        """
        if ids is None and source is None and filters is None:
            raise RetrievalError("delete needs ids, source or filters; nothing was deleted.")
        targets: list[str] = []
        if ids is not None:
            for i in [ids] if isinstance(ids, str) else ids:
                if i in self._chunks:
                    targets.append(i)
                targets.extend(self._docs.get(i, []))
        if source is not None:
            src = str(Path(source).expanduser().resolve())
            for c in self._chunks.values():
                s = c.source
                if s is not None and (s == src or s.startswith(src.rstrip("/") + "/")):
                    targets.append(c.id)
        if filters is not None:
            pred = compile_filter(filters)
            targets.extend(c.id for c in self._chunks.values() if pred is None or pred(c.metadata))
        with self._lock:
            vids = self._drop_chunks(dict.fromkeys(targets))
            if vids:
                if self._vectors is not None:
                    self._vectors.remove(vids)
                self._dirty = True
                self._rows_dirty = self._bm25_dirty = True
        return len(vids)

    # -- search ------------------------------------------------------------------

    def _ensure_rows(self) -> None:
        with self._lock:
            if self._rows_dirty or len(self._rows) != len(self._chunks):
                self._rows = list(self._chunks)
                self._row_of = {cid: i for i, cid in enumerate(self._rows)}
                self._row_vids = np.fromiter((self._chunks[c].vid for c in self._rows),
                                             dtype=np.int64, count=len(self._rows))
                self._columns = {}
                self._rows_dirty = False
                self._bm25_dirty = True

    def _column(self, key: str) -> np.ndarray:
        """Values of one metadata key per row (object array; MISSING where absent)."""
        col = self._columns.get(key)
        if col is None:
            col = np.empty(len(self._rows), dtype=object)
            col[:] = [self._chunks[c].metadata.get(key, MISSING) for c in self._rows]
            self._columns[key] = col
        return col

    def _ensure_bm25(self) -> None:
        with self._lock:
            self._ensure_rows()
            if self._bm25_dirty or self._bm25.size != len(self._rows):
                self._bm25.build([self._chunks[c].text for c in self._rows])
                self._bm25_dirty = False

    def search(self, query: str, k: int = 5, *, filters: Filters | None = None,
               mode: SearchMode = "hybrid", candidates: int | None = None,
               query_vector: Any = None) -> list[SearchHit]:
        """The ``k`` best chunks for ``query``.

        Args:
            query: the question or keywords.
            k: number of hits.
            filters: metadata conditions, e.g. ``{"category": "pricing"}``,
                ``{"year": {"$gte": 2020}}``, ``{"lang": ["en", "de"]}`` (any of).
            mode: ``"hybrid"`` (reciprocal rank fusion of dense and BM25),
                ``"dense"`` or ``"bm25"``.
            candidates: depth of each list fused in hybrid mode (default ``max(2k, 50)``).
            query_vector: a precomputed query embedding (skips the embedder).
        """
        _check_query(query, k, mode)
        pred = compile_filter(filters)
        if not self._chunks or not query.strip():
            return []
        depth = k if mode != "hybrid" else (candidates or max(2 * k, 50))
        with self._lock:
            allowed: np.ndarray | None = None
            if pred is not None:
                self._ensure_rows()
                allowed = pred.mask(self._column, len(self._rows))
                if not allowed.any():
                    return []
            qvec = None
            dense: dict[str, float] = {}
            if mode in ("hybrid", "dense"):
                qvec = self._query_vector(query, query_vector)
                dense = self._dense_ranking(qvec, depth, allowed)
            bm25_all: np.ndarray | None = None
            lexical: list[str] = []
            if mode in ("hybrid", "bm25"):
                bm25_all, lexical = self._lexical_ranking(query, depth, allowed)
            ranked = _rank(mode, dense, lexical, bm25_all, self._row_of)[:k]
            if qvec is not None:
                self._fill_dense_scores(ranked, dense, qvec)
            return self._hits(ranked, dense if qvec is not None else None, bm25_all)

    def _dense_ranking(self, qvec: np.ndarray, depth: int, allowed: np.ndarray | None
                       ) -> dict[str, float]:
        """Chunk id -> cosine of the ``depth`` nearest allowed chunks, best first."""
        allowed_vids = None if allowed is None else self._row_vids[allowed]
        assert self._vectors is not None
        scores, vids = self._vectors.search(qvec, depth, allowed_vids)
        dense: dict[str, float] = {}
        for s, v in zip(scores, vids, strict=True):
            cid = self._by_vid.get(int(v))
            if cid is not None:
                dense[cid] = float(s)
        return dense

    def _lexical_ranking(self, query: str, depth: int, allowed: np.ndarray | None
                         ) -> tuple[np.ndarray, list[str]]:
        """BM25 score of every row, and the ids of the ``depth`` best allowed chunks."""
        self._ensure_bm25()
        mask = None if allowed is None else allowed.astype(np.float32)
        bm25_all = self._bm25.scores(query, mask)
        _, rows = self._bm25.search_scores(bm25_all, depth)
        return bm25_all, [self._rows[int(r)] for r in rows]

    def _fill_dense_scores(self, ranked: list[tuple[str, float]], dense: dict[str, float],
                           qvec: np.ndarray) -> None:
        """Cosine for hits that only BM25 found (the abstention threshold needs it)."""
        missing = [cid for cid, _ in ranked if cid not in dense]
        if missing and self._vectors is not None:
            vecs = self._vectors.reconstruct([self._chunks[c].vid for c in missing])
            dense.update(zip(missing, (vecs @ qvec).tolist(), strict=True))

    def _hits(self, ranked: list[tuple[str, float]], dense: dict[str, float] | None,
              bm25_all: np.ndarray | None) -> list[SearchHit]:
        hits = []
        for rank, (cid, score) in enumerate(ranked, start=1):
            c = self._chunks[cid]
            hits.append(SearchHit(
                id=cid, text=c.text, score=float(score), metadata=dict(c.metadata),
                doc_id=c.doc_id, rank=rank,
                dense_score=dense.get(cid) if dense is not None else None,
                bm25_score=(float(bm25_all[self._row_of[cid]])
                            if bm25_all is not None else None)))
        return hits

    def _query_vector(self, query: str, given: Any) -> np.ndarray:
        if given is not None:
            q = np.asarray(given, dtype=np.float32).reshape(-1)
        else:
            q = np.asarray(self.embedder.embed([query]), dtype=np.float32).reshape(-1)
        if self._vectors is not None and q.shape[0] != self._vectors.dimension:
            raise EmbedderMismatchError(
                f"The query vector has dimension {q.shape[0]}, the index {self._vectors.dimension}"
                "; query with the embedder the index was built with.", path=self.path)
        n = float(np.linalg.norm(q))
        return q / n if n > 0 else q

    # -- persistence -------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Path:
        """Write the index atomically; the previous snapshot stays loadable until done.

        Returns the snapshot folder written.
        """
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise RetrievalError("This index has no path; call save(path) with a folder.")
        with self._lock:
            self._ensure_bm25()
            chunks = [self._chunks[c] for c in self._rows]

            def write_files(tmp: Path) -> list[str]:
                names = []
                with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
                    fh.write(json.dumps({"format": "sapient-chunks", "version": 1}) + "\n")
                    for c in chunks:
                        fh.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
                    fh.flush()
                    _fsync(fh)
                names.append("chunks.jsonl")
                if self._vectors is not None:
                    self._vectors.write(tmp / "vectors.faiss")
                    names.append("vectors.faiss")
                names.extend(self._bm25.write(tmp))
                return names

            manifest = {
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "embedder": {"name": self._embedder_spec or _embedder_name(self._embedder),
                             "dimension": self.dimension},
                "index_type": self.index_type,
                "vector_index": self.vector_index_kind,
                "hnsw_threshold": self.hnsw_threshold,
                "chunking": self.chunker.config,
                "bm25": self._bm25.config,
                "counts": {"chunks": len(chunks), "documents": len(self._docs)},
                "next_vid": self._next_vid,
            }
            snap = _store.write_snapshot(target, write_files, manifest)
            self.path = target
            self._dirty = False
            return snap

    def __enter__(self) -> DocumentIndex:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Save on a clean exit when something changed; on an error, keep the old snapshot."""
        if exc_type is None and self._dirty and self.path is not None:
            self.save()

    def __repr__(self) -> str:
        return (f"DocumentIndex(path={str(self.path) if self.path else None!r}, "
                f"chunks={len(self._chunks)}, documents={len(self._docs)}, "
                f"vectors={self.vector_index_kind!r})")


def _check_query(query: Any, k: int, mode: str) -> None:
    if mode not in ("hybrid", "dense", "bm25"):
        raise RetrievalError(f"mode must be 'hybrid', 'dense' or 'bm25', got {mode!r}.")
    if not isinstance(query, str):
        raise RetrievalError(f"query must be a string, got {type(query).__name__}.")
    if k < 1:
        raise RetrievalError(f"k must be at least 1, got {k}.")


def _rank(mode: str, dense: dict[str, float], lexical: list[str], bm25_all: np.ndarray | None,
          row_of: dict[str, int]) -> list[tuple[str, float]]:
    """(chunk id, score) best first: cosine, BM25, or reciprocal rank fusion of both."""
    if mode == "dense":
        return list(dense.items())
    if mode == "bm25":
        assert bm25_all is not None
        return [(cid, float(bm25_all[row_of[cid]])) for cid in lexical]
    fused: dict[str, float] = {}
    for order in (list(dense), lexical):
        for rank, cid in enumerate(order, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


#: Bookkeeping keys whose change alone does not make a chunk "updated".
_BOOKKEEPING = ("file_sha256",)


def _same_meta(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k not in _BOOKKEEPING} == {
        k: v for k, v in b.items() if k not in _BOOKKEEPING}


def _section(text: str, meta: dict[str, Any]) -> Any:
    from ._loaders import Section

    src = str(meta.get("source", ""))
    return Section(text, meta, markdown=src.lower().endswith((".md", ".markdown")))


def _fsync(fh: Any) -> None:
    import os

    os.fsync(fh.fileno())
