"""Neo4j graph store through the official ``neo4j`` Python driver.

Spec: ``neo4j:bolt://host:7687`` or ``neo4j:neo4j://host:7687`` with optional
``?database=NAME``; the user and password come from ``SAPIENT_NEO4J_USER`` /
``SAPIENT_NEO4J_PASSWORD`` (or ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD``), or from
``user:password@`` in the URI.

py2neo is end-of-life (its author says so), so it is not used. Migration:
``py2neo.Graph(uri, auth=(user, pw))`` becomes
``neo4j.GraphDatabase.driver(uri, auth=(user, pw))``, or in Sapient the spec
``neo4j:<uri>`` with the password in the environment.

Untrusted queries: one statement without file access (``LOAD CSV`` is a read to
Neo4j, so the server's check alone would let it through), then ``EXPLAIN``, and
they run only if the server reports the query type ``"r"`` (read-only); then on a
READ-routed session in a read transaction with a timeout the server enforces
(``neo4j.Query(text, timeout=...)``), fetching at most ``max_rows`` rows. Memory
per query is the server's setting (``db.memory.transaction.max``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

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

__all__ = ["Neo4jStore"]


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
    """A graph store on a Neo4j server (4.4 or 5.x)."""

    def __init__(self, uri: str, *, auth: tuple[str, str] | None = None,
                 database: str | None = None, driver: Any = None) -> None:
        self.uri = uri
        self.spec = f"neo4j:{uri}"
        self.database = database
        self.version = 0
        self._auth = auth
        self._driver = driver
        self._mutex = threading.Lock()

    def _get_driver(self) -> Any:
        if self._driver is None:
            try:
                import neo4j
            except ImportError as exc:  # pragma: no cover
                raise GraphError("The Neo4j store needs the 'neo4j' driver: "
                                 "pip install 'sapient[graph]'.") from exc
            self._driver = neo4j.GraphDatabase.driver(self.uri, auth=self._auth)
        return self._driver

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _session(self, read: bool) -> Any:
        import neo4j

        mode = neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS
        return self._get_driver().session(database=self.database, default_access_mode=mode)

    def execute(self, cypher: str, params: dict[str, Any] | None = None) -> Rows:
        rows = self._run(cypher, params, read=False)
        self.version += 1
        return rows

    def _run(self, cypher: str, params: dict[str, Any] | None = None, *, read: bool = True) -> Rows:
        import neo4j.exceptions

        try:
            with self._session(read=read) as session:
                result = session.run(cypher, params or {})
                columns = list(result.keys())
                rows = [[_plain(v) for v in rec.values()] for rec in result]
        except neo4j.exceptions.Neo4jError as exc:
            raise GraphError(f"Neo4j refused the query: {exc.message or exc}") from exc
        except neo4j.exceptions.DriverError as exc:
            raise GraphError(f"Could not reach Neo4j at {self.uri}: {exc}") from exc
        return Rows(columns, rows)

    def query_type(self, cypher: str, params: dict[str, Any] | None = None) -> str | None:
        """The server's query type for ``cypher`` (``r``, ``rw``, ``w``, ``s``) via EXPLAIN."""
        import neo4j.exceptions

        try:
            with self._session(read=True) as session:
                summary = session.run("EXPLAIN " + cypher, params or {}).consume()
        except neo4j.exceptions.Neo4jError as exc:
            raise GraphError(exc.message or str(exc)) from exc
        return summary.query_type

    def read_query(self, cypher: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float = 10.0, max_rows: int = 1000) -> Rows:
        import neo4j
        import neo4j.exceptions

        cypher = read_statement(cypher)
        kind = self.query_type(cypher, params)
        if kind != "r":
            raise GraphError(f"Refused: the server classifies this query as '{kind}', not "
                             "read-only ('r').")

        def work(tx: Any) -> Rows:
            result = tx.run(neo4j.Query(cypher, timeout=timeout_s), params or {})
            columns = list(result.keys())
            rows = []
            for rec in result:
                rows.append([_plain(v) for v in rec.values()])
                if len(rows) >= max_rows:
                    break
            return Rows(columns, rows)

        try:
            with self._session(read=True) as session:
                return session.execute_read(work)
        except neo4j.exceptions.Neo4jError as exc:
            raise GraphError(exc.message or str(exc)) from exc

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
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for t in triples:
            groups.setdefault((t.head_label, t.relation, t.tail_label), []).append(
                {"h": t.head, "t": t.tail, "hp": t.head_properties, "tp": t.tail_properties,
                 "rp": t.properties})
        by_label: dict[str, list[dict[str, Any]]] = {}
        for n in nodes:
            by_label.setdefault(n.label, []).append({"n": n.name, "p": n.properties})

        def work(tx: Any) -> None:
            for label, rows in by_label.items():
                tx.run(f"UNWIND $rows AS row MERGE (a:{_q(label)} {{name: row.n}}) "
                       "SET a += row.p", rows=rows).consume()
            for (hl, rel, tl), rows in groups.items():
                tx.run(f"UNWIND $rows AS row MERGE (a:{_q(hl)} {{name: row.h}}) SET a += row.hp "
                       f"MERGE (b:{_q(tl)} {{name: row.t}}) SET b += row.tp "
                       f"MERGE (a)-[r:{_q(rel)}]->(b) SET r += row.rp", rows=rows).consume()

        with self._session(read=False) as session:
            session.execute_write(work)
        self.version += 1

    def run_script(self, text: str) -> int:
        statements = split_statements(text)

        def work(tx: Any) -> None:
            for stmt in statements:
                tx.run(stmt).consume()

        with self._session(read=False) as session:
            session.execute_write(work)
        self.version += 1
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


def _short_type(t: str) -> str:
    t = str(t).upper()
    for word in ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "LIST", "DATE"):
        if word in t:
            return {"INTEGER": "INT64", "FLOAT": "DOUBLE"}.get(word, word)
    return t


def from_spec(rest: str, settings: Any = None) -> Neo4jStore:
    """Build a store from ``neo4j:<uri>[?database=NAME]``."""
    if not rest:
        raise GraphError("Give the Neo4j URI: 'neo4j:bolt://localhost:7687'.")
    parts = urlsplit(rest)
    if parts.scheme not in ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"):
        raise GraphError(f"'{rest}' is not a Neo4j URI; use bolt://host:7687 or neo4j://host:7687.")
    database = (parse_qs(parts.query).get("database") or [None])[0]
    user = parts.username or os.environ.get("SAPIENT_NEO4J_USER") or os.environ.get(
        "NEO4J_USERNAME", "neo4j")
    password = parts.password or os.environ.get("SAPIENT_NEO4J_PASSWORD") or os.environ.get(
        "NEO4J_PASSWORD")
    host = parts.hostname or "localhost"
    netloc = f"{host}:{parts.port}" if parts.port else host
    uri = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    auth = (user, password) if password else None
    return Neo4jStore(uri, auth=auth, database=database)


@hookimpl
def register_graph_stores(register: Any) -> None:
    register("neo4j", from_spec, help="Neo4j server: neo4j:bolt://host:7687[?database=NAME]")
