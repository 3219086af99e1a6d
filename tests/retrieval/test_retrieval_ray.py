"""Ingestion on Ray Data: same chunks and vectors as in-process, re-runs skip, bad files
are reported. One local Ray instance for the module (starting Ray takes seconds)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sapient.plugins.retrieval import DocumentIndex, ingest_with_ray

ray = pytest.importorskip("ray", reason="needs sapient[ray] (ray[data])")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """A bounded local Ray (2 CPUs: one embedding actor plus the read tasks)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, object_store_memory=128 * 1024 * 1024)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sample_docs):
    docs = tmp_path_factory.mktemp("ray") / "docs"
    docs.mkdir()
    for name in ("warranty-and-returns.md", "pricing-plans.md", "sustainability.txt"):
        shutil.copy(sample_docs / name, docs / name)
    return docs


@pytest.fixture(scope="module")
def milvus_index(local_ray, folder, tmp_path_factory, minilm):
    """Ingested once on Ray into Milvus Lite (one writer); the tests below go on from it."""
    pytest.importorskip("milvus_lite", reason="needs sapient[milvus] (milvus-lite)")
    db = tmp_path_factory.mktemp("milvus") / "docs.db"
    index = DocumentIndex.open(f"milvus:{db}?collection=docs", minilm, create=True)
    summary = ingest_with_ray(index, folder, workers=1)
    yield index, summary
    index.close()


def _table(index):
    ids = sorted(c.id for c in index.chunks())
    return ids, {c.id: c.text for c in index.chunks()}, index.store.vectors(ids)


def test_ray_ingest_matches_in_process(milvus_index, folder, tmp_path, minilm):
    remote, summary = milvus_index
    assert not summary.errors and summary.files == 3
    local = DocumentIndex.create(tmp_path / "local", minilm)
    local.ingest(folder)
    assert summary.added == summary.embedded == len(local) == len(remote) > 3
    ids, texts, vectors = _table(remote)
    local_ids, local_texts, local_vectors = _table(local)
    assert ids == local_ids and texts == local_texts
    for cid in ids:
        np.testing.assert_allclose(vectors[cid], local_vectors[cid], atol=1e-5)
    assert remote.search("How long is the warranty?", k=1)[0].doc_id == \
        "docs/warranty-and-returns.md"


def test_ray_reruns_skip_unchanged_and_report_bad_files(milvus_index, folder):
    index, first = milvus_index
    again = ingest_with_ray(index, folder, workers=1)  # nothing changed: Ray is not started
    assert (again.added, again.updated, again.embedded) == (0, 0, 0)
    assert again.skipped == first.added == len(index)
    pricing = folder / "pricing-plans.md"
    pricing.write_text(pricing.read_text() + "\n\n## Student plan\n\nStudents pay 3 euros.\n")
    (folder / "sustainability.txt").unlink()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    before = len(index)
    third = ingest_with_ray(index, folder, workers=1)
    assert len(third.errors) == 1 and "broken.pdf" in third.errors[0]
    assert 1 <= third.embedded <= 2  # the new last chunk(s) of the edited file only
    assert third.deleted >= 1 and not index.chunks("docs/sustainability.txt")
    assert index.search("How much do students pay?", k=1)[0].doc_id == "docs/pricing-plans.md"
    assert len(index) == before + third.added - third.deleted
