"""Documents both ways: Sapient search as a LangChain retriever, LangChain loaders into Sapient.

The retriever works over any object with Sapient's ``search(query, k=..., filters=...,
mode=...)`` (a ``DocumentIndex``), so this connector needs no plugin import. Loaders
are named by their import path (``langchain_community.document_loaders.CSVLoader``)
and run once per file before anything is written, so a file that fails to load
leaves the index untouched.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError, SapientError

__all__ = ["as_retriever", "load_documents", "ingest_langchain_documents",
           "resolve_loader"]  # and SapientRetriever (built on first use: it subclasses LangChain's)


def _retriever_class() -> Any:
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict

    class SapientRetriever(BaseRetriever):
        """A LangChain retriever over a Sapient document index (hybrid search by default).

        Each hit becomes a ``Document`` whose ``id`` is the chunk id to cite and whose
        metadata adds ``score``, ``dense_score``, ``bm25_score`` and ``rank``.
        ``min_score`` drops passages whose cosine similarity is below it (Sapient's
        abstention threshold), so a chain can tell "nothing relevant" from "something".
        """

        model_config = ConfigDict(arbitrary_types_allowed=True)

        index: Any
        k: int = 5
        mode: str = "hybrid"
        filters: dict[str, Any] | None = None
        min_score: float | None = None

        def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Any]:
            hits = self.index.search(query, k=self.k, filters=self.filters, mode=self.mode)
            if self.min_score is not None:
                hits = [h for h in hits
                        if h.dense_score is None or h.dense_score >= self.min_score]
            return [Document(page_content=h.text, id=h.id, metadata={
                **h.metadata, "id": h.id, "score": h.score, "dense_score": h.dense_score,
                "bm25_score": h.bm25_score, "rank": h.rank}) for h in hits]

    return SapientRetriever


_CLASSES: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name == "SapientRetriever":
        if name not in _CLASSES:
            _CLASSES[name] = _retriever_class()
        return _CLASSES[name]
    raise AttributeError(name)


def as_retriever(index: Any, *, k: int = 5, mode: str = "hybrid",
                 filters: dict[str, Any] | None = None, min_score: float | None = None) -> Any:
    """A LangChain ``BaseRetriever`` over a Sapient ``DocumentIndex``."""
    cls = __getattr__("SapientRetriever")
    return cls(index=index, k=k, mode=mode, filters=filters, min_score=min_score)


def resolve_loader(loader: str | type) -> type:
    """A loader class from ``package.module.Class`` (or ``package.module:Class``)."""
    if not isinstance(loader, str):
        return loader
    module_name, sep, attr = loader.partition(":")
    if not sep:
        module_name, _, attr = loader.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(
            f"Name the loader by its import path, e.g. "
            f"langchain_community.document_loaders.CSVLoader (got {loader!r}).")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"Cannot import the loader module {module_name!r} ({exc}); install the package "
            "that provides it, e.g. pip install langchain-community.") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ConfigurationError(f"The module {module_name!r} has no loader named {attr!r}.")
    return cls


def load_documents(loader: str | type, paths: Iterable[str | Path],
                   **loader_args: Any) -> list[Any]:
    """Documents from ``loader(path, **loader_args)`` for each path, all loaded first."""
    cls = resolve_loader(loader)
    docs: list[Any] = []
    for path in paths:
        p = Path(path).expanduser()
        if not p.exists():
            raise SapientError(f"There is no file at {p}; check the path.")
        try:
            docs.extend(cls(str(p), **loader_args).lazy_load())
        except SapientError:
            raise
        except Exception as exc:  # a loader's failure names the file, not a traceback
            raise SapientError(
                f"{getattr(cls, '__name__', cls)} could not load {p}: "
                f"{type(exc).__name__}: {exc}") from None
    return docs


def ingest_langchain_documents(index: Any, documents: Iterable[Any], *, split: bool = True,
                               show_progress: bool = False) -> Any:
    """Add LangChain ``Document`` objects to a Sapient index (chunked, embedded, upserted).

    Ids come from ``doc.id``, else the loader's ``source`` (plus ``page``); adding the
    same documents again changes nothing. Call ``index.save()`` to persist.
    """
    return index.add_documents(list(documents), split=split, show_progress=show_progress)
