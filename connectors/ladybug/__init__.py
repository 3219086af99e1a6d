"""LadybugDB graph store: an embedded, file-backed Cypher database (Kùzu lineage).

Spec: ``ladybug:/path/to/graph`` (one file, created on first write, with a
``.wal`` beside it while open); ``ladybug::memory:`` for a throw-away in-memory
graph. Options after ``?``: ``read_only=1`` opens an existing graph read-only;
``query_memory_mb=N`` and ``query_threads=N`` bound model-written queries.

LadybugDB needs typed tables. The store creates a node table per label (key
``name``, plus one column per property seen) and a relationship table per type
(with every ``FROM label TO label`` pair seen) when data arrives, so that ordinary
Cypher such as ``MATCH (n:Person)-[r:KNOWS]->(m:Person) RETURN n.name, m.name``
runs on it as on Neo4j.

One ``Database`` object is shared per file inside a process (two writable ones on
one file would corrupt it) and the file is checked before it is opened
(``_files.py``); each store keeps its own connections. Untrusted queries
(:meth:`LadybugStore.read_query`) must be one statement without file access, and
run in a child process (one per store, kept between queries) that opens the file
read-only under time, memory, row and file limits (``_bounded.py``, ``_sandbox.py``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sapient.connectors.graph import (
    CypherSyntaxError,
    Edge,
    GraphError,
    GraphSchema,
    Node,
    NodeLabel,
    RelType,
    Rows,
    Triple,
    cypher_identifier,
    parse_create,
    property_type,
    read_statement,
    split_statements,
    tokenize,
)
from sapient.core.hookspecs import hookimpl

from ._bounded import QueryLimits, QueryWorker
from ._files import DamagedGraphError, import_ladybug, open_database, release

__all__ = ["DamagedGraphError", "LadybugStore", "QueryLimits", "from_spec", "open_database"]


def _q(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


class LadybugStore:
    """A graph store on an embedded LadybugDB database.

    Args:
        path: the graph file, or ``":memory:"``.
        read_only: open an existing graph without the right to write (and without
            touching its file).
        limits: bounds for :meth:`read_query` (time and rows are per call).
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False,
                 limits: QueryLimits | None = None) -> None:
        self.path = str(path)
        self.read_only = read_only
        self.limits = limits or QueryLimits()
        self.spec = f"ladybug:{self.path}"
        self.version = 0
        self._db: Any = None
        self._conn: Any = None
        self._reader: Any = None
        self._worker: QueryWorker | None = None
        self._mutex = threading.RLock()
        self._table_cache: tuple[int, dict[str, Any], dict[str, Any]] | None = None

    # -- connections ---------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None:
            lb = import_ladybug()
            self._db = open_database(self.path, self.read_only, owner=self)
            self._conn = lb.Connection(self._db)
        return self._conn

    def _read_connection(self) -> Any:
        if self._reader is None:
            self._connection()
            self._reader = import_ladybug().Connection(self._db)
        return self._reader

    def close(self) -> None:
        with self._mutex:
            for conn in (self._reader, self._conn):
                if conn is not None:
                    conn.close()
            self._reader = self._conn = None
            if self._worker is not None:
                self._worker.close()
                self._worker = None
            if self._db is not None:
                release(self._db)
                self._db = None

    def __enter__(self) -> LadybugStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _rows(result: Any) -> Rows:
        if isinstance(result, list):  # several statements: the last one's rows
            result = result[-1]
        return Rows(list(result.get_column_names()), [list(r) for r in result.get_all()])

    def execute(self, cypher: str, params: dict[str, Any] | None = None) -> Rows:
        """Run trusted Cypher written by the application (reads or writes)."""
        with self._mutex:
            try:
                rows = self._rows(self._connection().execute(cypher, params or {}))
            except RuntimeError as exc:
                raise GraphError(f"LadybugDB refused the query: {exc}") from exc
            if not self.read_only:
                self.version += 1
            return rows

    def read_query(self, cypher: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float = 10.0, max_rows: int = 1000) -> Rows:
        """Run untrusted Cypher: one statement, no file access, read-only, bounded.

        A file-backed graph runs it in a child process under the store's
        :class:`QueryLimits` (time, memory, threads, rows, no file access);
        raises :class:`~sapient.connectors.graph.QueryLimitError` when a limit
        stopped it. An in-memory graph cannot be shared with a child, so there the
        query runs in a read-only transaction with the database's timeout only.
        """
        statement = read_statement(cypher)
        limits = replace(self.limits, timeout_s=timeout_s, max_rows=max_rows)
        with self._mutex:
            self._connection()  # checks the file (and creates a new graph's file)
            if self.path == ":memory:":
                return self._read_in_process(statement, params, limits)
            self._worker = self._worker or QueryWorker()
            return self._worker.run(str(Path(self.path).expanduser().resolve()), statement,
                                    params, limits)

    def _read_in_process(self, statement: str, params: dict[str, Any] | None,
                         limits: QueryLimits) -> Rows:
        conn = self._read_connection()
        conn.set_query_timeout(max(1, int(limits.timeout_s * 1000)))
        conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            result = conn.execute(statement, params or {})
            columns = list(result.get_column_names())
            rows = [list(r) for r in result.get_n(limits.max_rows)]
        except RuntimeError as exc:
            raise GraphError(str(exc)) from exc
        finally:
            with contextlib.suppress(RuntimeError):
                conn.execute("ROLLBACK")  # nothing to keep; already gone after an error
        return Rows(columns, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        conn = self._connection()
        conn.execute("BEGIN TRANSACTION")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(RuntimeError):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- schema --------------------------------------------------------------------

    def _tables(self) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
        cached = self._table_cache
        if cached is not None and cached[0] == self.version:
            return {k: dict(v) for k, v in cached[1].items()}, {k: dict(v) for k, v in cached[2].items()}
        conn = self._connection()
        nodes: dict[str, dict[str, str]] = {}
        rels: dict[str, dict[str, str]] = {}
        for row in conn.execute("CALL show_tables() RETURN name, type").get_all():
            name, kind = row[0], row[1]
            if kind not in ("NODE", "REL"):
                continue
            info = conn.execute(f"CALL table_info('{name}') RETURN *").get_all()
            props = {r[1]: r[2] for r in info}
            (nodes if kind == "NODE" else rels)[name] = props
        self._table_cache = (self.version, nodes, rels)
        return {k: dict(v) for k, v in nodes.items()}, {k: dict(v) for k, v in rels.items()}

    def _connections(self, rel: str) -> list[tuple[str, str]]:
        rows = self._connection().execute(f"CALL show_connection('{rel}') RETURN *").get_all()
        return [(r[0], r[1]) for r in rows]

    def schema(self) -> GraphSchema:
        with self._mutex:
            conn = self._connection()
            nodes, rels = self._tables()
            out = GraphSchema()
            for name, props in sorted(nodes.items()):
                count = conn.execute(f"MATCH (n:{_q(name)}) RETURN count(*)").get_all()[0][0]
                out.nodes[name] = NodeLabel(name, int(count), props)
            for name, props in sorted(rels.items()):
                count = conn.execute(f"MATCH ()-[r:{_q(name)}]->() RETURN count(*)").get_all()[0][0]
                out.rels[name] = RelType(name, int(count), props, self._connections(name))
            return out

    # -- writing -------------------------------------------------------------------

    def _ensure_tables(self, triples: Sequence[Triple], nodes: Sequence[Node]) -> None:
        """Create missing node/rel tables, columns and FROM-TO pairs (DDL, idempotent)."""
        conn = self._connection()
        node_props: dict[str, dict[str, str]] = {}
        rel_props: dict[str, dict[str, str]] = {}
        pairs: dict[str, set[tuple[str, str]]] = {}

        def add_props(target: dict[str, str], props: dict[str, Any]) -> None:
            for key, value in props.items():
                if key != "name" and value is not None:
                    target.setdefault(key, property_type(value))

        for n in nodes:
            add_props(node_props.setdefault(n.label, {}), n.properties)
        for t in triples:
            add_props(node_props.setdefault(t.head_label, {}), t.head_properties)
            add_props(node_props.setdefault(t.tail_label, {}), t.tail_properties)
            add_props(rel_props.setdefault(t.relation, {}), t.properties)
            pairs.setdefault(t.relation, set()).add((t.head_label, t.tail_label))
        existing_nodes, existing_rels = self._tables()
        for label, props in node_props.items():
            if label not in existing_nodes:
                conn.execute(f"CREATE NODE TABLE IF NOT EXISTS {_q(label)}(name STRING PRIMARY KEY)")
                existing_nodes[label] = {"name": "STRING"}
            for key, kind in props.items():
                if key not in existing_nodes[label]:
                    conn.execute(f"ALTER TABLE {_q(label)} ADD IF NOT EXISTS {_q(key)} {kind}")
        for rel, wanted in pairs.items():
            if rel in existing_nodes:
                raise GraphError(f"'{rel}' is already a node label; use another relationship name.")
            if rel not in existing_rels:
                first = sorted(wanted)[0]
                conn.execute(f"CREATE REL TABLE IF NOT EXISTS {_q(rel)}"
                             f"(FROM {_q(first[0])} TO {_q(first[1])})")
                existing_rels[rel] = {}
            have = set(self._connections(rel))
            for a, b in sorted(wanted - have):
                conn.execute(f"ALTER TABLE {_q(rel)} ADD FROM {_q(a)} TO {_q(b)}")
            for key, kind in rel_props.get(rel, {}).items():
                if key not in existing_rels[rel]:
                    conn.execute(f"ALTER TABLE {_q(rel)} ADD IF NOT EXISTS {_q(key)} {kind}")
        self.version += 1  # tables may have changed

    def merge(self, triples: Sequence[Triple], nodes: Sequence[Node] = ()) -> None:
        """Idempotently add nodes and triples; all of them or none (one transaction)."""
        if self.read_only:
            raise GraphError(f"The graph {self.spec} is open read-only; open it without "
                             "'?read_only=1' to add data.")
        if not triples and not nodes:
            return
        with self._mutex:
            try:
                self._ensure_tables(triples, nodes)
                with self._transaction() as conn:
                    self._merge_nodes(conn, nodes)
                    self._merge_triples(conn, triples)
            except RuntimeError as exc:
                raise GraphError(f"LadybugDB refused the data (nothing was written from this "
                                 f"batch): {exc}") from exc
            finally:
                self.version += 1

    @staticmethod
    def _set_clause(var: str, keys: Sequence[str], prefix: str) -> str:
        return "".join(f" SET {var}.{_q(k)} = row.{prefix}{k}" for k in keys)

    def _merge_nodes(self, conn: Any, nodes: Sequence[Node]) -> None:
        # Deduplicate first: a MERGE inside one UNWIND does not see rows merged earlier
        # in the same batch (LadybugDB 0.22), so each name must appear once.
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for n in nodes:
            props = merged.setdefault((n.label, n.name), {})
            props.update({k: v for k, v in n.properties.items() if k != "name" and v is not None})
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for (label, name), props in merged.items():
            keys = tuple(sorted(props))
            groups.setdefault((label, keys), []).append(
                {"n": name, **{f"p_{k}": props[k] for k in keys}})
        for (label, keys), rows in groups.items():
            conn.execute(f"UNWIND $rows AS row MERGE (a:{_q(label)} {{name: row.n}})"
                         + self._set_clause("a", keys, "p_"), {"rows": rows})

    def _merge_triples(self, conn: Any, triples: Sequence[Triple]) -> None:
        self._merge_nodes(conn, [n for t in triples for n in (
            Node(t.head, t.head_label, t.head_properties),
            Node(t.tail, t.tail_label, t.tail_properties))])
        # Relationships: MERGE on a relationship inside UNWIND misses pairs that share a
        # node (LadybugDB 0.22), so find the existing pairs and CREATE only new ones.
        by_type: dict[tuple[str, str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        for t in triples:
            pairs = by_type.setdefault((t.head_label, t.relation, t.tail_label), {})
            pairs.setdefault((t.head, t.tail), {}).update(
                {k: v for k, v in t.properties.items() if v is not None})
        for (hl, rel, tl), pairs in by_type.items():
            match = (f"UNWIND $rows AS row MATCH (a:{_q(hl)} {{name: row.h}}), "
                     f"(b:{_q(tl)} {{name: row.t}}) ")
            probe = [{"h": h, "t": t} for h, t in pairs]
            existing = {(r[0], r[1]) for r in conn.execute(
                f"UNWIND $rows AS row MATCH (a:{_q(hl)} {{name: row.h}})-[r:{_q(rel)}]->"
                f"(b:{_q(tl)} {{name: row.t}}) RETURN DISTINCT a.name, b.name",
                {"rows": probe}).get_all()}
            groups: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
            for (h, t), props in pairs.items():
                old = (h, t) in existing
                if old and not props:
                    continue
                keys = tuple(sorted(props))
                groups.setdefault((old, keys), []).append(
                    {"h": h, "t": t, **{f"r_{k}": props[k] for k in keys}})
            for (old, keys), rows in groups.items():
                if old:
                    cypher = (f"UNWIND $rows AS row MATCH (a:{_q(hl)} {{name: row.h}})-"
                              f"[r:{_q(rel)}]->(b:{_q(tl)} {{name: row.t}})"
                              + self._set_clause("r", keys, "r_"))
                else:
                    props = ", ".join(f"{_q(k)}: row.r_{k}" for k in keys)
                    cypher = match + f"CREATE (a)-[r:{_q(rel)} {{{props}}}]->(b)"
                conn.execute(cypher, {"rows": rows})

    def run_script(self, text: str) -> int:
        """Run a script of ``CREATE`` statements (as in Neo4j's example datasets).

        Pure ``CREATE`` patterns are read and merged (tables are created as needed);
        any other statement runs as is. Nothing is written if any statement fails.
        """
        statements = split_statements(text)
        nodes: list[Node] = []
        triples: list[Triple] = []
        other: list[str] = []
        for i, stmt in enumerate(statements, 1):
            first = next(iter(tokenize(stmt)), None)
            if first is not None and first.upper == "CREATE":
                try:
                    n, t = parse_create(stmt)
                except CypherSyntaxError as exc:
                    raise GraphError(f"Statement {i} of the script: {exc}") from exc
                nodes += n
                triples += [_clean_triple(x) for x in t]
            else:
                other.append(stmt)
        nodes = [Node(n.name, cypher_identifier(n.label, "label"),
                      {cypher_identifier(k, "property"): v for k, v in n.properties.items()})
                 for n in nodes]
        with self._mutex:
            self._ensure_tables(triples, nodes)
            try:
                with self._transaction() as conn:
                    self._merge_nodes(conn, nodes)
                    self._merge_triples(conn, triples)
                    for stmt in other:
                        conn.execute(stmt)
            except RuntimeError as exc:
                raise GraphError(f"The script failed and nothing was written: {exc}") from exc
            finally:
                self.version += 1
        return len(statements)

    def clear(self) -> None:
        with self._mutex:
            nodes, rels = self._tables()
            conn = self._connection()
            for name in rels:
                conn.execute(f"DROP TABLE {_q(name)}")
            for name in nodes:
                conn.execute(f"DROP TABLE {_q(name)}")
            self.version += 1

    # -- reading -------------------------------------------------------------------

    def node_names(self) -> list[tuple[str, str]]:
        with self._mutex:
            nodes, _ = self._tables()
            out: list[tuple[str, str]] = []
            for label in sorted(nodes):
                rows = self._connection().execute(f"MATCH (n:{_q(label)}) RETURN n.name").get_all()
                out += [(label, r[0]) for r in rows]
            return out

    def edges(self, names: Sequence[str]) -> list[Edge]:
        if not names:
            return []
        with self._mutex:
            conn = self._connection()
            nodes, _ = self._tables()
            out: set[Edge] = set()
            params = {"names": list(names)}
            for label in nodes:
                for pattern in ("(a)-[r]->(b)", "(b)-[r]->(a)"):
                    rows = conn.execute(
                        f"MATCH {pattern.replace('(a)', f'(a:{_q(label)})')} WHERE a.name IN $names "
                        "RETURN label(a), a.name, label(r), label(b), b.name", params).get_all()
                    for la, a, rel, lb, b in rows:
                        out.add(Edge(la, a, rel, lb, b) if pattern.startswith("(a)")
                                else Edge(lb, b, rel, la, a))
            return sorted(out, key=lambda e: (e.src, e.relation, e.dst))

    def neighborhood(self, name: str, hops: int, limit: int = 1000) -> list[str]:
        with self._mutex:
            nodes, _ = self._tables()
            out: list[str] = []
            for label in nodes:
                rows = self._connection().execute(
                    f"MATCH (a:{_q(label)} {{name: $name}})-[*1..{int(hops)}]-(b) "
                    f"WHERE b.name <> $name RETURN DISTINCT b.name LIMIT {int(limit)}",
                    {"name": name}).get_all()
                out += [r[0] for r in rows]
            return out


def _clean_triple(t: Triple) -> Triple:
    return Triple(
        t.head, cypher_identifier(t.relation, "relationship type"), t.tail,
        cypher_identifier(t.head_label, "label"), cypher_identifier(t.tail_label, "label"),
        {cypher_identifier(k, "property"): v for k, v in t.properties.items()},
        t.head_properties, t.tail_properties, t.line,
    )


def from_spec(rest: str, settings: Any = None) -> LadybugStore:
    """Build a store from ``ladybug:<path>[?read_only=1&query_memory_mb=N&query_threads=N]``.

    No path means the default graph file (``Settings.graph_dir()``).
    """
    path, _, query = rest.partition("?")
    options = {k.lower(): v[-1] for k, v in parse_qs(query).items()}
    read_only = options.get("read_only", "").lower() in ("1", "true", "yes")
    limits = QueryLimits()
    try:
        if "query_memory_mb" in options:
            limits = replace(limits, memory_mb=max(16, int(options["query_memory_mb"])))
        if "query_threads" in options:
            limits = replace(limits, threads=max(1, int(options["query_threads"])))
    except ValueError as exc:
        raise GraphError(f"'{rest}': query_memory_mb and query_threads take whole "
                         "numbers, e.g. 'ladybug:/data/kg?query_memory_mb=1024'.") from exc
    if not path:
        if settings is None:
            raise GraphError("Give the graph a file: 'ladybug:/path/to/graph'.")
        path = str(settings.graph_dir())
    return LadybugStore(path, read_only=read_only, limits=limits)


@hookimpl
def register_graph_stores(register: Any) -> None:
    register("ladybug", from_spec,
             help="embedded LadybugDB graph: ladybug:/path/to/graph (no server needed)")
