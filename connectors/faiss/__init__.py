"""The default document store: FAISS vectors + bm25s keyword index, files on disk.

``faiss:PATH`` opens (or starts) the store in the folder ``PATH``. Exact search
below 50k vectors, HNSW above (``_vectors``); BM25 over the same texts (``_bm25``);
crash-safe, checksummed snapshots without pickle (``_snapshot``). Needs
``pip install 'sapient[retrieval]'`` (faiss-cpu, bm25s, PyStemmer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sapient.core._lazy import lazy_exports

if TYPE_CHECKING:
    from ._store import FaissStore

__all__ = ["FaissStore", "open_store"]

__getattr__, __dir__ = lazy_exports(__name__, {"FaissStore": "._store"})


def open_store(rest: str, settings: Any = None) -> Any:
    """Factory of the ``faiss`` scheme: the store in folder ``rest`` (empty if new).

    A relative folder is taken from the working directory; ``faiss:`` alone is an
    in-memory store.
    """
    from ._store import FaissStore

    return FaissStore.open(rest, create=True) if rest else FaissStore()
