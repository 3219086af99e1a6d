"""MilvusStore: one Milvus collection per index, dense vectors plus Milvus's own BM25.

Each chunk is one row: ``id`` (primary key), ``doc_id``, ``hash``, ``text`` (analysed
for full-text search), ``dense`` (the unit vector), ``sparse`` (filled by Milvus's
BM25 function from ``text``) and ``metadata`` (JSON). Hybrid search sends a dense and
a BM25 request in one ``hybrid_search`` call and Milvus fuses them with reciprocal
rank fusion (``RRFRanker(60)``, the constant the FAISS store uses), so ranking happens
server-side. Upserts replace rows by primary key, so repeating one is harmless.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from sapient.connectors.docstore import (
    RRF_K,
    Chunk,
    EmbedderMismatchError,
    RetrievalError,
    SearchHit,
    SearchMode,
    StoreBase,
    check_search,
)

from ._expr import to_expr

__all__ = ["MilvusStore", "ENGLISH_STOP_WORDS", "ANALYZER"]

#: Lucene's English stop words: the set bm25s uses for the FAISS store.
ENGLISH_STOP_WORDS = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with"]
#: Words as the FAISS store sees them: lower case, stop words out, English stems (Milvus
#: Lite 3 has no stemmer and ignores that filter; see docs/scale.md).
ANALYZER = {"tokenizer": "standard",
            "filter": ["lowercase", {"type": "stop", "stop_words": ENGLISH_STOP_WORDS},
                       {"type": "stemmer", "language": "english"}]}
_FIELDS = ["id", "doc_id", "hash", "text", "metadata"]
_INFO_KEY = "sapient_info"
_ID_MAX = 2048
_TEXT_MAX = 65_535
#: Rows per write request and ids per lookup (bounded requests).
_BATCH = 500
#: Milvus's largest result window for one plain query.
_QUERY_WINDOW = 16_384


@contextlib.contextmanager
def _quiet(loggers: tuple[str, ...]) -> Iterator[None]:
    """Silence known-harmless log lines for the duration (levels restored after)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


#: Milvus Lite 3 has no timestamp service: pymilvus asks for one when it waits for an
#: index build and when it starts a query iterator; Lite's in-process server logs the
#: refusal with a traceback and the client falls back to a client-side timestamp (a
#: warning). Both are expected there, and only there.
_LITE_ITERATOR_NOISE = ("grpc._server", "pymilvus.client.iterator.query_iterator")


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as exc:
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(
            "The Milvus document store needs pymilvus (and milvus-lite for a local .db "
            "file). Install them with: pip install 'sapient[milvus]'") from exc
    return pymilvus


class MilvusStore(StoreBase):
    """A document store in one Milvus collection (Milvus Lite, Standalone or Distributed).

    Args:
        uri: a local ``.db`` file (Milvus Lite, embedded, one process at a time) or a
            server URL such as ``http://127.0.0.1:19530``.
        collection: the collection holding this index (letters, digits, underscores).
        token: credentials for a server (``user:password`` or an API key); never
            printed or recorded in the spec.
        timeout: seconds to wait for a server before giving up.
    """

    def __init__(self, uri: str, collection: str = "documents", *, token: str | None = None,
                 timeout: float = 10.0) -> None:
        if not collection or not collection.replace("_", "a").isalnum() \
                or collection[0].isdigit() or len(collection) > 255:
            raise RetrievalError(
                f"Milvus collection names hold letters, digits and underscores and do not "
                f"start with a digit; got {collection!r}. Choose another index name, e.g. "
                f"{''.join(ch if ch.isalnum() else '_' for ch in collection) or 'documents'!r}.")
        self.uri = uri
        self.collection = collection
        self.lite = uri.endswith(".db")
        self.spec = f"milvus:{uri}?collection={collection}"
        self._client = self._connect(uri, token, timeout)
        self._info: dict[str, Any] = {}
        self._dirty = False
        self._created = self._client.has_collection(collection)
        if self._created:
            self._client.load_collection(collection)
            self._info = self._read_info()

    def _connect(self, uri: str, token: str | None, timeout: float) -> Any:
        pymilvus = _pymilvus()
        kwargs: dict[str, Any] = {"uri": uri, "timeout": timeout}
        if token:
            kwargs["token"] = token
        try:
            return pymilvus.MilvusClient(**kwargs)
        except Exception as exc:
            where = f"the Milvus Lite file {uri}" if self.lite else f"Milvus at {uri}"
            hint = (" Milvus Lite serves one process at a time: stop the other process "
                    "using it, or run a Milvus server." if self.lite else
                    " Check that the server runs and the address and token are right.")
            raise RetrievalError(f"Cannot open {where} ({type(exc).__name__}: {exc}).{hint}"
                                 ) from exc

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn a client or server error into one plain sentence."""
        exc_type = _pymilvus().exceptions.MilvusException
        try:
            yield
        except exc_type as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise RetrievalError(f"Milvus could not {what} in collection "
                                 f"'{self.collection}': {message}") from exc

    # -- facts -------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self._created

    @property
    def modified(self) -> bool:
        return self._dirty

    def _read_info(self) -> dict[str, Any]:
        with self._calling("describe the collection"):
            desc = self._client.describe_collection(self.collection)
        raw = (desc.get("properties") or {}).get(_INFO_KEY)
        try:
            info = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            info = {}
        for f in desc.get("fields", []):
            if f.get("name") == "dense":
                info["dimension"] = int((f.get("params") or {}).get("dim", 0)) or None
        return info if isinstance(info, dict) else {}

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def set_info(self, **facts: Any) -> None:
        if all(self._info.get(k) == v for k, v in facts.items()):
            return
        self._info.update(facts)
        if self._created:
            self._write_info()

    def _write_info(self) -> None:
        facts = {k: v for k, v in self._info.items() if k != "dimension"}
        with self._calling("record the index facts"):
            self._client.alter_collection_properties(
                self.collection, properties={_INFO_KEY: json.dumps(facts, sort_keys=True)})

    def count(self) -> int:
        if not self._created:
            return 0
        with self._calling("count rows"):
            rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def version(self) -> Any:
        return None  # writes are visible to every reader at once

    # -- schema ------------------------------------------------------------------

    def _create(self, dimension: int) -> None:
        pymilvus = _pymilvus()
        dt = pymilvus.DataType
        schema = pymilvus.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=_ID_MAX)
        schema.add_field("doc_id", dt.VARCHAR, max_length=_ID_MAX)
        schema.add_field("hash", dt.VARCHAR, max_length=64)
        schema.add_field("text", dt.VARCHAR, max_length=_TEXT_MAX, enable_analyzer=True,
                         analyzer_params=ANALYZER)
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", dt.FLOAT_VECTOR, dim=int(dimension))
        schema.add_field("metadata", dt.JSON)
        schema.add_function(pymilvus.Function(
            name="text_bm25", function_type=pymilvus.FunctionType.BM25,
            input_field_names=["text"], output_field_names=["sparse"]))
        index = self._client.prepare_index_params()
        index.add_index(field_name="dense", index_type="AUTOINDEX", metric_type="IP")
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                        metric_type="BM25")
        with self._calling("create the collection"), self._lite_noise():
            # Strong: a read right after a write sees it (the index plans upserts from
            # what is stored); servers default to bounded staleness.
            self._client.create_collection(self.collection, schema=schema, index_params=index,
                                           consistency_level="Strong")
        self._created = True
        self._info["dimension"] = int(dimension)
        self._write_info()

    # -- reading -----------------------------------------------------------------

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        if not self._created or not ids:
            return out
        for i in range(0, len(ids), _BATCH):
            with self._calling("read chunks"):
                rows = self._client.get(self.collection, ids=list(ids[i:i + _BATCH]),
                                        output_fields=_FIELDS)
            out.update((r["id"], _chunk(r)) for r in rows)
        return out

    def _rows(self, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row matching ``expr`` (an iterator past Milvus's query window)."""
        with self._calling("query"):
            rows = self._client.query(self.collection, filter=expr, output_fields=fields,
                                      limit=_QUERY_WINDOW)
            if len(rows) < _QUERY_WINDOW:
                return list(rows)
            rows = []
            with self._lite_noise():
                it = self._client.query_iterator(self.collection, batch_size=1000,
                                                 filter=expr, output_fields=fields)
                try:
                    while batch := it.next():
                        rows.extend(batch)
                finally:
                    it.close()
        return rows

    def _lite_noise(self) -> Any:
        return _quiet(_LITE_ITERATOR_NOISE) if self.lite else contextlib.nullcontext()

    def query(self, filters: Mapping[str, Any]) -> list[Chunk]:
        if not self._created:
            return []
        expr, exact = to_expr(filters)
        chunks = [_chunk(r) for r in self._rows(expr, _FIELDS)]
        return chunks if exact is None else [c for c in chunks if exact(c.metadata)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if not self._created:
            return out
        for i in range(0, len(ids), _BATCH):
            with self._calling("read vectors"):
                rows = self._client.get(self.collection, ids=list(ids[i:i + _BATCH]),
                                        output_fields=["dense"])
            out.update((r["id"], np.asarray(r["dense"], dtype=np.float32)) for r in rows)
        return out

    def vectors_for_hashes(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        if not self._created or not wanted:
            return out
        for i in range(0, len(wanted), _BATCH):
            part = ", ".join(json.dumps(h) for h in wanted[i:i + _BATCH])
            for r in self._rows(f"hash in [{part}]", ["hash", "dense"]):
                out.setdefault(r["hash"], np.asarray(r["dense"], dtype=np.float32))
        return out

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        if not self._created:
            return
        with self._calling("scan"), self._lite_noise():
            it = self._client.query_iterator(self.collection, batch_size=batch_size,
                                             filter="", output_fields=[*_FIELDS, "dense"])
        try:
            while True:
                with self._calling("scan"), self._lite_noise():
                    rows = it.next()
                if not rows:
                    return
                yield ([_chunk(r) for r in rows],
                       np.asarray([r["dense"] for r in rows], dtype=np.float32))
        finally:
            it.close()

    # -- writing -----------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: Any) -> None:
        if not chunks:
            return
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) != len(chunks):
            raise RetrievalError(
                f"Expected one vector per chunk ({len(chunks)}), got shape {matrix.shape}.")
        if not self._created:
            self._create(matrix.shape[1])
        elif self._info.get("dimension") not in (None, matrix.shape[1]):
            raise EmbedderMismatchError(
                f"Vectors of dimension {matrix.shape[1]} cannot join the collection "
                f"'{self.collection}' of dimension {self._info['dimension']}; use the "
                "index's embedder.")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.maximum(norms, 1e-12)
        rows = [_row(c, v) for c, v in zip(chunks, matrix.tolist(), strict=True)]
        for i in range(0, len(rows), _BATCH):
            with self._calling("write chunks"):
                self._client.upsert(self.collection, rows[i:i + _BATCH])
        self._dirty = True

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        stored = self.vectors([c.id for c in chunks])
        present = [c for c in chunks if c.id in stored]
        if present:
            self.upsert(present, np.asarray([stored[c.id] for c in present]))

    def delete(self, ids: Sequence[str]) -> int:
        existing = list(self.get(list(ids)))
        for i in range(0, len(existing), _BATCH):
            with self._calling("delete chunks"):
                self._client.delete(self.collection, ids=existing[i:i + _BATCH])
        if existing:
            self._dirty = True
        return len(existing)

    def flush(self) -> None:
        if self._created:
            with self._calling("flush"):
                self._client.flush(self.collection)
        self._dirty = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def drop(self) -> None:
        """Delete the whole collection (every chunk of this index)."""
        if self._created:
            with self._calling("drop the collection"):
                self._client.drop_collection(self.collection)
        self._created = False
        self._info = {}

    # -- search ------------------------------------------------------------------

    def search(self, query: str, vector: Any, k: int, *, mode: SearchMode = "hybrid",
               filters: Mapping[str, Any] | None = None,
               candidates: int | None = None) -> list[SearchHit]:
        check_search(query, k, mode)
        expr, exact = to_expr(filters)
        if not self._created or not query.strip():
            return []
        qvec = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(-1)
        if qvec is None and mode != "bm25":
            raise RetrievalError(f"A {mode} search needs the query vector.")
        if qvec is not None and qvec.shape[0] != self._info.get("dimension"):
            raise EmbedderMismatchError(
                f"The query vector has dimension {qvec.shape[0]}, the collection "
                f"{self._info.get('dimension')}; query with the index's embedder.")
        fields = [*_FIELDS, "dense"] if qvec is not None else _FIELDS
        with self._calling("search"):
            results = self._send(query, qvec, k, mode, expr, fields, candidates)
        rows = [r for r in results if exact is None or exact(r["entity"].get("metadata") or {})]
        return [_hit(r, rank, mode, qvec) for rank, r in enumerate(rows[:k], start=1)]

    def _send(self, query: str, qvec: np.ndarray | None, k: int, mode: str, expr: str,
              fields: list[str], candidates: int | None) -> list[dict[str, Any]]:
        pymilvus = _pymilvus()
        dense = {"data": [qvec.tolist()] if qvec is not None else None, "anns_field": "dense",
                 "param": {"metric_type": "IP"}}
        lexical = {"data": [query], "anns_field": "sparse", "param": {"metric_type": "BM25"}}
        if mode == "hybrid":
            depth = candidates or max(2 * k, 50)
            requests = [pymilvus.AnnSearchRequest(**req, limit=depth, expr=expr or None)
                        for req in (dense, lexical)]
            found = self._client.hybrid_search(self.collection, requests,
                                               ranker=pymilvus.RRFRanker(RRF_K), limit=k,
                                               output_fields=fields)
        else:
            req = dense if mode == "dense" else lexical
            found = self._client.search(self.collection, data=req["data"],
                                        anns_field=req["anns_field"], limit=k,
                                        filter=expr, output_fields=fields,
                                        search_params=req["param"])
        return list(found[0]) if found else []

    def __repr__(self) -> str:
        return f"MilvusStore({self.spec!r})"


def _row(c: Chunk, vector: list[float]) -> dict[str, Any]:
    for name, value, limit in (("id", c.id, _ID_MAX), ("doc_id", c.doc_id, _ID_MAX),
                               ("text", c.text, _TEXT_MAX)):
        if len(value.encode("utf-8")) > limit:
            raise RetrievalError(
                f"The {name} of chunk {c.id[:80]!r} is longer than Milvus's {limit:,} bytes; "
                "split long texts (split=True, or a smaller chunk_size) or use shorter ids.")
    return {"id": c.id, "doc_id": c.doc_id, "hash": c.hash, "text": c.text, "dense": vector,
            "metadata": c.metadata}


def _chunk(row: Mapping[str, Any]) -> Chunk:
    meta = row.get("metadata") or {}
    if isinstance(meta, str):  # some client versions hand JSON back as text
        meta = json.loads(meta)
    return Chunk(str(row["id"]), str(row["doc_id"]), str(row["text"]), dict(meta),
                 str(row["hash"]))


def _hit(found: Mapping[str, Any], rank: int, mode: str, qvec: np.ndarray | None
         ) -> SearchHit:
    e = found["entity"]
    meta = e.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    score = float(found["distance"])
    dense = None
    if qvec is not None and e.get("dense") is not None:
        dense = float(np.asarray(e["dense"], dtype=np.float32) @ qvec)
    bm25 = abs(score) if mode == "bm25" else None  # Milvus Lite reports BM25 negated
    return SearchHit(id=str(found.get("id", e.get("id"))), text=str(e["text"]),
                     score=abs(score) if mode == "bm25" else score, metadata=dict(meta),
                     doc_id=str(e["doc_id"]), rank=rank, dense_score=dense, bm25_score=bm25)
