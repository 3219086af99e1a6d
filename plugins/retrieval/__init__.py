"""Retrieval: hybrid dense (FAISS) + lexical (BM25) search over your documents.

Python::

    from sapient.plugins.retrieval import DocumentIndex

    index = DocumentIndex.open("my-index", create=True)   # default MiniLM embedder
    index.ingest(["handbook/", "faq.pdf"])                 # txt, md, html, pdf
    index.save()                                           # atomic, no pickle
    for hit in index.search("How do refunds work?", k=5):
        print(hit.id, round(hit.score, 3), hit.text[:80])

Command line: ``sapient ingest PATH... --index NAME`` (``--store milvus:./docs.db`` for
Milvus, ``--engine ray`` for distributed ingestion), ``sapient search "query" --index
NAME`` and ``sapient index copy SRC DST`` (migrate an index to another store). Agents get the ``search_documents`` tool,
which returns cited passages or says that no sufficient evidence was found.

This module imports no heavy dependency; FAISS, bm25s and the embedding model load
on first use (``pip install 'sapient[retrieval]'``).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from sapient.connectors.docstore import (
    Chunk,
    DocumentStore,
    EmbedderMismatchError,
    FilterError,
    IndexCorruptError,
    IndexFormatError,
    IndexNotFoundError,
    IngestSummary,
    RetrievalError,
    SearchHit,
    copy_store,
)
from sapient.core._lazy import lazy_exports
from sapient.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ._index import DocumentIndex
    from ._ray import ingest_with_ray
    from ._tool import DEFAULT_MIN_SCORE, DocumentSearch, RetrievalToolkit

__all__ = [
    "DocumentIndex",
    "DocumentSearch",
    "DocumentStore",
    "RetrievalToolkit",
    "SearchHit",
    "copy_store",
    "ingest_with_ray",
    "Chunk",
    "IngestSummary",
    "RetrievalError",
    "IndexNotFoundError",
    "IndexCorruptError",
    "IndexFormatError",
    "EmbedderMismatchError",
    "FilterError",
    "DEFAULT_MIN_SCORE",
    "register_tools",
    "register_commands",
    "register_document_stores",
]

# DocumentIndex needs numpy at import; keep `import sapient.plugins.retrieval` light.
__getattr__, __dir__ = lazy_exports(__name__, {
    "DocumentIndex": "._index",
    "DocumentSearch": "._tool", "RetrievalToolkit": "._tool", "DEFAULT_MIN_SCORE": "._tool",
    "ingest_with_ray": "._ray",
})


def _available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("numpy", "faiss", "bm25s"))


@hookimpl
def register_tools(register: Any, host: Any) -> None:
    """Offer ``search_documents`` over the index ``settings.index`` (when the extra is in)."""
    if not _available():
        return
    from ._tool import RetrievalToolkit

    for tool in RetrievalToolkit(host).tools():
        register(tool)


@hookimpl
def register_document_stores(register: Any) -> None:
    """The built-in stores: ``faiss:PATH`` (default) and ``milvus:URI``."""
    from ._stores import BUILTIN_STORES

    for scheme, (factory, help) in BUILTIN_STORES.items():
        register(scheme, factory, help=help)


@hookimpl
def register_commands(register: Any) -> None:
    from ._cli import (
        configure_index,
        configure_ingest,
        configure_search,
        run_index,
        run_ingest,
        run_search,
    )

    register("ingest", run_ingest, help="index files and folders for document search",
             configure=configure_ingest)
    register("search", run_search, help="search a document index", configure=configure_search)
    register("index", run_index, help="manage document indexes (copy one store into another)",
             configure=configure_index)
