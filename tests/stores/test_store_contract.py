"""One contract for every document store: FAISS, Milvus Lite, a Milvus server if given.

Vectors here are small hand-made unit vectors, so the tests check the stores, not an
embedding model; the same assertions run against each store.
"""

from __future__ import annotations

import numpy as np
import pytest
from sapient.connectors.docstore import (
    Chunk,
    DocumentStore,
    EmbedderMismatchError,
    FilterError,
    RetrievalError,
    copy_store,
)

DIM = 8


def unit(rows) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def axis(i: int, tilt: float = 0.0) -> list[float]:
    v = [0.0] * DIM
    v[i % DIM] = 1.0
    v[(i + 1) % DIM] = tilt
    return v


ROWS = [  # id, doc, text, metadata
    ("fruit#0", "fruit", "Bananas are yellow tropical fruit rich in potassium.",
     {"topic": "food", "year": 2021, "source": "/data/my_docs/fruit.md", "tags": ["a"]}),
    ("pasta#0", "pasta", "Carbonara is a Roman pasta dish made with eggs and pecorino.",
     {"topic": "food", "year": 2023, "source": "/data/myXdocs/pasta.md"}),
    ("rocket#0", "rocket", "The rocket engine burns liquid oxygen and kerosene.",
     {"topic": "space", "year": 2022, "source": "/data/my_docs/rocket.md", "lang": "en"}),
    ("mars#0", "mars", "Mars has two small moons called Phobos and Deimos.",
     {"topic": "space", "year": 2020, "source": "/data/my_docs/space/mars.md", "lang": "de"}),
    ("tax#0", "tax", "Invoices must show the VAT number of the seller.",
     {"topic": "finance", "year": 2023, "source": "/data/other/tax.md", "draft": True}),
]


def chunks(rows=ROWS) -> list[Chunk]:
    return [Chunk(cid, doc, text, {**meta, "doc_id": doc, "chunk_id": cid}, f"h-{cid}")
            for cid, doc, text, meta in rows]


def vectors(n: int | None = None) -> np.ndarray:
    return unit([axis(i, 0.1) for i in range(len(ROWS) if n is None else n)])


@pytest.fixture
def filled(store):
    store.set_info(embedder="test:axes", chunking={"chunk_size": 800, "chunk_overlap": 100})
    store.upsert(chunks(), vectors())
    store.flush()
    return store


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def test_an_empty_store(store):
    assert isinstance(store, DocumentStore)
    assert not store.exists and store.count() == 0
    assert store.get(["x"]) == {} and store.query({}) == []
    assert store.search("anything", unit([axis(0)])[0], 3) == []
    assert list(store.scan()) == []


def test_upsert_get_and_idempotence(filled):
    assert filled.exists and filled.count() == len(ROWS)
    got = filled.get(["mars#0", "nope"])
    assert list(got) == ["mars#0"]
    mars = got["mars#0"]
    assert (mars.doc_id, mars.hash) == ("mars", "h-mars#0")
    assert mars.text.startswith("Mars has two") and mars.metadata["lang"] == "de"
    filled.upsert(chunks(), vectors())  # the same rows again change nothing
    assert filled.count() == len(ROWS)
    changed = Chunk("mars#0", "mars", "Mars is red.", {"topic": "space"}, "h-new")
    filled.upsert([changed], unit([axis(3)]))
    assert filled.count() == len(ROWS)
    assert filled.get(["mars#0"])["mars#0"].text == "Mars is red."
    np.testing.assert_allclose(filled.vectors(["mars#0"])["mars#0"], unit([axis(3)])[0],
                               atol=1e-6)


def test_add_refuses_existing_ids_and_delete_counts(filled):
    with pytest.raises(RetrievalError, match="already exist"):
        filled.add(chunks()[:1], vectors(1))
    extra = Chunk("comet#0", "comet", "A comet has a tail.", {"doc_id": "comet"}, "h-comet")
    filled.add([extra], unit([axis(5)]))
    assert filled.count() == len(ROWS) + 1
    assert filled.delete(["comet#0", "tax#0", "never"]) == 2
    assert filled.delete(["comet#0"]) == 0
    assert filled.count() == len(ROWS) - 1 and not filled.get(["tax#0"])


def test_dense_keyword_and_hybrid_search(filled):
    q = unit([axis(2, 0.1)])[0]  # the rocket row's direction
    dense = filled.search("engine", q, 3, mode="dense")
    assert ids(dense)[0] == "rocket#0" and dense[0].dense_score == pytest.approx(1.0, abs=1e-4)
    assert [h.rank for h in dense] == [1, 2, 3]
    words = filled.search("potassium", None, 3, mode="bm25")
    assert ids(words) == ["fruit#0"] and words[0].bm25_score > 0
    both = filled.search("Phobos Deimos", unit([axis(3, 0.1)])[0], 3)
    assert ids(both)[0] == "mars#0"
    assert all(h.dense_score is not None for h in both)  # the evidence threshold needs it
    assert filled.search("   ", q, 3) == []


FILTERS = [
    ({"topic": "food"}, {"fruit#0", "pasta#0"}),
    ({"topic": ["food", "finance"]}, {"fruit#0", "pasta#0", "tax#0"}),
    ({"year": {"$gte": 2022}}, {"pasta#0", "rocket#0", "tax#0"}),
    ({"year": {"$gt": 2020, "$lt": 2023}}, {"fruit#0", "rocket#0"}),
    ({"lang": {"$ne": "de"}}, {"fruit#0", "pasta#0", "rocket#0", "tax#0"}),  # missing counts
    ({"lang": {"$nin": ["de", "fr"]}}, {"fruit#0", "pasta#0", "rocket#0", "tax#0"}),
    ({"lang": {"$exists": True}}, {"rocket#0", "mars#0"}),
    ({"draft": True}, {"tax#0"}),
    ({"source": {"$prefix": "/data/my_docs/"}}, {"fruit#0", "rocket#0", "mars#0"}),
    ({"text_free": {"$exists": False}, "topic": "space"}, {"rocket#0", "mars#0"}),
    ({"source": {"$contains": "space"}}, {"mars#0"}),
    ({"tags": {"$contains": "a"}}, {"fruit#0"}),
    ({"doc_id": {"$in": ["tax", "mars"]}}, {"tax#0", "mars#0"}),
    ({"topic": "space", "year": 2020}, {"mars#0"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS,
                         ids=[str(f) for f, _ in FILTERS])
def test_filters_mean_the_same_everywhere(filled, filters, expected):
    assert {c.id for c in filled.query(filters)} == expected
    q = unit([axis(0)])[0]
    for mode in ("dense", "hybrid"):
        hits = filled.search("the", q, 10, mode=mode, filters=filters)
        assert set(ids(hits)) == expected, mode


def test_bad_filters_fail_before_anything_happens(filled):
    with pytest.raises(FilterError, match="Unknown filter operator"):
        filled.query({"year": {"$near": 3}})
    with pytest.raises(FilterError):
        filled.search("x", unit([axis(0)])[0], 3, filters={"year": {"$in": 2020}})
    assert filled.count() == len(ROWS)


def test_hashes_metadata_and_scan(filled):
    found = filled.vectors_for_hashes(["h-pasta#0", "h-unknown"])
    assert list(found) == ["h-pasta#0"]
    np.testing.assert_allclose(found["h-pasta#0"], vectors()[1], atol=1e-6)
    c = filled.get(["pasta#0"])["pasta#0"]
    c.metadata = {**c.metadata, "topic": "italian"}
    filled.update_metadata([c])
    assert filled.get(["pasta#0"])["pasta#0"].metadata["topic"] == "italian"
    assert {x.id for x in filled.query({"topic": "italian"})} == {"pasta#0"}
    seen = {}
    for part, vecs in filled.scan(batch_size=2):
        assert len(part) == len(vecs) <= 2
        seen.update((p.id, v) for p, v in zip(part, vecs, strict=True))
    assert set(seen) == {r[0] for r in ROWS}
    np.testing.assert_allclose(seen["rocket#0"], vectors()[2], atol=1e-6)


def test_facts_survive_a_reopen_and_dimensions_are_checked(filled, spec, open_store):
    filled.flush()
    again = open_store(spec)
    try:
        assert again.exists and again.count() == len(ROWS)
        info = again.info()
        assert info["embedder"] == "test:axes" and info["dimension"] == DIM
        assert info["chunking"] == {"chunk_size": 800, "chunk_overlap": 100}
        assert ids(again.search("potassium", None, 1, mode="bm25")) == ["fruit#0"]
        with pytest.raises(EmbedderMismatchError):
            again.upsert(chunks()[:1], unit([[1.0] * (DIM + 1)]))
        with pytest.raises(EmbedderMismatchError):
            again.search("x", unit([[1.0] * (DIM + 1)])[0], 3)
    finally:
        again.close()


def test_copy_into_another_store_answers_the_same(filled, tmp_path, open_store):
    target = open_store(f"faiss:{tmp_path / 'copy'}")
    assert copy_store(filled, target, batch_size=2) == len(ROWS)
    assert target.count() == len(ROWS) and target.info()["embedder"] == "test:axes"
    q = unit([axis(3, 0.2)])[0]
    for mode in ("dense", "hybrid"):
        assert ids(target.search("moons", q, 3, mode=mode)) == \
            ids(filled.search("moons", q, 3, mode=mode))
    other = open_store(f"faiss:{tmp_path / 'other'}")
    other.set_info(embedder="test:other")
    with pytest.raises(EmbedderMismatchError):
        copy_store(filled, other)
