"""DocumentIndex: hybrid (dense + BM25) search over chunks kept in a document store.

The index is the front door: it splits documents into chunks, hashes their text,
embeds only new text (unchanged chunks keep their vectors; text already stored
under another id reuses that vector) and hands chunks with vectors to a document
store (``sapient.connectors.docstore``): by default the FAISS + bm25s files of
``sapient.connectors.faiss``, or any registered store such as ``milvus:./docs.db``.
Queries are embedded here too, so every store of one index shares one model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sapient.connectors.docstore import (
    RRF_K,
    Chunk,
    EmbedderMismatchError,
    Filters,
    IngestSummary,
    RetrievalError,
    SearchHit,
    SearchMode,
    check_search,
    compile_filter,
    jsonable_metadata,
)
from sapient.connectors.faiss._store import FaissStore
from sapient.connectors.faiss._vectors import HNSW_THRESHOLD, IndexKind

from ._loaders import Chunker, text_hash
from ._stores import is_store_spec, open_store_spec

__all__ = ["DocumentIndex", "SearchMode", "RRF_K"]

EMBED_BATCH = 512
#: Stored chunks fetched per call when a write needs them (keeps each query bounded).
LOOKUP_BATCH = 1000
Docs = Sequence[tuple[str, list[tuple[str, str, dict[str, Any]]]]]


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
    """Where a chunk's vector comes from: ``same`` (text unchanged, keep the stored
    vector), ``reuse`` (the stored vector of the same text), ``new`` (row of the freshly embedded
    texts) or ``given`` (row of caller-supplied embeddings)."""

    kind: Literal["same", "reuse", "new", "given"]
    ref: Any


def _check_embeddings(embeddings: Any, n: int) -> np.ndarray | None:
    if embeddings is None:
        return None
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) != n:
        raise RetrievalError(f"embeddings must have one row per chunk ({n}), got shape "
                             f"{embeddings.shape}.")
    return embeddings


def _batched(items: Sequence[Any], size: int = LOOKUP_BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class DocumentIndex:
    """A searchable collection of text chunks: dense, lexical (BM25) and hybrid.

    Build one in memory with ``DocumentIndex(embedder)``, or on disk with
    :meth:`create` / :meth:`open`. Add content with :meth:`add_texts`,
    :meth:`add_documents` (LangChain ``Document`` objects) or :meth:`ingest` (files
    and folders); query with :meth:`search`; persist with :meth:`save`.

    Args:
        embedder: object with ``embed(list[str]) -> (n, d) float32`` unit rows and a
            ``name``, or a spec string such as ``"sentence-transformers:all-MiniLM-L6-v2"``;
            ``None`` builds the recorded or default one when first needed.
        store: the document store to keep chunks in (default: a FAISS store at ``path``).
        path: folder the default FAISS store saves to.
        index_type: FAISS kind: ``"auto"`` (exact below ``hnsw_threshold`` vectors,
            HNSW above), ``"flat"`` (always exact) or ``"hnsw"`` (always approximate).
        chunk_size, chunk_overlap: splitting of documents, in characters.
        settings: Sapient settings used to resolve a default embedder.
        hnsw_threshold: vector count at which ``auto`` switches to HNSW.
        host: the :class:`~sapient.Host` that resolves the embedder spec (its plugins
            and shared models apply); without one, the built-in embedder connectors
            build it.
    """

    def __init__(self, embedder: Any = None, *, store: Any = None,
                 path: str | Path | None = None, index_type: IndexKind = "auto",
                 chunk_size: int = 800, chunk_overlap: int = 100, settings: Any = None,
                 hnsw_threshold: int = HNSW_THRESHOLD, host: Any = None) -> None:
        self.store = store if store is not None else FaissStore(
            path, index_type=index_type, hnsw_threshold=hnsw_threshold)
        spec = embedder if isinstance(embedder, str) else None
        self._embedder = None if isinstance(embedder, str) else embedder
        self._embedder_spec: str | None = spec or _embedder_name(embedder)
        self._host = host
        self._settings = settings
        self.chunker = Chunker(chunk_size, chunk_overlap)
        self._lock = threading.RLock()

    # -- construction ------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, embedder: Any = None, *, overwrite: bool = False,
               settings: Any = None, host: Any = None, **options: Any) -> DocumentIndex:
        """A new, empty index in the folder (or store spec) ``path``.

        Raises ``RetrievalError`` if an index already exists there (unless
        ``overwrite`` on a folder: the next save then replaces it, atomically).
        """
        if is_store_spec(path, host):
            store = open_store_spec(str(path), settings, host)
            if store.exists:
                store.close()
                raise RetrievalError(
                    f"An index already exists in {store.spec}. Open it with "
                    "DocumentIndex.open(...), or choose another collection.")
            return cls(embedder, store=store, settings=settings, host=host, **options)
        path = Path(path).expanduser()
        store_opts = _store_options(options)
        store = FaissStore(path, **store_opts)
        if store.exists and not overwrite:
            raise RetrievalError(
                f"An index already exists at {path}. Open it with DocumentIndex.open(path), "
                "or pass overwrite=True to replace it on the next save.", path=path)
        if not overwrite:
            store._base = None  # a save refuses if another writer created it meanwhile
        return cls(embedder, store=store, settings=settings, host=host, **options)

    @staticmethod
    def lock(path: str | Path, *, wait: bool = True,
             on_wait: Callable[[], None] | None = None) -> Any:
        """The writer lock of the index folder ``path``, a context manager: hold it over
        a whole open-modify-save so two writers (processes or threads) take turns;
        ``sapient ingest`` does. With ``wait`` false a busy lock raises instead;
        ``on_wait`` is called once before waiting."""
        from sapient.connectors.faiss._snapshot import writer_lock

        return writer_lock(Path(path).expanduser(), wait=wait, on_wait=on_wait)

    @classmethod
    def open(cls, path: str | Path, embedder: Any = None, *, create: bool = False,
             settings: Any = None, host: Any = None, **options: Any) -> DocumentIndex:
        """Load the index saved in a folder, or kept in a store (``"milvus:./docs.db"``).

        Args:
            path: the index folder, or a document-store spec ``scheme:rest``.
            embedder: the embedder to query with; it must be the model the index was
                built with. ``None`` builds the recorded one (e.g.
                ``sentence-transformers:all-MiniLM-L6-v2``).
            create: return a new empty index when none exists yet.
            settings: settings used to build the recorded embedder.
            host: the host that builds it and resolves store schemes.
            options: ``index_type``, ``chunk_size``, ``chunk_overlap`` overrides.

        Raises:
            IndexNotFoundError: nothing saved there (and ``create`` is false).
            IndexCorruptError: a file is damaged; nothing was loaded.
            IndexFormatError: the folder is not a Sapient index, or a newer format.
            EmbedderMismatchError: ``embedder`` is not the model the index was built with.
        """
        if is_store_spec(path, host):
            store = open_store_spec(str(path), settings, host)
            if not store.exists and not create:
                store.close()
                from sapient.connectors.docstore import IndexNotFoundError

                raise IndexNotFoundError(
                    f"No document index in {store.spec}. Create one with `sapient ingest PATH "
                    "--store SPEC` or DocumentIndex.open(spec, create=True).")
        else:
            store = FaissStore.open(path, create=create, **_store_options(options))
        info = store.info()
        _check_recorded(info.get("embedder"), embedder, store.spec)
        chunking = info.get("chunking") or {}
        opts = {"chunk_size": chunking.get("chunk_size", 800),
                "chunk_overlap": chunking.get("chunk_overlap", 100)}
        opts.update({k: v for k, v in options.items() if v is not None})
        self = cls(embedder, store=store, settings=settings, host=host,
                   **{k: v for k, v in opts.items() if k in ("chunk_size", "chunk_overlap")})
        self._embedder_spec = info.get("embedder") or self._embedder_spec
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
    def path(self) -> Path | None:
        """The folder of a FAISS store (``None`` for other stores and in memory)."""
        return getattr(self.store, "path", None)

    @property
    def dimension(self) -> int | None:
        return self.store.info().get("dimension")

    @property
    def vector_index_kind(self) -> str | None:
        """FAISS only: ``"flat"`` or ``"hnsw"`` (``None`` while empty or another store)."""
        return getattr(self.store, "vector_index_kind", None)

    @property
    def modified(self) -> bool:
        """True when there are changes that :meth:`save` has not written yet."""
        return bool(self.store.modified)

    def __len__(self) -> int:
        return self.store.count()

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and bool(self.store.get([chunk_id]))

    def get(self, chunk_id: str) -> Chunk | None:
        """The stored chunk with this id, or None."""
        return self.store.get([chunk_id]).get(chunk_id)

    def chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """All chunks, or those of one document."""
        return self.store.query({} if doc_id is None else {"doc_id": {"$in": [doc_id]}})

    def documents(self) -> list[str]:
        """Ids of the stored documents."""
        ids = getattr(self.store, "document_ids", None)
        return ids() if ids is not None else list(dict.fromkeys(
            c.doc_id for c in self.store.query({})))

    def _stored_docs(self, doc_ids: Sequence[str]) -> dict[str, list[Chunk]]:
        """Stored chunks of the given documents, grouped by document id."""
        out: dict[str, list[Chunk]] = {}
        for part in _batched(list(dict.fromkeys(doc_ids))):
            for c in self.store.query({"doc_id": {"$in": list(part)}}):
                out.setdefault(c.doc_id, []).append(c)
        return out

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

    def _record_facts(self) -> None:
        name = self._embedder_spec or _embedder_name(self._embedder)
        self.store.set_info(embedder=name, chunking=self.chunker.config)

    def _upsert(self, docs: Docs, *, replace: bool, embeddings: np.ndarray | None = None,
                show_progress: bool = False) -> IngestSummary:
        """Insert or replace chunks, grouped by document.

        ``docs`` holds ``(doc_id, [(chunk_id, text, metadata), ...])``. With
        ``replace`` a document's old chunks missing from the new list are deleted.
        ``embeddings`` (one row per chunk, in order) skips the embedder. Steps: plan
        what each chunk needs, find or compute its vector, write to the store.
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
            self._record_facts()
            self._write(plan, sources, self._gather_vectors(sources, given, new_vectors))
            if replace:
                summary.deleted += self._drop_missing(docs)
        summary.seconds = time.perf_counter() - t0
        return summary

    def _plan(self, docs: Docs) -> list[_Planned]:
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
                plan.append(_Planned(doc_id, chunk_id, text, meta, text_hash(text), None))
        stored: dict[str, Chunk] = {}
        for part in _batched([p.chunk_id for p in plan]):
            stored.update(self.store.get(list(part)))
        for p in plan:
            p.old = stored.get(p.chunk_id)
            if p.old is not None and p.old.doc_id != p.doc_id:
                raise RetrievalError(
                    f"Chunk id {p.chunk_id!r} already belongs to document {p.old.doc_id!r}; "
                    "use another id or delete that document first.")
        return plan

    def _vector_sources(self, plan: list[_Planned], given: bool, summary: IngestSummary
                        ) -> tuple[list[_Source], list[int]]:
        """Where each chunk's vector comes from, counting added/updated/skipped chunks.

        Unchanged text keeps its vector; text already stored under another id reuses
        that vector; only new text is embedded, once per distinct text. Returns the
        sources and the plan rows to embed.
        """
        changed = [p.hash for p in plan if p.old is None or p.old.hash != p.hash]
        known: dict[str, Any] = {}
        if changed and not given:
            for part in _batched(changed):
                known.update(self.store.vectors_for_hashes(list(part)))
        need: list[int] = []
        to_embed: dict[str, int] = {}
        sources: list[_Source] = []
        for row, p in enumerate(plan):
            if p.old is not None and p.old.hash == p.hash:
                sources.append(_Source("same", None))
                if _same_meta(p.old.metadata, p.meta):
                    summary.skipped += 1
                else:
                    summary.updated += 1
                continue
            summary.added += p.old is None
            summary.updated += p.old is not None
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
        pick = {"given": lambda r: given[r], "reuse": lambda v: v,  # type: ignore[index]
                "new": new_vectors.__getitem__, "same": lambda r: None}
        return [pick[s.kind](s.ref) for s in sources]

    def _write(self, plan: list[_Planned], sources: list[_Source],
               vectors: list[np.ndarray | None]) -> None:
        """New and changed chunks go to the store with their vectors; chunks whose text
        did not change only get their metadata refreshed."""
        fresh: list[Chunk] = []
        rows: list[np.ndarray] = []
        touched: list[Chunk] = []
        for p, src, vec in zip(plan, sources, vectors, strict=True):
            chunk = Chunk(p.chunk_id, p.doc_id, p.text, p.meta, p.hash)
            if src.kind == "same":
                assert p.old is not None
                if p.old.metadata != p.meta:
                    touched.append(chunk)
                continue
            fresh.append(chunk)
            rows.append(vec)  # type: ignore[arg-type]
        if fresh:
            self.store.upsert(fresh, np.vstack(rows).astype(np.float32))
        if touched:
            self.store.update_metadata(touched)

    def _drop_missing(self, docs: Docs) -> int:
        """Delete each given document's stored chunks that the new version lacks."""
        keep = {cid for _, items in docs for cid, _, _ in items}
        stored = self._stored_docs([doc_id for doc_id, _ in docs])
        gone = [c.id for chunks in stored.values() for c in chunks if c.id not in keep]
        return self.store.delete(gone) if gone else 0

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
        compile_filter(filters)  # a malformed filter fails before anything is deleted
        targets: list[str] = []
        if ids is not None:
            ids = [ids] if isinstance(ids, str) else list(ids)
            targets.extend(self.store.get(ids))
            targets.extend(c.id for chunks in self._stored_docs(ids).values() for c in chunks)
        if source is not None:
            src = str(Path(source).expanduser().resolve())
            targets.extend(c.id for c in self.store.query({"source": src}))
            targets.extend(c.id for c in self.store.query(
                {"source": {"$prefix": src.rstrip("/") + "/"}}))
        if filters:
            targets.extend(c.id for c in self.store.query(filters))
        elif filters is not None:  # an empty filter matches everything
            targets.extend(c.id for c in self.store.query({}))
        with self._lock:
            return self.store.delete(list(dict.fromkeys(targets))) if targets else 0

    # -- search ------------------------------------------------------------------

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
        check_search(query, k, mode)
        compile_filter(filters)
        if not query.strip() or self.store.count() == 0:
            return []
        vector = None
        if mode != "bm25" or query_vector is not None:
            vector = self._query_vector(query, query_vector)
        return self.store.search(query, vector, k, mode=mode, filters=filters,
                                 candidates=candidates)

    def _query_vector(self, query: str, given: Any) -> np.ndarray:
        if given is not None:
            q = np.asarray(given, dtype=np.float32).reshape(-1)
        else:
            q = np.asarray(self.embedder.embed([query]), dtype=np.float32).reshape(-1)
        dim = self.dimension
        if dim is not None and q.shape[0] != dim:
            raise EmbedderMismatchError(
                f"The query vector has dimension {q.shape[0]}, the index {dim}; query with "
                "the embedder the index was built with.", path=self.path)
        n = float(np.linalg.norm(q))
        return q / n if n > 0 else q

    # -- persistence -------------------------------------------------------------

    def save(self, path: str | Path | None = None) -> Any:
        """Make every change durable.

        For the FAISS store: write a snapshot atomically (the previous one stays
        loadable until done) into ``path`` or the index folder, and return its folder.
        Other stores flush their writes (``path`` must be None).
        """
        with self._lock:
            self._record_facts()
            if path is not None:
                if not isinstance(self.store, FaissStore):
                    raise RetrievalError(
                        f"save(path) writes FAISS files; the store {self.store.spec} keeps its "
                        "data itself. Call save() without a path, or copy the store with "
                        "`sapient index copy`.")
                return self.store.flush(path)
            return self.store.flush()

    def close(self) -> None:
        """Release the store's files or connection (unsaved changes are not written)."""
        self.store.close()

    def __enter__(self) -> DocumentIndex:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Save on a clean exit when something changed; on an error, keep the old snapshot."""
        if exc_type is None and self.modified and (
                self.path is not None or not isinstance(self.store, FaissStore)):
            self.save()

    def __repr__(self) -> str:
        return (f"DocumentIndex(store={self.store.spec!r}, chunks={len(self)}, "
                f"vectors={self.vector_index_kind!r})")


def _store_options(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the FAISS options out of ``options`` (the rest configure the index)."""
    return {k: options.pop(k) for k in ("index_type", "hnsw_threshold")
            if options.get(k) is not None}


def _check_recorded(recorded: str | None, embedder: Any, where: str) -> None:
    given = embedder if isinstance(embedder, str) else _embedder_name(embedder)
    if recorded and given and given != recorded:
        raise EmbedderMismatchError(
            f"The index in {where} was built with embedder '{recorded}', but '{given}' was "
            "given. Open it with the same model (or none, to use the recorded one), or "
            "rebuild the index with the new model.")


#: Bookkeeping keys whose change alone does not make a chunk "updated".
_BOOKKEEPING = ("file_sha256",)


def _same_meta(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k not in _BOOKKEEPING} == {
        k: v for k, v in b.items() if k not in _BOOKKEEPING}


def _section(text: str, meta: dict[str, Any]) -> Any:
    from ._loaders import Section

    src = str(meta.get("source", ""))
    return Section(text, meta, markdown=src.lower().endswith((".md", ".markdown")))
