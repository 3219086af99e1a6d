"""Neo4j graph store through the official ``neo4j`` Python driver, single server or cluster.

Spec: ``neo4j:bolt://host:7687`` (one server) or ``neo4j:neo4j://host:7687`` /
``neo4j:neo4j+s://host:7687`` (a cluster or Aura: the driver fetches the routing table
and sends reads to readers, writes to the leader), with optional ``?database=NAME``;
other query parameters of a ``neo4j://`` URI are the routing context and go to the
driver. The user and password come from ``SAPIENT_NEO4J_USER`` /
``SAPIENT_NEO4J_PASSWORD`` (or ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD``), or from
``user:password@`` in the URI (never kept in the spec).

Every query runs in a managed transaction (``Session.execute_read`` /
``execute_write``): reads are routed to readers, and the driver retries transient
cluster errors (leader switch, a reader gone, deadlock) for up to its
``max_transaction_retry_time`` (30 s by default) with backoff, so there is no retry
loop here. Each transaction function only reads rows or runs idempotent ``MERGE``
batches, so running it again is safe. The only exception is a trusted statement with
``CALL { ... } IN TRANSACTIONS`` (or ``USING PERIODIC COMMIT``), which Neo4j runs only
as an auto-commit query and the driver cannot retry. All sessions of one store share a
bookmark manager, so a read sees the store's earlier writes even on another cluster
member (causal consistency). Writes are batched ``UNWIND $rows`` statements of at most
:data:`WRITE_BATCH` rows, one transaction per ``merge`` call.

py2neo is end-of-life (its author says so), so it is not used. Migration:
``py2neo.Graph(uri, auth=(user, pw))`` becomes
``neo4j.GraphDatabase.driver(uri, auth=(user, pw))``, or in Sapient the spec
``neo4j:<uri>`` with the password in the environment.

Untrusted queries: one statement without file access (``LOAD CSV`` is a read to
Neo4j, so the server's check alone would let it through), then ``EXPLAIN``, and
they run only if the server reports the query type ``"r"`` (read-only); then in a
read transaction (routed to a reader) with a timeout the server enforces
(``neo4j.unit_of_work(timeout=...)``), fetching at most ``max_rows`` rows. Memory
per query is the server's setting (``db.memory.transaction.max``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from sapient.connectors.graph import (
    Edge,
    GraphError,
    GraphSchema,
    Node,
    NodeLabel,
    RelType,
    Rows,
    Triple,
    read_statement,
    split_statements,
)
from sapient.core.hookspecs import hookimpl

__all__ = ["Neo4jStore", "from_spec", "merge_statements", "WRITE_BATCH", "ROUTING_SCHEMES",
           "DIRECT_SCHEMES"]

#: Rows per ``UNWIND`` statement (Neo4j's guidance: thousands of rows per statement).
WRITE_BATCH = 1000
#: URI schemes of a cluster (routing driver) and of one server (direct driver).
ROUTING_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc")
DIRECT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc")
#: Statements Neo4j runs only as auto-commit queries (not in a managed transaction).
_AUTO_COMMIT = re.compile(r"\bIN\s+(?:\S+\s+)?(?:CONCURRENT\s+)?TRANSACTIONS\b"
                          r"|\bUSING\s+PERIODIC\s+COMMIT\b", re.IGNORECASE)


def _q(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


def _plain(value: Any) -> Any:
    """Turn driver graph objects into plain values (nodes and relationships to dicts)."""
    try:
        from neo4j.graph import Node as NeoNode
        from neo4j.graph import Path as NeoPath
        from neo4j.graph import Relationship
    except ImportError:  # pragma: no cover
        return value
    if isinstance(value, NeoNode):
        return {"_label": next(iter(value.labels), ""), **dict(value)}
    if isinstance(value, Relationship):
        return {"_label": value.type, **dict(value)}
    if isinstance(value, NeoPath):
        return {"nodes": [_plain(n) for n in value.nodes],
                "rels": [_plain(r) for r in value.relationships]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Neo4jStore:
    """A graph store on a Neo4j server or cluster (4.4 or 5.x).

    Args:
        uri: ``bolt://``, ``bolt+s://`` (one server) or ``neo4j://``, ``neo4j+s://``
            (routing: a cluster or Aura), without credentials.
        auth: ``(user, password)``.
        database: the database to use (default: the server's default database).
        driver: an already built ``neo4j.Driver`` to use instead (its owner may close it).
        driver_options: extra ``GraphDatabase.driver`` settings, e.g.
            ``{"max_transaction_retry_time": 60}``.
    """

    def __init__(self, uri: str, *, auth: tuple[str, str] | None = None,
                 database: str | None = None, driver: Any = None,
                 driver_options: dict[str, Any] | None = None) -> None:
        self.uri = uri
        self.spec = f"neo4j:{uri}"
        self.database = database
        self.version = 0
        self._auth = auth
        self._driver = driver
        self._options = dict(driver_options or {})
        self._bookmarks: Any = None

    @property
    def routing(self) -> bool:
        """True for a ``neo4j://`` URI: reads go to readers, writes to the leader."""
        return urlsplit(self.uri).scheme in ROUTING_SCHEMES

    def _get_driver(self) -> Any:
        if self._driver is None:
            neo4j = _neo4j()
            try:
                self._driver = neo4j.GraphDatabase.driver(self.uri, auth=self._auth,
                                                          **self._options)
            except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
                raise GraphError(f"Cannot use the Neo4j URI {self.uri}: {exc}") from exc
        return self._driver

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        """A session sharing the store's bookmarks (reads see the store's writes); driver
        and server errors become one plain GraphError."""
        neo4j = _neo4j()
        driver = self._get_driver()
        if self._bookmarks is None:
            self._bookmarks = neo4j.GraphDatabase.bookmark_manager()
        try:
            with driver.session(database=self.database,
                                bookmark_manager=self._bookmarks) as session:
                yield session
        except neo4j.exceptions.Neo4jError as exc:
            raise GraphError(f"Neo4j refused the query: {exc.message or exc}") from exc
        except neo4j.exceptions.DriverError as exc:
            raise GraphError(f"Could not reach Neo4j at {self.uri}: {exc}") from exc

    def _read(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work(tx)`` in a read transaction: routed to a reader, retried by the
        driver on transient errors."""
        with self._session() as session:
            return session.execute_read(work)

    def _write(self, work: Callable[[Any], Any]) -> Any:
        """Run ``work(tx)`` in a write transaction (the leader), retried by the driver."""
        with self._session() as session:
            result = session.execute_write(work)
        self.version += 1
        return result

    def execute(self, cypher: str, params: dict[str, Any] | None = None) -> Rows:
        """Run trusted Cypher in a write transaction and return its rows."""
        if _AUTO_COMMIT.search(cypher):
            return self._auto_commit(cypher, params)
        return self._write(lambda tx: _collect(tx.run(cypher, params or {})))

    def _auto_commit(self, cypher: str, params: dict[str, Any] | None) -> Rows:
        """``CALL {...} IN TRANSACTIONS`` runs only as an auto-commit query, which the
        driver does not retry (it commits batches itself)."""
        with self._session() as session:
            rows = _collect(session.run(cypher, params or {}))
        self.version += 1
        return rows

    def _run(self, cypher: str, params: dict[str, Any] | None = None) -> Rows:
        """Run a read-only statement of this module in a read transaction."""
        return self._read(lambda tx: _collect(tx.run(cypher, params or {})))

    def query_type(self, cypher: str, params: dict[str, Any] | None = None) -> str | None:
        """The server's query type for ``cypher`` (``r``, ``rw``, ``w``, ``s``) via EXPLAIN."""
        return self._read(lambda tx: tx.run("EXPLAIN " + cypher, params or {}).consume()
                          ).query_type

    def read_query(self, cypher: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float = 10.0, max_rows: int = 1000) -> Rows:
        neo4j = _neo4j()
        cypher = read_statement(cypher)
        kind = self.query_type(cypher, params)
        if kind != "r":
            raise GraphError(f"Refused: the server classifies this query as '{kind}', not "
                             "read-only ('r').")

        @neo4j.unit_of_work(timeout=timeout_s)  # the server ends the transaction after it
        def work(tx: Any) -> Rows:
            return _collect(tx.run(cypher, params or {}), max_rows)

        return self._read(work)

    def schema(self) -> GraphSchema:
        out = GraphSchema()
        labels = [r[0] for r in self._run("CALL db.labels() YIELD label RETURN label").rows]
        for label in labels:
            count = self._run(f"MATCH (n:{_q(label)}) RETURN count(n)").rows[0][0]
            keys = self._property_types(f"MATCH (n:{_q(label)}) WITH n AS x LIMIT 1000")
            out.nodes[label] = NodeLabel(label, int(count), {k: _short_type(t) for k, t in keys})
        types = [r[0] for r in self._run(
            "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType").rows]
        for rel in types:
            count = self._run(f"MATCH ()-[r:{_q(rel)}]->() RETURN count(r)").rows[0][0]
            ends = self._run(
                f"MATCH (a)-[r:{_q(rel)}]->(b) WITH a, b LIMIT 1000 "
                "RETURN DISTINCT labels(a)[0], labels(b)[0]").rows
            keys = self._property_types(f"MATCH ()-[r:{_q(rel)}]->() WITH r AS x LIMIT 1000")
            out.rels[rel] = RelType(rel, int(count), {k: _short_type(t) for k, t in keys},
                                    [(a, b) for a, b in ends])
        return out

    def _property_types(self, match: str) -> list[tuple[str, str]]:
        """Property names and types; ``valueType`` needs Neo4j 5.13+, older ones get ANY."""
        try:
            return [(k, t) for k, t in self._run(
                f"{match} UNWIND keys(x) AS k RETURN DISTINCT k, valueType(x[k])").rows]
        except GraphError:
            return [(r[0], "ANY") for r in self._run(
                f"{match} UNWIND keys(x) AS k RETURN DISTINCT k").rows]

    def merge(self, triples: Sequence[Triple], nodes: Sequence[Node] = ()) -> None:
        """MERGE nodes and triples in one write transaction of batched ``UNWIND``
        statements (idempotent, so the driver may safely run it again)."""
        statements = merge_statements(triples, nodes)
        if not statements:
            return

        def work(tx: Any) -> None:
            for cypher, rows in statements:
                tx.run(cypher, rows=rows).consume()

        self._write(work)

    def run_script(self, text: str) -> int:
        statements = split_statements(text)

        def work(tx: Any) -> None:
            for stmt in statements:
                tx.run(stmt).consume()

        self._write(work)
        return len(statements)

    def clear(self) -> None:
        self.execute("MATCH (n) DETACH DELETE n")

    def node_names(self) -> list[tuple[str, str]]:
        rows = self._run("MATCH (n) WHERE n.name IS NOT NULL RETURN labels(n)[0], n.name").rows
        return [(a, str(b)) for a, b in rows]

    def edges(self, names: Sequence[str]) -> list[Edge]:
        rows = self._run(
            "MATCH (a)-[r]-(b) WHERE a.name IN $names "
            "RETURN labels(startNode(r))[0], startNode(r).name, type(r), "
            "labels(endNode(r))[0], endNode(r).name", {"names": list(names)}).rows
        return sorted({Edge(*row) for row in rows}, key=lambda e: (e.src, e.relation, e.dst))

    def neighborhood(self, name: str, hops: int, limit: int = 1000) -> list[str]:
        rows = self._run(
            f"MATCH (a {{name: $name}})-[*1..{int(hops)}]-(b) WHERE b.name <> $name "
            f"RETURN DISTINCT b.name LIMIT {int(limit)}", {"name": name}).rows
        return [r[0] for r in rows]


def _neo4j() -> Any:
    try:
        import neo4j
    except ImportError as exc:  # pragma: no cover
        raise GraphError("The Neo4j store needs the 'neo4j' driver: "
                         "pip install 'sapient[graph]'.") from exc
    return neo4j


def _collect(result: Any, max_rows: int | None = None) -> Rows:
    """Columns and plain-valued rows of a driver result (at most ``max_rows``), read
    inside the transaction so a retried transaction starts over cleanly."""
    columns = list(result.keys())
    rows = []
    for rec in result:
        rows.append([_plain(v) for v in rec.values()])
        if max_rows is not None and len(rows) >= max_rows:
            break
    return Rows(columns, rows)


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def merge_statements(triples: Sequence[Triple], nodes: Sequence[Node] = (),
                     batch: int = WRITE_BATCH) -> list[tuple[str, list[dict[str, Any]]]]:
    """The ``(cypher, rows)`` pairs that MERGE ``nodes`` and ``triples``: one
    ``UNWIND $rows`` statement per label (nodes) or per (head label, relation, tail
    label) and per ``batch`` rows, nodes first. Labels and relation names are quoted
    identifiers; every value travels as a parameter."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        by_label.setdefault(n.label, []).append({"n": n.name, "p": n.properties})
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for t in triples:
        groups.setdefault((t.head_label, t.relation, t.tail_label), []).append(
            {"h": t.head, "t": t.tail, "hp": t.head_properties, "tp": t.tail_properties,
             "rp": t.properties})
    out = []
    for label, rows in by_label.items():
        cypher = f"UNWIND $rows AS row MERGE (a:{_q(label)} {{name: row.n}}) SET a += row.p"
        out.extend((cypher, part) for part in _chunks(rows, batch))
    for (hl, rel, tl), rows in groups.items():
        cypher = (f"UNWIND $rows AS row MERGE (a:{_q(hl)} {{name: row.h}}) SET a += row.hp "
                  f"MERGE (b:{_q(tl)} {{name: row.t}}) SET b += row.tp "
                  f"MERGE (a)-[r:{_q(rel)}]->(b) SET r += row.rp")
        out.extend((cypher, part) for part in _chunks(rows, batch))
    return out


def _short_type(t: str) -> str:
    t = str(t).upper()
    for word in ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "LIST", "DATE"):
        if word in t:
            return {"INTEGER": "INT64", "FLOAT": "DOUBLE"}.get(word, word)
    return t


def from_spec(rest: str, settings: Any = None) -> Neo4jStore:
    """Build a store from ``neo4j:<uri>[?database=NAME]`` (see the module docstring)."""
    if not rest:
        raise GraphError("Give the Neo4j URI: 'neo4j:bolt://localhost:7687' for one server, "
                         "'neo4j:neo4j://host:7687' for a cluster.")
    parts = urlsplit(rest)
    if parts.scheme not in (*ROUTING_SCHEMES, *DIRECT_SCHEMES):
        raise GraphError(f"'{rest}' is not a Neo4j URI; use bolt://host:7687 for one server or "
                         "neo4j://host:7687 (neo4j+s:// with TLS) for a cluster.")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        port = parts.port
    except ValueError as exc:
        raise GraphError(f"'{rest}' is not a valid Neo4j URI ({exc}).") from exc
    database = (query.pop("database", None) or [None])[0]
    if query and parts.scheme in DIRECT_SCHEMES:
        raise GraphError(f"Only the database can be chosen in a {parts.scheme}:// URI, got "
                         f"{sorted(query)}; routing parameters need a neo4j:// URI.")
    user = parts.username or os.environ.get("SAPIENT_NEO4J_USER") or os.environ.get(
        "NEO4J_USERNAME", "neo4j")
    password = parts.password or os.environ.get("SAPIENT_NEO4J_PASSWORD") or os.environ.get(
        "NEO4J_PASSWORD")
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{port}" if port else host
    routing = urlencode({k: v[-1] for k, v in query.items()})  # the driver's routing context
    uri = urlunsplit((parts.scheme, netloc, parts.path, routing, ""))
    auth = (user, password) if password else None
    return Neo4jStore(uri, auth=auth, database=database)


@hookimpl
def register_graph_stores(register: Any) -> None:
    register("neo4j", from_spec, help="Neo4j server or cluster: neo4j:bolt://host:7687 or "
             "neo4j:neo4j://host:7687[?database=NAME]")
