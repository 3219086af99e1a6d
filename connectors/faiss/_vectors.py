"""The dense half of the index: FAISS with an id map, exact or HNSW.

Every chunk owns a FAISS id (``int64``) that is never reused, so an updated chunk
gets a fresh id and a deleted one can never be confused with a new one.

* ``flat`` (``IndexFlatIP`` inside ``IndexIDMap2``): exact inner-product search; rows
  are unit vectors, so scores are cosine similarities. Deletes remove rows.
* ``hnsw`` (``IndexHNSWFlat``, inner product): approximate, much faster on large
  collections. HNSW cannot remove points, so deleted ids become *tombstones* that
  every search excludes through an ``IDSelector``; when tombstones pass
  ``REBUILD_FRACTION`` of the graph it is rebuilt from the live vectors (which HNSW
  keeps in its flat storage, so no second copy is needed).

``auto`` picks ``flat`` below ``HNSW_THRESHOLD`` live vectors (50k: exact search over
50k 384-d vectors takes a few milliseconds per query on one core) and switches to
HNSW (one rebuild) when the collection grows past it. Building the graph costs
about as much as embedding a few percent of the texts, so it pays off quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["VectorIndex", "IndexKind", "make_faiss_index", "HNSW_THRESHOLD"]

IndexKind = Literal["auto", "flat", "hnsw"]

#: Live vectors from which ``auto`` switches from exact search to HNSW.
HNSW_THRESHOLD = 50_000
#: HNSW graph parameters: M links per node, construction and search beam widths.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 96
#: Fraction of tombstoned points after which an HNSW graph is rebuilt.
REBUILD_FRACTION = 0.25


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(
            "Document search needs faiss-cpu. Install it with: pip install 'sapient[retrieval]'"
        ) from exc
    return faiss


def make_faiss_index(kind: Literal["flat", "hnsw"], dimension: int, *, m: int = HNSW_M,
                     ef_construction: int = HNSW_EF_CONSTRUCTION) -> Any:
    """A fresh, empty FAISS index of the given kind wrapped in an ``IndexIDMap2``."""
    faiss = _faiss()
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = ef_construction
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return faiss.IndexIDMap2(inner)


def _kind_of(index: Any) -> Literal["flat", "hnsw"]:
    faiss = _faiss()
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    raise TypeError(f"unsupported FAISS index type {type(inner).__name__}")


class VectorIndex:
    """FAISS index + tombstones + automatic choice between exact and HNSW search."""

    def __init__(self, dimension: int, kind: IndexKind = "auto", *,
                 hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        if kind not in ("auto", "flat", "hnsw"):
            raise ValueError(f"index_type must be 'auto', 'flat' or 'hnsw', got {kind!r}")
        self.dimension = int(dimension)
        self.requested: IndexKind = kind
        self.hnsw_threshold = hnsw_threshold
        self.index = make_faiss_index("hnsw" if kind == "hnsw" else "flat", self.dimension)
        self.tombstones: set[int] = set()

    # -- facts -------------------------------------------------------------------

    @property
    def kind(self) -> Literal["flat", "hnsw"]:
        return _kind_of(self.index)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.ntotal - len(self.tombstones)

    def all_ids(self) -> np.ndarray:
        return _faiss().vector_to_array(self.index.id_map).astype(np.int64)

    # -- changes -----------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(
                f"vectors must have shape (n, {self.dimension}), got {vectors.shape}"
            )
        self.index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        if self.requested == "auto" and self.kind == "flat" and len(self) >= self.hnsw_threshold:
            self.rebuild("hnsw")

    def remove(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        if self.kind == "flat":
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
            return
        self.tombstones.update(ids)
        if len(self.tombstones) > REBUILD_FRACTION * max(self.ntotal, 1):
            self.rebuild()

    def reconstruct(self, ids: Iterable[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for row, i in enumerate(ids):
            out[row] = self.index.reconstruct(i)
        return out

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every live point, in storage order."""
        ids = self.all_ids()
        vectors = self.index.index.reconstruct_n(0, self.ntotal) if self.ntotal else np.zeros(
            (0, self.dimension), dtype=np.float32)
        if self.tombstones:
            keep = ~np.isin(ids, np.fromiter(self.tombstones, dtype=np.int64))
            ids, vectors = ids[keep], vectors[keep]
        return ids, np.ascontiguousarray(vectors, dtype=np.float32)

    def rebuild(self, kind: Literal["flat", "hnsw"] | None = None) -> None:
        """Rebuild from the live vectors (drops tombstones; may change the kind)."""
        ids, vectors = self.live_vectors()
        fresh = make_faiss_index(kind or self.kind, self.dimension)
        if len(ids):
            fresh.add_with_ids(vectors, ids)
        self.index = fresh
        self.tombstones = set()

    # -- search ------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (scores, ids) for one query vector; ``allowed`` limits the ids."""
        faiss = _faiss()
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        live = len(self)
        if live == 0 or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            if self.kind == "hnsw" and len(allowed) <= max(2_000, live // 20):
                # A selective filter starves the HNSW walk: score the few allowed exactly.
                vecs = self.reconstruct(allowed)
                scores = vecs @ q[0]
                top = np.argsort(-scores)[:k]
                return scores[top].astype(np.float32), allowed[top]
            sel = faiss.IDSelectorBatch(allowed)
        elif self.tombstones:
            sel = faiss.IDSelectorNot(
                faiss.IDSelectorBatch(np.fromiter(self.tombstones, dtype=np.int64)))
        else:
            sel = None
        k = min(k, live)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(ef_search or HNSW_EF_SEARCH, k))
            if sel is not None:
                params.sel = sel
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
        scores, ids = self.index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # -- persistence -------------------------------------------------------------

    def write(self, path: Path) -> None:
        """Write with ``faiss.write_index`` (no pickle) and fsync the file."""
        _faiss().write_index(self.index, str(path))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @classmethod
    def read(cls, path: Path, kind: IndexKind, live_ids: np.ndarray, *,
             hnsw_threshold: int = HNSW_THRESHOLD) -> VectorIndex:
        """Read an index written by :meth:`write`; ids not in ``live_ids`` become tombstones."""
        faiss = _faiss()
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise TypeError(f"expected an IndexIDMap2, found {type(index).__name__}")
        self = cls.__new__(cls)
        self.dimension = int(index.d)
        self.requested = kind
        self.hnsw_threshold = hnsw_threshold
        self.index = index
        _kind_of(index)
        stored = self.all_ids()
        missing = np.setdiff1d(live_ids, stored)
        if len(missing):
            raise ValueError(f"{len(missing)} chunk vectors are missing from the FAISS file")
        dead = np.setdiff1d(stored, live_ids)
        self.tombstones = {int(i) for i in dead}
        if self.tombstones and self.kind == "flat":
            self.index.remove_ids(dead)
            self.tombstones = set()
        return self
