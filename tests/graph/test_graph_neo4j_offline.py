"""Neo4j store behaviour that needs no server, checked with the real ``neo4j`` driver.

URIs are validated by our parser and then by the driver itself (building a driver
connects to nothing). How queries run is observed on the driver's own ``Session``:
the store talks to a closed loopback port, so every call ends in the driver's
ServiceUnavailable, after the store has chosen a managed read or write transaction
(or, for ``IN TRANSACTIONS``, an auto-commit query); the driver's retry of transient
errors shows in its own log. The full graph contract runs against a real server in
test_graph_contract.py when SAPIENT_NEO4J_URI is set.
"""

from __future__ import annotations

import logging
import socket

import neo4j
import pytest
from sapient.connectors.graph import Node, Triple
from sapient.connectors.neo4j import Neo4jStore, from_spec, merge_statements
from sapient.plugins.knowledge_graph import GraphError


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, object]]:
    """Which Session method the store used, with the transaction function or query."""
    seen: list[tuple[str, object]] = []
    for name in ("execute_read", "execute_write", "run"):
        original = getattr(neo4j.Session, name)

        def spy(self, work, *args, _name=name, _original=original, **kwargs):
            seen.append((_name, work))
            return _original(self, work, *args, **kwargs)

        monkeypatch.setattr(neo4j.Session, name, spy)
    return seen


def _store(scheme: str, port: int, retry_s: float = 0.0) -> Neo4jStore:
    uri = f"{scheme}://127.0.0.1:{port}"
    driver = neo4j.GraphDatabase.driver(uri, max_transaction_retry_time=retry_s)
    return Neo4jStore(uri, driver=driver)


READS = [
    ("node_names", ()), ("edges", (["Alice"],)), ("neighborhood", ("Alice", 2)),
    ("schema", ()), ("query_type", ("MATCH (n) RETURN n",)),
]
WRITES = [
    ("merge", ([Triple("Alice", "KNOWS", "Bob", "Person", "Person")],)),
    ("run_script", ("CREATE (:Person {name: 'A'})",)),
    ("execute", ("MERGE (:Person {name: 'A'})",)),
    ("clear", ()),
]


@pytest.mark.parametrize("scheme", ["neo4j", "bolt"])
@pytest.mark.parametrize(("method", "args"), READS)
def test_reads_run_in_managed_read_transactions(calls, closed_port, scheme, method, args):
    store = _store(scheme, closed_port)
    with pytest.raises(GraphError, match="Could not reach Neo4j"):
        getattr(store, method)(*args)
    store.close()
    assert [name for name, _ in calls] == ["execute_read"]


@pytest.mark.parametrize(("method", "args"), WRITES)
def test_writes_run_in_managed_write_transactions(calls, closed_port, method, args):
    store = _store("neo4j", closed_port)
    with pytest.raises(GraphError, match="Could not reach Neo4j"):
        getattr(store, method)(*args)
    store.close()
    assert [name for name, _ in calls] == ["execute_write"]


def test_in_transactions_statement_runs_auto_commit(calls, closed_port):
    """Neo4j accepts CALL { } IN TRANSACTIONS only outside a managed transaction."""
    store = _store("neo4j", closed_port)
    with pytest.raises(GraphError):
        store.execute("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 500 ROWS")
    store.close()
    assert [name for name, _ in calls] == ["run"]


def test_read_query_timeout_is_a_transaction_setting(calls, closed_port, monkeypatch):
    """A Query object is refused inside a managed transaction (TypeError from the
    driver): the timeout rides on the transaction function (``unit_of_work``)."""
    store = _store("neo4j", closed_port)
    monkeypatch.setattr(store, "query_type", lambda cypher, params=None: "r")
    with pytest.raises(GraphError):
        store.read_query("MATCH (n) RETURN n.name", timeout_s=3.0)
    store.close()
    [(name, work)] = calls
    assert name == "execute_read" and work.timeout == 3.0


def test_write_classified_query_never_runs(calls, closed_port, monkeypatch):
    store = _store("neo4j", closed_port)
    monkeypatch.setattr(store, "query_type", lambda cypher, params=None: "w")
    with pytest.raises(GraphError, match="not read-only"):
        store.read_query("MATCH (n) DETACH DELETE n")
    assert calls == []


@pytest.mark.parametrize("query", [
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",  # the server calls this a read
    "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
])
def test_file_access_and_several_statements_never_reach_the_server(calls, closed_port, query):
    store = _store("neo4j", closed_port)
    with pytest.raises(GraphError):
        store.read_query(query)
    assert calls == []


@pytest.mark.parametrize("method", ["node_names", "merge"])
def test_transient_errors_are_retried_by_the_driver(closed_port, caplog, method):
    """ServiceUnavailable is transient: the driver's managed transaction retries it
    (its own log line) before the store reports one plain error."""
    store = _store("neo4j", closed_port, retry_s=0.5)
    args = ([Triple("A", "KNOWS", "B")],) if method == "merge" else ()
    with caplog.at_level(logging.WARNING, logger="neo4j"), pytest.raises(GraphError):
        getattr(store, method)(*args)
    store.close()
    assert any("will be retried" in r.getMessage() for r in caplog.records)


def test_write_batches_are_unwind_statements():
    triples = [Triple(f"p{i}", "KNOWS", "O'Brien", "Person", "Person") for i in range(2500)]
    triples.append(Triple("Acme", "LOCATED_IN", "Paris", "Company", "City"))
    nodes = [Node(f"n{i}", "Person", {"age": i}) for i in range(1200)]
    statements = merge_statements(triples, nodes, batch=1000)
    sizes = [len(rows) for _, rows in statements]
    assert sizes == [1000, 200, 1000, 1000, 500, 1]  # nodes first, then each relation
    assert all(cypher.startswith("UNWIND $rows AS row MERGE ") for cypher, _ in statements)
    assert all("O'Brien" not in cypher for cypher, _ in statements)  # values are parameters
    assert statements[2][1][0] == {"h": "p0", "t": "O'Brien", "hp": {}, "tp": {}, "rp": {}}
    assert "`LOCATED_IN`" in statements[-1][0]
    assert merge_statements([], []) == []


def test_label_cannot_break_out_of_its_identifier():
    [(cypher, _)] = merge_statements([], [Node("x", "Person`) DETACH DELETE (n")])
    assert "`Person) DETACH DELETE (n`" in cypher


@pytest.mark.parametrize(("spec", "driver_class", "routing"), [
    ("neo4j://db.example:7687", neo4j.Neo4jDriver, True),
    ("neo4j+s://abc.databases.neo4j.io", neo4j.Neo4jDriver, True),
    ("neo4j+ssc://db.example:7687", neo4j.Neo4jDriver, True),
    ("bolt://db.example:7687", neo4j.BoltDriver, False),
    ("bolt+s://db.example:7687", neo4j.BoltDriver, False),
])
def test_uri_schemes_give_the_driver_they_name(spec, driver_class, routing):
    store = from_spec(spec)
    assert store.routing is routing
    assert isinstance(store._get_driver(), driver_class)  # building connects to nothing
    store.close()


def test_spec_parsing(monkeypatch):
    monkeypatch.setenv("SAPIENT_NEO4J_PASSWORD", "pw")
    store = from_spec("neo4j://db.example:7687?database=kg&region=eu")
    assert store.uri == "neo4j://db.example:7687?region=eu" and store.database == "kg"
    assert store._auth == ("neo4j", "pw")
    store._get_driver()  # the driver accepts the routing context
    store.close()
    secret = from_spec("neo4j+s://u:secret@h:7687")
    assert secret._auth == ("u", "secret") and "secret" not in secret.spec + secret.uri
    assert from_spec("bolt://[::1]:7687").uri == "bolt://[::1]:7687"


@pytest.mark.parametrize(("spec", "message"), [
    ("http://h:7474", "not a Neo4j URI"),
    ("", "Give the Neo4j URI"),
    ("bolt://h:7687?region=eu", "need a neo4j:// URI"),
    ("neo4j://h:port", "not a valid Neo4j URI"),
])
def test_bad_specs_say_what_to_use(spec, message):
    with pytest.raises(GraphError, match=message):
        from_spec(spec)


def test_driver_rejects_bad_routing_context():
    store = from_spec("neo4j://h:7687?address=other:7687")  # the driver reserves 'address'
    with pytest.raises(GraphError, match="Cannot use the Neo4j URI.*reserved"):
        store._get_driver()
