"""DocumentIndex on real FAISS, real bm25s and the real MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest
from sapient import SapientError
from sapient.connectors.docstore import RRF_K
from sapient.plugins.retrieval import DocumentIndex, FilterError, RetrievalError


@pytest.fixture
def index(embedder, corpus):
    ids, texts, metas = corpus
    idx = DocumentIndex(embedder)
    summary = idx.add_texts(texts, metas, ids=ids)
    assert (summary.added, summary.embedded) == (len(ids), len(ids))
    return idx


def test_add_and_search_each_mode(index):
    for mode in ("hybrid", "dense", "bm25"):
        hits = index.search("What are the moons of Mars?", k=3, mode=mode)
        assert hits[0].id == "mars", mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert hits[0].metadata["topic"] == "space"
        assert hits[0].metadata["doc_id"] == "mars"
    dense = index.search("What are the moons of Mars?", k=6, mode="dense")
    assert [h.score for h in dense] == sorted((h.score for h in dense), reverse=True)
    assert all(-1.0 <= h.dense_score <= 1.0 for h in dense)


def test_bm25_finds_exact_codes(index):
    hits = index.search("ZX-4471", k=2, mode="bm25")
    assert [h.id for h in hits] == ["zx"]  # only docs sharing a term get a BM25 score
    assert hits[0].bm25_score > 0


def test_hybrid_is_reciprocal_rank_fusion(index):
    query = "orbit engine fuel"
    dense = [h.id for h in index.search(query, k=6, mode="dense")]
    lexical = [h.id for h in index.search(query, k=6, mode="bm25")]
    expected: dict[str, float] = {}
    for order in (dense, lexical):
        for rank, cid in enumerate(order, start=1):
            expected[cid] = expected.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    want = [cid for cid, _ in sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))][:4]
    got = index.search(query, k=4, mode="hybrid")
    assert [h.id for h in got] == want
    for h in got:
        assert h.score == pytest.approx(expected[h.id])
        assert h.dense_score is not None and h.bm25_score is not None


def test_update_reembeds_only_changed_text(index, embedder):
    before = embedder.embedded
    s = index.add_texts(["Mars has two small moons called Phobos and Deimos."],
                        [{"topic": "space", "year": 2020}], ids=["mars"])
    assert (s.added, s.updated, s.skipped, s.embedded) == (0, 0, 1, 0)
    s = index.add_texts(["Mars has two small moons called Phobos and Deimos."],
                        [{"topic": "astronomy", "year": 2020}], ids=["mars"])
    assert (s.updated, s.embedded) == (1, 0)  # metadata only: no embedding
    assert index.get("mars").metadata["topic"] == "astronomy"
    s = index.add_texts(["Jupiter is the largest planet and has a great red spot."],
                        ids=["mars"])
    assert (s.updated, s.embedded) == (1, 1)
    assert embedder.embedded == before + 1
    assert index.search("great red spot storm", k=1)[0].id == "mars"
    assert "Phobos" not in index.get("mars").text
    assert len(index) == 6


def test_identical_text_reuses_vector(index, embedder):
    before = embedder.embedded
    s = index.add_texts(["Bananas are yellow tropical fruit rich in potassium."], ids=["copy"])
    assert (s.added, s.embedded) == (1, 0)
    assert embedder.embedded == before
    a = index.store._vectors.reconstruct([index.get("fruit").vid])[0]
    b = index.store._vectors.reconstruct([index.get("copy").vid])[0]
    assert np.allclose(a, b)


def test_delete_by_id_doc_and_filter(index):
    assert index.delete("mars") == 1
    assert "mars" not in index
    assert all(h.id != "mars" for h in index.search("moons of Mars", k=6))
    assert all(h.id != "mars" for h in index.search("Phobos Deimos", k=6, mode="bm25"))
    assert index.delete(filters={"topic": "food"}) == 2
    assert sorted(c.id for c in index.chunks()) == ["rocket", "tax", "zx"]
    assert index.delete(["nope"]) == 0
    with pytest.raises(RetrievalError):
        index.delete()


def test_filters(index):
    hits = index.search("food", k=6, filters={"topic": "space"})
    assert {h.id for h in hits} == {"rocket", "mars"}
    hits = index.search("anything", k=6, filters={"year": {"$gte": 2022}})
    assert {h.id for h in hits} == {"pasta", "rocket", "tax"}
    hits = index.search("anything", k=6, filters={"topic": ["parts", "finance"]})
    assert {h.id for h in hits} == {"zx", "tax"}
    hits = index.search("anything", k=6, mode="bm25", filters={"topic": "nothing"})
    assert hits == []
    with pytest.raises(FilterError):
        index.search("x", filters={"year": {"$between": [1, 2]}})
    assert issubclass(FilterError, SapientError)


def test_hnsw_deletes_use_tombstones_then_rebuild(minilm):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((400, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx = DocumentIndex(minilm, index_type="hnsw")
    ids = [f"v{i}" for i in range(400)]
    idx.add_texts([f"item number {i}" for i in range(400)], ids=ids, embeddings=vecs)
    assert idx.vector_index_kind == "hnsw"
    # Delete a few: HNSW cannot remove points, so they become tombstones...
    idx.delete(["v0", "v1", "v2"])
    assert idx.store._vectors.tombstones == {idx_vid for idx_vid in idx.store._vectors.tombstones}
    assert len(idx.store._vectors.tombstones) == 3
    hit = idx.search("", k=1, mode="dense", query_vector=vecs[0])
    assert hit == []  # empty query text returns nothing
    hits = idx.search("q", k=5, mode="dense", query_vector=vecs[0])
    assert "v0" not in {h.id for h in hits}
    hits = idx.search("q", k=1, mode="dense", query_vector=vecs[3])
    assert hits[0].id == "v3" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    # ... and past a quarter of the graph the index is rebuilt without them.
    idx.delete([f"v{i}" for i in range(3, 120)])
    assert idx.store._vectors.tombstones == set()
    assert idx.store._vectors.ntotal == 280 == len(idx)
    hits = idx.search("q", k=1, mode="dense", query_vector=vecs[200])
    assert hits[0].id == "v200"
    # A selective filter on HNSW is scored exactly.
    hits = idx.search("q", k=2, mode="dense", query_vector=vecs[300],
                      filters={"chunk_id": ["v300", "v301"]})
    assert [h.id for h in hits][0] == "v300" and len(hits) == 2


def test_auto_switches_to_hnsw(minilm):
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((60, 384)).astype(np.float32)
    idx = DocumentIndex(minilm, hnsw_threshold=50)
    idx.add_texts([f"t{i}" for i in range(40)], ids=[f"a{i}" for i in range(40)],
                  embeddings=vecs[:40])
    assert idx.vector_index_kind == "flat"
    idx.add_texts([f"u{i}" for i in range(20)], ids=[f"b{i}" for i in range(20)],
                  embeddings=vecs[40:])
    assert idx.vector_index_kind == "hnsw"
    q = vecs[45] / np.linalg.norm(vecs[45])
    assert idx.search("q", k=1, mode="dense", query_vector=q)[0].id == "b5"
    exact = DocumentIndex(minilm, index_type="flat", hnsw_threshold=50)
    exact.add_texts([f"t{i}" for i in range(60)], ids=[f"c{i}" for i in range(60)],
                    embeddings=vecs)
    assert exact.vector_index_kind == "flat"


def test_bad_input_is_explained(index):
    with pytest.raises(RetrievalError, match="mode"):
        index.search("x", mode="fuzzy")
    with pytest.raises(RetrievalError, match="k must"):
        index.search("x", k=0)
    with pytest.raises(RetrievalError, match="metadatas"):
        index.add_texts(["a", "b"], [{}])
    with pytest.raises(RetrievalError, match="unique"):
        index.add_texts(["a", "b"], ids=["x", "x"])
    with pytest.raises(RetrievalError, match="list of strings"):
        index.add_texts([1, 2])
    with pytest.raises(RetrievalError, match="embeddings"):
        index.add_texts(["a"], embeddings=np.zeros((2, 384), np.float32))
    assert len(index) == 6  # nothing half-added


def test_split_long_texts_and_langchain_documents(embedder):
    from langchain_core.documents import Document

    idx = DocumentIndex(embedder, chunk_size=200, chunk_overlap=20)
    long = " ".join(f"Sentence {i} talks about topic {i % 7}." for i in range(60))
    s = idx.add_texts([long], ids=["long"], split=True)
    assert s.added > 3
    assert [c.id for c in idx.chunks("long")] == [f"long#{n}" for n in range(s.added)]
    assert all(len(c.text) <= 200 for c in idx.chunks("long"))
    docs = [Document(page_content="# Title\n\nThe warranty lasts two years.",
                     metadata={"source": "manual.md"}),
            Document(page_content="Shipping takes five days.", metadata={"source": "faq.txt",
                                                                         "page": 2})]
    s = idx.add_documents(docs)
    assert s.added == 2
    assert idx.get("manual.md#0").metadata["section"] == "Title"
    assert idx.get("faq.txt#page=2#0").metadata["page"] == 2
    assert idx.search("how long is the guarantee", k=1)[0].doc_id == "manual.md"


def test_vectors_do_not_depend_on_the_batch_size(minilm):
    """Texts of very different lengths padded in one batch (64) or in small sorted
    batches (the CPU default, and 1) get the same vector, so the batch size is a speed
    setting only and an index built with one can be queried or extended with another."""
    from sapient.connectors.embeddings import SentenceTransformerEmbedder
    from sapient.connectors.embeddings._st import CPU_BATCH

    texts = [f"Claim {i}: " + "the enzyme binds the receptor in mice. " * (1 + i * 5 % 13)
             for i in range(24)]
    assert SentenceTransformerEmbedder(minilm.model_name).batch_size == CPU_BATCH
    vectors = {}
    for size in (64, CPU_BATCH, 1):
        emb = SentenceTransformerEmbedder(minilm.model_name, batch_size=size)
        vectors[size] = emb.embed(texts)
    assert float(np.abs(vectors[64] - vectors[CPU_BATCH]).max()) < 1e-5
    assert float(np.abs(vectors[64] - vectors[1]).max()) < 1e-5
