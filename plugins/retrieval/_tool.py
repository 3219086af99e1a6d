"""The ``search_documents`` tool: cited passages, or an explicit "no sufficient evidence".

The agent sees numbered passages headed by their stable chunk id, and is told to
cite them as ``[id]``; the same passages are returned as :class:`~sapient.Citation`
objects so they end up in ``Result.citations``.

Abstention: a passage counts as evidence only if its cosine similarity to the
question (``dense_score``) reaches ``min_score``. If no passage does, the tool says
that no sufficient evidence was found, so the model can abstain instead of
guessing. The default threshold, 0.33 for all-MiniLM-L6-v2, was calibrated on
questions with and without an answer in the shipped sample documents (see
``benchmarks/retrieval.py --sections calibrate`` and docs/retrieval.md); set
``Settings(extra={"retrieval_min_score": x})`` for another model or corpus.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sapient.connectors.docstore import IndexNotFoundError, SearchHit
from sapient.core.messages import Citation, ToolOutput
from sapient.core.tools import Tool

from ._stores import index_store_spec

if TYPE_CHECKING:
    from ._index import DocumentIndex

__all__ = ["DEFAULT_MIN_SCORE", "DocumentSearch", "RetrievalToolkit", "format_hits"]

#: Cosine-similarity threshold below which a passage is not evidence (all-MiniLM-L6-v2).
DEFAULT_MIN_SCORE = 0.33
#: Most passages one tool call returns.
MAX_K = 20


def format_hits(query: str, hits: list[SearchHit]) -> str:
    """Passages as the model sees them: an instruction to cite, then ``[id]`` blocks."""
    lines = [f"Found {len(hits)} passage(s) for {query!r}. Answer from them and cite each "
             "fact with its id in square brackets, e.g. [" + hits[0].id + "].", ""]
    for h in hits:
        where = []
        for key in ("title", "section", "page"):
            if h.metadata.get(key) not in (None, ""):
                where.append(f"{key}: {h.metadata[key]}")
        rel = f"relevance {h.dense_score:.2f}" if h.dense_score is not None else \
            f"score {h.score:.3f}"
        head = f"[{h.id}] ({rel}" + (", " + ", ".join(where) if where else "") + ")"
        lines.append(head)
        lines.append(h.text.strip())
        lines.append("")
    return "\n".join(lines).rstrip()


class DocumentSearch:
    """Searches the index named ``index_name`` (default ``settings.index``).

    The index lives in its FAISS folder ``settings.index_dir(name)``, or in the store
    named by ``store`` / ``settings.extra["document_store"]`` (e.g. ``milvus:./docs.db``,
    with the index name as the collection). A FAISS index is reopened when another
    process saves it. The embedder comes from ``host`` (shared with the host's other
    tools) unless one is given.
    """

    def __init__(self, settings: Any, index_name: str | None = None,
                 min_score: float | None = None, embedder: Any = None, *,
                 host: Any = None, store: str | None = None) -> None:
        self.settings = settings
        self.host = host
        self.index_name = index_name or getattr(settings, "index", "default")
        extra = getattr(settings, "extra", {}) or {}
        self.store_spec = store or extra.get("document_store")
        self.min_score = float(min_score if min_score is not None
                               else extra.get("retrieval_min_score", DEFAULT_MIN_SCORE))
        self._embedder = embedder
        self._index: DocumentIndex | None = None
        self._stamp: Any = None
        self._lock = threading.Lock()

    @property
    def target(self) -> str | Path:
        """The index's FAISS folder or store spec."""
        return index_store_spec(self.settings, self.index_name, self.store_spec)

    def index(self) -> DocumentIndex | None:
        """The current index, reloaded after a save by another process; None if absent."""
        with self._lock:
            if self._index is not None and self._index.store.version() == self._stamp:
                return self._index
            from ._index import DocumentIndex

            embedder = self._embedder if self._embedder is not None else (
                self._index.embedder if self._index is not None else None)
            try:
                index = DocumentIndex.open(self.target, embedder, settings=self.settings,
                                           host=self.host)
            except IndexNotFoundError:
                return None
            if self._index is not None:
                self._index.close()
            self._index, self._stamp = index, index.store.version()
            return self._index

    def __call__(self, query: str, k: int = 5, filters: dict[str, Any] | None = None
                 ) -> ToolOutput:
        index = self.index()
        if index is None or len(index) == 0:
            return ToolOutput(
                f"No documents are indexed yet (index '{self.index_name}' in {self.target} "
                f"{'is empty' if index is not None else 'does not exist'}). Tell the user to "
                f"create it with: sapient ingest PATH --index {self.index_name}",
                data={"abstained": True, "reason": "no_index"})
        k = max(1, min(int(k), MAX_K))
        hits = index.search(query, k=k, filters=filters or None)
        strong = [h for h in hits if h.dense_score is None or h.dense_score >= self.min_score]
        if not strong:
            best = max((h.dense_score or 0.0 for h in hits), default=None)
            detail = (f" (best similarity {best:.2f}, threshold {self.min_score:.2f})"
                      if best is not None else "")
            return ToolOutput(
                f"No sufficient evidence found in the indexed documents for {query!r}"
                f"{detail}. Say that the documents do not answer this; do not guess.",
                data={"abstained": True, "reason": "weak_evidence", "best_score": best,
                      "hits": hits})
        citations: list[Citation] = [h.to_citation() for h in strong]
        return ToolOutput(format_hits(query, strong), citations=citations,
                          data={"abstained": False, "hits": strong})

    def as_function(self) -> Any:
        search = self

        def search_documents(query: str, k: int = 5,
                             filters: dict[str, Any] | None = None) -> ToolOutput:
            """Search the user's indexed documents for passages that answer a question.

            Use it for any question about the user's own documents, products or policies.
            Cite every fact you use with the passage id in square brackets, e.g.
            [handbook.md#3]. If it reports no sufficient evidence, say you don't know.

            Args:
                query: the question or key words to look for.
                k: how many passages to return (1-20).
                filters: optional metadata conditions, e.g. {"file_name": "pricing.md"}
                    or {"section": {"$contains": "Refunds"}}.
            """
            return search(query, k, filters)

        return search_documents


class RetrievalToolkit:
    """The retrieval plugin's tools, built from the host that offers them.

    ``RetrievalToolkit(host).tools()`` gives ``search_documents`` over the index named
    by ``host.settings.index``; its embedder comes from ``host.embedder()``.
    """

    def __init__(self, host: Any) -> None:
        self.host = host

    def tools(self) -> list[Tool]:
        from sapient.core.effects import READS_PRIVATE, READS_UNTRUSTED

        search = Tool.from_function(
            DocumentSearch(self.host.settings, host=self.host).as_function())
        search.effects = frozenset({READS_UNTRUSTED, READS_PRIVATE})  # documents: outside text
        return [search]
