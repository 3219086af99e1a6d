"""Stores are found by scheme through the host: built-ins, and a plugin's replacement."""

from __future__ import annotations

import numpy as np
import pytest
from sapient import Host, Settings
from sapient.connectors.docstore import Chunk
from sapient.connectors.faiss import FaissStore
from sapient.core.errors import ConfigurationError
from sapient.core.hookspecs import hookimpl
from sapient.plugins.retrieval import DocumentIndex


def test_built_in_schemes_and_a_plugin_that_replaces_one(tmp_path):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    stores = host.registry("document_stores")
    assert {"faiss", "milvus"} <= set(stores)
    assert stores["faiss"].plugin == "sapient.plugins.retrieval"
    store = host.document_store(f"faiss:{tmp_path / 'ix'}")
    assert isinstance(store, FaissStore) and not store.exists
    with pytest.raises(ConfigurationError, match="Unknown document store"):
        host.document_store("nosuch:x")

    opened = []

    class Recording(FaissStore):
        pass

    class MyStores:
        @hookimpl
        def register_document_stores(self, register):
            def factory(rest, settings):
                opened.append(rest)
                return Recording.open(rest)

            register("faiss", factory, help="a plugin's FAISS")

    host = Host(Settings(home=tmp_path), plugins=[MyStores()], load_entrypoints=False)
    assert host.registry("document_stores")["faiss"].replaced == "sapient.plugins.retrieval"
    index = DocumentIndex.open(f"faiss:{tmp_path / 'mine'}", "test:axes", create=True,
                               host=host)
    assert isinstance(index.store, Recording) and opened == [str(tmp_path / "mine")]
    index.add_texts(["one chunk"], ids=["a"], embeddings=np.eye(1, 4, dtype=np.float32))
    index.save()
    again = DocumentIndex.open(f"faiss:{tmp_path / 'mine'}", host=host)
    assert isinstance(again.store, Recording) and len(opened) == 2
    chunk = again.get("a")
    assert isinstance(chunk, Chunk) and (chunk.doc_id, chunk.text) == ("a", "one chunk")
    assert again.store.info()["embedder"] == "test:axes"
