"""Plain data types of document stores: chunks, search hits and ingest summaries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sapient.core.messages import Citation
from sapient.core.tools import to_jsonable as _jsonable

__all__ = ["Chunk", "SearchHit", "IngestSummary", "jsonable_metadata"]


def jsonable_metadata(metadata: Any) -> dict[str, Any]:
    """A JSON-safe copy of a metadata mapping (unknown types become strings)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        from ._errors import RetrievalError

        raise RetrievalError(
            f"Metadata must be a dict, got {type(metadata).__name__}: {metadata!r:.80}."
        )
    out = _jsonable(metadata)
    json.dumps(out)  # guaranteed to work now
    return out


@dataclass(slots=True)
class Chunk:
    """One stored passage.

    Attributes:
        id: stable chunk id (``"<doc_id>#<n>"`` for split documents, or the id given).
        doc_id: the document it came from (a relative path, or an id you gave).
        text: the passage text (what is embedded and BM25-indexed).
        metadata: your metadata plus ``doc_id``, ``chunk_id`` and, for files, ``source``.
        hash: content hash of ``text``; unchanged text is never re-embedded.
        vid: the FAISS id of its vector in the FAISS store (never reused); -1 in
            stores that key vectors by chunk id.
    """

    id: str
    doc_id: str
    text: str
    metadata: dict[str, Any]
    hash: str
    vid: int = -1

    @property
    def source(self) -> str | None:
        src = self.metadata.get("source")
        return src if isinstance(src, str) else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "doc_id": self.doc_id, "text": self.text,
                "metadata": self.metadata, "hash": self.hash, "vid": self.vid}


@dataclass(slots=True)
class SearchHit:
    """One search result.

    Attributes:
        id: stable chunk id, the id to cite (``[id]``).
        text: the passage.
        score: ranking score of the chosen mode (RRF score for hybrid, cosine for
            dense, BM25 for bm25).
        metadata: the chunk's metadata.
        doc_id: the document the chunk belongs to.
        rank: 1-based position in the results.
        dense_score: cosine similarity between query and passage (None without an
            embedder); the abstention threshold is applied to this.
        bm25_score: the passage's BM25 score for the query (0 when no term matched).
    """

    id: str
    text: str
    score: float
    metadata: dict[str, Any]
    doc_id: str
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None

    @property
    def source(self) -> str | None:
        src = self.metadata.get("source")
        return src if isinstance(src, str) else None

    def to_citation(self) -> Citation:
        meta = dict(self.metadata)
        if self.dense_score is not None:
            meta["dense_score"] = round(self.dense_score, 4)
        if self.bm25_score is not None:
            meta["bm25_score"] = round(self.bm25_score, 4)
        return Citation(source_id=self.id, text=self.text, score=self.score, metadata=meta)


@dataclass
class IngestSummary:
    """What an ingest or add call changed, counted in chunks.

    Attributes:
        files: files read (ingest only).
        added: chunks that did not exist before.
        updated: chunks whose text or metadata changed.
        skipped: chunks found unchanged.
        deleted: chunks removed (a shrunk document, a vanished file).
        embedded: texts actually sent to the embedder (unchanged or duplicate text reuses
            the stored vector).
        errors: one line per file that could not be read; the others were ingested.
        seconds: wall time.
    """

    files: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    embedded: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def __iadd__(self, other: IngestSummary) -> IngestSummary:
        for name in ("files", "added", "updated", "skipped", "deleted", "embedded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.seconds += other.seconds
        return self

    def __str__(self) -> str:
        s = (f"{self.added} added, {self.updated} updated, {self.skipped} skipped, "
             f"{self.deleted} deleted ({self.embedded} embedded)")
        if self.files:
            s = f"{self.files} files: " + s
        if self.errors:
            s += f"; {len(self.errors)} errors"
        return s
