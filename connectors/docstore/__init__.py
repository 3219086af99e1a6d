"""Document stores: the protocol, its data types, metadata filters and store copying.

A document store keeps text chunks with their vectors and answers dense, keyword
(BM25) and hybrid searches. Built-in stores: ``faiss:PATH`` (FAISS + bm25s files on
disk, the zero-setup default, ``sapient.connectors.faiss``) and ``milvus:URI``
(Milvus Lite, Standalone or Distributed, ``sapient.connectors.milvus``). The
retrieval plugin registers them through ``register_document_stores``; a plugin may
register more. ``copy_store`` copies one store into another (migration).
"""

from __future__ import annotations

from ._copy import copy_store
from ._errors import (
    EmbedderMismatchError,
    FilterError,
    IndexConflictError,
    IndexCorruptError,
    IndexFormatError,
    IndexNotFoundError,
    RetrievalError,
)
from ._filters import MISSING, CompiledFilter, Filters, compile_filter
from ._protocol import RRF_K, DocumentStore, SearchMode, StoreBase, check_search
from ._types import Chunk, IngestSummary, SearchHit, jsonable_metadata

__all__ = [
    "Chunk",
    "CompiledFilter",
    "DocumentStore",
    "EmbedderMismatchError",
    "FilterError",
    "Filters",
    "IndexConflictError",
    "IndexCorruptError",
    "IndexFormatError",
    "IndexNotFoundError",
    "IngestSummary",
    "MISSING",
    "RRF_K",
    "RetrievalError",
    "SearchHit",
    "SearchMode",
    "StoreBase",
    "check_search",
    "compile_filter",
    "copy_store",
    "jsonable_metadata",
]
