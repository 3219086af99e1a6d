"""FaissStore: chunks in memory, vectors in FAISS, words in BM25, atomic snapshots on disk.

The chunk table (texts, metadata, content hashes) lives in memory, dense vectors in
FAISS and a BM25 model is built from the same texts. Vector changes are incremental;
BM25 is rebuilt lazily on the next keyword search or flush (bm25s has no incremental
update, and a rebuild is fast). ``flush()`` writes an atomic snapshot (``_snapshot``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sapient.connectors.docstore import (
    MISSING,
    RRF_K,
    Chunk,
    EmbedderMismatchError,
    IndexCorruptError,
    IndexFormatError,
    RetrievalError,
    SearchHit,
    SearchMode,
    StoreBase,
    check_search,
    compile_filter,
)

from . import _snapshot
from ._bm25 import BM25Index
from ._vectors import HNSW_THRESHOLD, IndexKind, VectorIndex

__all__ = ["FaissStore"]


class FaissStore(StoreBase):
    """The default document store: FAISS (exact or HNSW) + bm25s, files on disk.

    Args:
        path: folder the store saves to (``None``: in memory until ``flush(path)``).
        index_type: ``"auto"`` (exact below ``hnsw_threshold`` vectors, HNSW above),
            ``"flat"`` (always exact) or ``"hnsw"`` (always approximate).
        hnsw_threshold: vector count at which ``auto`` switches to HNSW.
    """

    def __init__(self, path: str | Path | None = None, *, index_type: IndexKind = "auto",
                 hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        if index_type not in ("auto", "flat", "hnsw"):
            raise RetrievalError(
                f"index_type must be 'auto', 'flat' or 'hnsw', got {index_type!r}.")
        self.path = Path(path).expanduser() if path is not None else None
        self.index_type: IndexKind = index_type
        self.hnsw_threshold = hnsw_threshold
        self._chunks: dict[str, Chunk] = {}
        self._docs: dict[str, list[str]] = {}
        self._by_vid: dict[int, str] = {}
        self._by_hash: dict[str, int] = {}
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
        self._info: dict[str, Any] = {}
        self._saved = False
        # What CURRENT named when this state was loaded (None: a new index), so a flush
        # never overwrites what another process committed in between.
        self._base: Any = _snapshot.ANY
        self._dirty = False
        self._lock = threading.RLock()

    @property
    def spec(self) -> str:
        return f"faiss:{self.path}" if self.path is not None else "faiss:"

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True, **options: Any) -> FaissStore:
        """The store saved at ``path``; an empty one there when none is (``create``).

        Raises ``IndexNotFoundError`` (nothing saved, ``create`` false),
        ``IndexCorruptError`` or ``IndexFormatError``; nothing half-loaded is returned.
        """
        path = Path(path).expanduser()
        if create and not _snapshot.exists(path):
            new = cls(path, **options)
            new._base = None
            return new
        base = _snapshot.pointer(path)
        snap_dir, manifest = _snapshot.read_snapshot(path)
        try:
            store = cls._from_snapshot(path, snap_dir, manifest, options)
            store._base = base
            return store
        except (RetrievalError, MemoryError):
            raise
        except Exception as exc:  # any parse failure of a checksummed file
            raise IndexCorruptError(
                f"The index at {path} could not be read ({type(exc).__name__}: {exc}). "
                "Rebuild it with `sapient ingest`.", path=path) from exc

    @classmethod
    def _from_snapshot(cls, path: Path, snap_dir: Path, manifest: dict[str, Any],
                       options: dict[str, Any]) -> FaissStore:
        opts = {"index_type": manifest.get("index_type", "auto"),
                "hnsw_threshold": manifest.get("hnsw_threshold", HNSW_THRESHOLD)}
        opts.update({k: v for k, v in options.items() if v is not None})
        self = cls(path, **opts)
        emb = manifest.get("embedder") or {}
        self._info = {"embedder": emb.get("name"), "dimension": emb.get("dimension"),
                      "chunking": manifest.get("chunking") or {}}
        chunks = _read_chunks(snap_dir, path)
        counts = manifest.get("counts") or {}
        if len(chunks) != counts.get("chunks"):
            raise IndexCorruptError(f"The chunk table at {snap_dir} holds {len(chunks)} chunks, "
                                    f"the manifest says {counts.get('chunks')}.", path=path)
        for c in chunks.values():
            self._remember(c)
        self._next_vid = int(manifest.get("next_vid", 0))
        live = np.fromiter((c.vid for c in chunks.values()), dtype=np.int64, count=len(chunks))
        if (snap_dir / "vectors.faiss").exists():
            self._vectors = VectorIndex.read(snap_dir / "vectors.faiss", self.index_type, live,
                                             hnsw_threshold=self.hnsw_threshold)
            if emb.get("dimension") not in (None, self._vectors.dimension):
                raise IndexCorruptError("Vector dimension differs from the manifest.", path=path)
        elif chunks:
            raise IndexCorruptError(f"{snap_dir} has chunks but no vectors file.", path=path)
        self._bm25 = BM25Index.read(snap_dir, manifest.get("bm25") or {}, len(chunks))
        self._rows_dirty = True
        self._ensure_rows()
        self._saved = True
        return self

    # -- facts -------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self._saved or (self.path is not None and _snapshot.exists(self.path))

    @property
    def modified(self) -> bool:
        return self._dirty

    @property
    def dimension(self) -> int | None:
        return self._vectors.dimension if self._vectors is not None else None

    @property
    def vector_index_kind(self) -> str | None:
        """``"flat"`` or ``"hnsw"``: what FAISS uses now (``None`` while empty)."""
        return self._vectors.kind if self._vectors is not None else None

    def info(self) -> dict[str, Any]:
        return {**self._info, "dimension": self.dimension or self._info.get("dimension")}

    def set_info(self, **facts: Any) -> None:
        if any(self._info.get(k) != v for k, v in facts.items()):
            self._info.update(facts)
            self._dirty = True

    def count(self) -> int:
        return len(self._chunks)

    def document_ids(self) -> list[str]:
        return list(self._docs)

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: self._chunks[i] for i in ids if i in self._chunks}

    def query(self, filters: Mapping[str, Any]) -> list[Chunk]:
        with self._lock:
            docs = filters.get("doc_id") if len(filters) == 1 else None
            if isinstance(docs, Mapping) and set(docs) == {"$in"}:  # the common lookup
                return [self._chunks[i] for d in docs["$in"] for i in self._docs.get(d, [])]
            pred = compile_filter(filters)
            return [c for c in self._chunks.values() if pred is None or pred(c.metadata)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            have = [i for i in ids if i in self._chunks]
            if not have or self._vectors is None:
                return {}
            rows = self._vectors.reconstruct([self._chunks[i].vid for i in have])
            return dict(zip(have, rows, strict=True))

    def vectors_for_hashes(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {h: self._by_hash[h] for h in dict.fromkeys(hashes) if h in self._by_hash}
            if not found or self._vectors is None:
                return {}
            return dict(zip(found, self._vectors.reconstruct(list(found.values())), strict=True))

    def version(self) -> Any:
        """The saved snapshot's pointer (changes on every save by any process)."""
        if self.path is None:
            return None
        cur = self.path / _snapshot.CURRENT
        try:
            st = os.stat(cur)
            return (st.st_mtime_ns, st.st_size, cur.read_text(encoding="utf-8"))
        except OSError:
            return None

    # -- writing -----------------------------------------------------------------

    def _remember(self, c: Chunk) -> None:
        self._chunks[c.id] = c
        self._by_vid[c.vid] = c.id
        self._by_hash[c.hash] = c.vid
        ids = self._docs.setdefault(c.doc_id, [])
        if c.id not in ids:
            ids.append(c.id)

    def upsert(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        if not chunks:
            return
        matrix = _unit_rows(vectors, len(chunks))
        with self._lock:
            if self._vectors is None:
                self._vectors = VectorIndex(matrix.shape[1], self.index_type,
                                            hnsw_threshold=self.hnsw_threshold)
            elif matrix.shape[1] != self._vectors.dimension:
                raise EmbedderMismatchError(
                    f"Vectors of dimension {matrix.shape[1]} cannot join an index of "
                    f"dimension {self._vectors.dimension}; use the index's embedder.",
                    path=self.path)
            old_vids = [c.vid for c in self._forget([c.id for c in chunks])]
            vids = np.arange(self._next_vid, self._next_vid + len(chunks), dtype=np.int64)
            self._next_vid += len(chunks)
            for c, vid in zip(chunks, vids.tolist(), strict=True):
                self._remember(Chunk(c.id, c.doc_id, c.text, dict(c.metadata), c.hash, vid))
            self._vectors.add(vids, matrix)
            if old_vids:
                self._vectors.remove(old_vids)
            self._changed(texts=True)

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            touched = False
            for c in chunks:
                old = self._chunks.get(c.id)
                if old is not None and old.metadata != c.metadata:
                    old.metadata = dict(c.metadata)
                    touched = True
            if touched:
                self._changed(texts=False)

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            gone = self._forget(ids)
            if gone:
                if self._vectors is not None:
                    self._vectors.remove([c.vid for c in gone])
                self._changed(texts=True)
            return len(gone)

    def _forget(self, ids: Iterable[str]) -> list[Chunk]:
        """Drop chunks from the table (caller holds the lock); returns those that existed."""
        gone = []
        for cid in dict.fromkeys(ids):
            c = self._chunks.pop(cid, None)
            if c is None:
                continue
            gone.append(c)
            self._by_vid.pop(c.vid, None)
            if self._by_hash.get(c.hash) == c.vid:
                del self._by_hash[c.hash]
            members = self._docs.get(c.doc_id)
            if members is not None:
                members.remove(cid)
                if not members:
                    del self._docs[c.doc_id]
        return gone

    def _changed(self, *, texts: bool) -> None:
        self._dirty = True
        self._rows_dirty = True  # metadata columns (and row order) changed
        if texts:
            self._bm25_dirty = True

    # -- search ------------------------------------------------------------------

    def _ensure_rows(self) -> None:
        with self._lock:
            if self._rows_dirty or len(self._rows) != len(self._chunks):
                rows = list(self._chunks)
                if rows != self._rows:
                    self._bm25_dirty = True
                self._rows = rows
                self._row_of = {cid: i for i, cid in enumerate(self._rows)}
                self._row_vids = np.fromiter((self._chunks[c].vid for c in self._rows),
                                             dtype=np.int64, count=len(self._rows))
                self._columns = {}
                self._rows_dirty = False

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

    def search(self, query: str, vector: Any, k: int, *, mode: SearchMode = "hybrid",
               filters: Mapping[str, Any] | None = None,
               candidates: int | None = None) -> list[SearchHit]:
        check_search(query, k, mode)
        pred = compile_filter(filters)
        if not self._chunks or not query.strip():
            return []
        qvec = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(-1)
        if qvec is None and mode != "bm25":
            raise RetrievalError(f"A {mode} search needs the query vector.")
        depth = k if mode != "hybrid" else (candidates or max(2 * k, 50))
        with self._lock:
            allowed: np.ndarray | None = None
            if pred is not None:
                self._ensure_rows()
                allowed = pred.mask(self._column, len(self._rows))
                if not allowed.any():
                    return []
            dense: dict[str, float] = {}
            if mode != "bm25":
                assert qvec is not None
                dense = self._dense_ranking(qvec, depth, allowed)
            bm25_all: np.ndarray | None = None
            lexical: list[str] = []
            if mode != "dense":
                bm25_all, lexical = self._lexical_ranking(query, depth, allowed)
            ranked = _rank(mode, dense, lexical, bm25_all, self._row_of)[:k]
            if qvec is not None:
                self._fill_dense_scores(ranked, dense, qvec)
            return self._hits(ranked, dense if qvec is not None else None, bm25_all)

    def _dense_ranking(self, qvec: np.ndarray, depth: int, allowed: np.ndarray | None
                       ) -> dict[str, float]:
        """Chunk id -> cosine of the ``depth`` nearest allowed chunks, best first."""
        if self._vectors is None:
            return {}
        if qvec.shape[0] != self._vectors.dimension:
            raise EmbedderMismatchError(
                f"The query vector has dimension {qvec.shape[0]}, the index "
                f"{self._vectors.dimension}; query with the embedder the index was built with.",
                path=self.path)
        self._ensure_rows()
        allowed_vids = None if allowed is None else self._row_vids[allowed]
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
        if missing and self._vectors is not None and qvec.shape[0] == self._vectors.dimension:
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

    # -- copying and persistence -------------------------------------------------

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        with self._lock:
            chunks = list(self._chunks.values())
        for i in range(0, len(chunks), batch_size):
            part = chunks[i:i + batch_size]
            assert self._vectors is not None
            yield part, self._vectors.reconstruct([c.vid for c in part])

    def flush(self, path: str | Path | None = None) -> Path:
        """Write a snapshot atomically; the previous one stays loadable until done.

        Returns the snapshot folder written.
        """
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise RetrievalError("This index has no path; call save(path) with a folder.")
        with self._lock:
            self._ensure_bm25()
            chunks = [self._chunks[c] for c in self._rows]
            same = self.path is not None and target.resolve() == self.path.resolve()
            snap = _snapshot.write_snapshot(target, lambda tmp: self._write_files(tmp, chunks),
                                            self._manifest(len(chunks)),
                                            base=self._base if same else _snapshot.ANY)
            self.path, self._base = target, snap.name
            self._dirty = False
            self._saved = True
            return snap

    def _write_files(self, tmp: Path, chunks: list[Chunk]) -> list[str]:
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"format": "sapient-chunks", "version": 1}) + "\n")
            for c in chunks:
                fh.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        names = ["chunks.jsonl"]
        if self._vectors is not None:
            self._vectors.write(tmp / "vectors.faiss")
            names.append("vectors.faiss")
        names.extend(self._bm25.write(tmp))
        return names

    def _manifest(self, n_chunks: int) -> dict[str, Any]:
        return {
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "embedder": {"name": self._info.get("embedder"), "dimension": self.dimension},
            "index_type": self.index_type,
            "vector_index": self.vector_index_kind,
            "hnsw_threshold": self.hnsw_threshold,
            "chunking": self._info.get("chunking") or {},
            "bm25": self._bm25.config,
            "counts": {"chunks": n_chunks, "documents": len(self._docs)},
            "next_vid": self._next_vid,
        }

    def close(self) -> None:
        """Nothing to release: the store is files plus memory."""

    def __repr__(self) -> str:
        return f"FaissStore({self.spec!r}, chunks={len(self._chunks)})"


def _read_chunks(snap_dir: Path, path: Path) -> dict[str, Chunk]:
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
    return chunks


def _unit_rows(vectors: Any, n: int) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or len(matrix) != n:
        raise RetrievalError(f"Expected one vector per chunk ({n}), got shape {matrix.shape}.")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.maximum(norms, 1e-12))


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
