"""The index on Milvus Lite: migration from the FAISS store, the CLI and the agent tool."""

from __future__ import annotations

import argparse
import json

import pytest
from sapient import Host, Settings
from sapient.plugins.retrieval import DocumentIndex, DocumentSearch
from sapient.plugins.retrieval._cli import (
    configure_index,
    configure_ingest,
    configure_search,
    run_index,
    run_ingest,
    run_search,
)

pytest.importorskip("pymilvus", reason="needs sapient[milvus] (pymilvus)")
pytest.importorskip("milvus_lite", reason="needs sapient[milvus] (milvus-lite)")

QUESTIONS = ["How long is the warranty?", "What does error E-204 mean?",
             "How much does the Aurora X2 cost?", "Where is customer data stored?",
             "What is the API rate limit?", "When was firmware 3.4.0 released?"]


def _args(configure, argv):
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def home(tmp_path_factory, sample_docs, minilm):
    """A home whose FAISS index 'demo' holds the shipped sample documents."""
    home = tmp_path_factory.mktemp("home")
    idx = DocumentIndex.create(Settings(home=home).index_dir("demo"), minilm)
    assert not idx.ingest(sample_docs).errors
    idx.save()
    return home


def test_copy_into_milvus_lite_answers_the_same(home, tmp_path, minilm, capsys):
    host = Host(Settings(home=home), load_entrypoints=False)
    spec = f"milvus:{tmp_path / 'docs.db'}"
    assert run_index(_args(configure_index, ["copy", "demo", spec]), host) == 0
    assert "copied" in capsys.readouterr().out
    faiss = DocumentIndex.open(Settings(home=home).index_dir("demo"), minilm)
    milvus = DocumentIndex.open(f"{spec}?collection=demo", minilm)
    assert len(milvus) == len(faiss) and milvus.documents() and \
        sorted(milvus.documents()) == sorted(faiss.documents())
    for q in QUESTIONS:
        vec = minilm.embed([q])[0]
        same = [h.id for h in faiss.search(q, k=3, mode="dense", query_vector=vec)]
        assert [h.id for h in milvus.search(q, k=3, mode="dense", query_vector=vec)] == same
        # Hybrid fuses each engine's own BM25 (Milvus Lite does not stem): the same
        # document answers, though not always the same passage of it.
        top = faiss.search(q, k=1)[0]
        hit = milvus.search(q, k=1)[0]
        assert hit.doc_id == top.doc_id, q
        stored = faiss.store.vectors([hit.id])[hit.id]  # the cosine, as the FAISS store has it
        assert hit.dense_score == pytest.approx(float(stored @ vec), abs=1e-4)
    # A second copy replaces rows by id: nothing doubles.
    assert run_index(_args(configure_index, ["copy", "demo", spec]), host) == 0
    assert len(milvus) == len(faiss)
    milvus.close()


def test_cli_and_tool_on_milvus(tmp_path, sample_docs, minilm, capsys):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    store = f"milvus:{tmp_path / 'cli.db'}"
    args = _args(configure_ingest, [str(sample_docs), "--index", "demo", "--store", store])
    assert run_ingest(args, host) == 0
    assert "index 'demo'" in capsys.readouterr().out
    index = DocumentIndex.open(f"{store}?collection=demo", minilm)
    count = len(index)
    assert count > 20 and index.store.count() == count
    summary = index.ingest(sample_docs)  # what a re-run of the command does
    assert (summary.added, summary.embedded, summary.skipped) == (0, 0, count)
    index.close()
    assert run_ingest(args, host) == 0
    capsys.readouterr()
    args = _args(configure_search, ["What does error E-204 mean?", "--index", "demo",
                                    "--store", store, "-k", "2", "--json"])
    assert run_search(args, host) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and rows[0]["id"].startswith("docs/troubleshooting.md#")
    search = DocumentSearch(Settings(home=tmp_path, index="demo",
                                     extra={"document_store": store}), embedder=minilm)
    out = search("How long is the warranty on Lumora hardware?", k=3)
    assert out.citations and out.citations[0].source_id.startswith("docs/warranty")
    assert search("Who won the 2018 football World Cup?").data["abstained"] is True
    args = _args(configure_search, ["x", "--index", "bad-name", "--store", store])
    assert run_search(args, host) == 1
    assert "letters, digits and underscores" in capsys.readouterr().out
