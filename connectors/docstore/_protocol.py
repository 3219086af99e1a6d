"""The document-store protocol: what a place that keeps chunks, vectors and words offers.

A store keeps chunks (id, document id, text, metadata, content hash) with one unit
vector each, and answers dense, keyword (BM25) and hybrid searches with metadata
filters. It does not embed: the caller (``DocumentIndex``) turns texts and queries
into vectors, so every store of one index shares one embedding model. Stores are
registered by scheme through the ``register_document_stores`` hook and opened with
``host.document_store("faiss:PATH")`` or ``host.document_store("milvus:./docs.db")``.

Every built-in store passes the same contract tests (``tests/stores``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from ._errors import RetrievalError
from ._types import Chunk, SearchHit

__all__ = ["DocumentStore", "SearchMode", "RRF_K", "StoreBase", "check_search"]

SearchMode = Literal["hybrid", "dense", "bm25"]
#: The constant of reciprocal rank fusion: score = sum over lists of 1 / (RRF_K + rank).
RRF_K = 60


@runtime_checkable
class DocumentStore(Protocol):
    """Chunks with vectors, searchable by meaning, by words and by both.

    Attributes:
        spec: how to reopen the store (``faiss:/path``, ``milvus:./docs.db?collection=x``);
            never holds a secret, so it may be printed.
    """

    spec: str

    @property
    def exists(self) -> bool:
        """Whether the store holds a saved index (an empty new one does not)."""

    @property
    def modified(self) -> bool:
        """Whether changes await :meth:`flush` to become durable."""

    def info(self) -> dict[str, Any]:
        """Facts recorded with the index: ``embedder`` (name), ``dimension``, ``chunking``."""

    def set_info(self, **facts: Any) -> None:
        """Record facts (kept with the data on the next flush)."""

    def count(self) -> int:
        """Number of chunks stored."""

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks among ``ids`` (absent ids are left out)."""

    def query(self, filters: Mapping[str, Any]) -> list[Chunk]:
        """Every chunk whose metadata matches ``filters`` (see ``compile_filter``)."""

    def vectors(self, ids: Sequence[str]) -> dict[str, Any]:
        """Chunk id -> stored unit vector, for the ids present."""

    def vectors_for_hashes(self, hashes: Sequence[str]) -> dict[str, Any]:
        """Text hash -> a stored vector of a chunk with that text (reuse, no re-embedding)."""

    def add(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        """Insert new chunks; raises ``RetrievalError`` if an id is already stored."""

    def upsert(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        """Insert or replace chunks by id; ``vectors`` holds one unit row per chunk."""

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Replace the text-keyed metadata of stored chunks whose text did not change."""

    def delete(self, ids: Sequence[str]) -> int:
        """Delete chunks by id; returns how many existed."""

    def search(self, query: str, vector: Any, k: int, *, mode: SearchMode = "hybrid",
               filters: Mapping[str, Any] | None = None,
               candidates: int | None = None) -> list[SearchHit]:
        """The ``k`` best chunks: dense (``vector``), BM25 (``query``) or fused.

        Hits carry ``dense_score`` (cosine to ``vector``) whenever a vector was given,
        so callers can apply an evidence threshold whatever the mode.
        """

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[Chunk], Any]]:
        """Every chunk with its vectors (an ``(n, d)`` array), in batches (copies)."""

    def version(self) -> Any:
        """A cheap token that changes when another process saved; ``None`` = always live."""

    def flush(self) -> None:
        """Make every change durable."""

    def close(self) -> None:
        """Release files and connections (flushes nothing by itself)."""


class StoreBase:
    """Behaviour every store shares, written once on top of the protocol's primitives."""

    def add(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        ids = [c.id for c in chunks]
        if len(set(ids)) != len(ids):
            raise RetrievalError("Chunk ids must be unique within one add.")
        taken = self.get(ids)  # type: ignore[attr-defined]
        if taken:
            raise RetrievalError(
                f"{len(taken)} chunk id(s) already exist (e.g. {next(iter(taken))!r}); use "
                "upsert to replace them.")
        self.upsert(chunks, vectors)  # type: ignore[attr-defined]

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()  # type: ignore[attr-defined]


def check_search(query: Any, k: int, mode: str) -> None:
    """Reject a malformed search with one sentence that says how to fix it."""
    if mode not in ("hybrid", "dense", "bm25"):
        raise RetrievalError(f"mode must be 'hybrid', 'dense' or 'bm25', got {mode!r}.")
    if not isinstance(query, str):
        raise RetrievalError(f"query must be a string, got {type(query).__name__}.")
    if k < 1:
        raise RetrievalError(f"k must be at least 1, got {k}.")
