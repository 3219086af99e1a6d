"""LadybugDB specifics: one Database per path per process, read-only mode, specs."""

from __future__ import annotations

import pytest
from sapient import Host, Settings
from sapient.connectors.ladybug import LadybugStore, from_spec
from sapient.plugins.knowledge_graph import GraphError, Triple


def test_two_stores_on_one_path_share_the_database(tmp_path):
    a = LadybugStore(tmp_path / "g")
    b = LadybugStore(tmp_path / "g")
    a.merge([Triple("x", "R", "y")])
    assert b.execute("MATCH (n) RETURN count(n)").rows == [[2]]
    assert a._db is b._db
    a.close()
    b.merge([Triple("y", "R", "z")])  # still open for b
    assert b.execute("MATCH ()-[r]->() RETURN count(r)").rows == [[2]]
    b.close()
    c = LadybugStore(tmp_path / "g")  # reopen from disk after both closed
    assert c.execute("MATCH ()-[r]->() RETURN count(r)").rows == [[2]]
    c.close()


def test_read_only_spec(tmp_path):
    with LadybugStore(tmp_path / "g") as w:
        w.merge([Triple("x", "R", "y")])
    ro = from_spec(f"{tmp_path / 'g'}?read_only=1")
    assert ro.read_only
    assert ro.read_query("MATCH (n) RETURN count(n)").rows == [[2]]
    with pytest.raises(GraphError, match="read-only"):
        ro.merge([Triple("a", "R", "b")])
    ro.close()


def test_read_only_missing_graph_is_a_clear_error(tmp_path):
    with pytest.raises(GraphError, match="Ingest data first"):
        from_spec(f"{tmp_path / 'nothing'}?read_only=1").schema()


def test_host_resolves_default_graph_spec(tmp_path):
    host = Host(Settings(home=tmp_path), plugins=[__import__(
        "sapient.connectors.ladybug", fromlist=["x"])], load_entrypoints=False)
    store = host.graph_store()
    assert isinstance(store, LadybugStore)
    assert store.path == str(tmp_path / "graphs" / "default")
    store.close()


def test_failed_batch_writes_nothing(tmp_path):
    store = LadybugStore(tmp_path / "g")
    store.merge([Triple("a", "R", "b", properties={"w": 1})])
    before = store.execute("MATCH (n) RETURN count(n)").rows
    with pytest.raises(GraphError):  # 'w' is INT64; a string cannot go in
        store.merge([Triple("c", "R", "d"), Triple("e", "R", "f", properties={"w": "heavy"})])
    assert store.execute("MATCH (n) RETURN count(n)").rows == before
    store.close()
