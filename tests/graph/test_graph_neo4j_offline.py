"""Neo4j store logic that needs no server: spec parsing and the EXPLAIN read-only gate.

The full contract runs against a real server in test_graph_contract.py when
SAPIENT_NEO4J_URI is set. Here an in-memory stand-in for the driver records what the
store asks for, so the gate's decisions are checked.
"""

from __future__ import annotations

from types import SimpleNamespace

import neo4j
import pytest
from sapient.connectors.neo4j import Neo4jStore, from_spec
from sapient.plugins.knowledge_graph import GraphError


class _Result:
    def __init__(self, query_type):
        self._type = query_type

    def consume(self):
        return SimpleNamespace(query_type=self._type)

    def keys(self):
        return ["x"]

    def __iter__(self):
        return iter([SimpleNamespace(values=lambda: [1])])


class _Session:
    def __init__(self, driver, mode):
        self.driver, self.mode = driver, mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def run(self, query, params=None):
        text = getattr(query, "text", query)
        self.driver.log.append((self.mode, text, getattr(query, "timeout", None)))
        return _Result(self.driver.kinds.get(text.removeprefix("EXPLAIN "), "r"))

    def execute_read(self, fn):
        self.driver.log.append((self.mode, "execute_read", None))
        return fn(self)


class _Driver:
    def __init__(self, kinds):
        self.kinds, self.log = kinds, []

    def session(self, database=None, default_access_mode=None):
        return _Session(self, default_access_mode)


def test_write_classified_query_never_runs():
    driver = _Driver({"MATCH (n) DETACH DELETE n": "w"})
    store = Neo4jStore("bolt://x:7687", driver=driver)
    with pytest.raises(GraphError, match="not read-only"):
        store.read_query("MATCH (n) DETACH DELETE n")
    assert driver.log == [(neo4j.READ_ACCESS, "EXPLAIN MATCH (n) DETACH DELETE n", None)]


def test_read_query_runs_on_read_session_with_timeout():
    driver = _Driver({})
    store = Neo4jStore("bolt://x:7687", driver=driver)
    rows = store.read_query("MATCH (n) RETURN 1 AS x", timeout_s=3.0)
    assert rows.rows == [[1]]
    assert driver.log[-1] == (neo4j.READ_ACCESS, "MATCH (n) RETURN 1 AS x", 3.0)
    assert all(mode == neo4j.READ_ACCESS for mode, _, _ in driver.log)


def test_spec_parsing(monkeypatch):
    monkeypatch.setenv("SAPIENT_NEO4J_PASSWORD", "pw")
    store = from_spec("neo4j://db.example:7687?database=kg")
    assert store.uri == "neo4j://db.example:7687" and store.database == "kg"
    assert store._auth == ("neo4j", "pw")
    assert from_spec("bolt://u:secret@h:7687")._auth == ("u", "secret")
    with pytest.raises(GraphError, match="not a Neo4j URI"):
        from_spec("http://h:7474")


@pytest.mark.parametrize("query", [
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",  # the server calls this a read
    "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
])
def test_file_access_and_several_statements_never_reach_the_server(query):
    driver = _Driver({})  # a server that would classify everything as a read
    store = Neo4jStore("bolt://x:7687", driver=driver)
    with pytest.raises(GraphError):
        store.read_query(query)
    assert driver.log == []
