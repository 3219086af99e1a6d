"""The graph store protocol and the data types every store, ingester and tool shares.

They live with the stores (not in the knowledge-graph plugin) so that a store
connector, built-in or third-party, depends only on this package and the core.
Free of optional dependencies: importing it is cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sapient.core.errors import SapientError

__all__ = [
    "DEFAULT_LABEL",
    "Edge",
    "GraphError",
    "GraphSchema",
    "GraphStore",
    "IngestError",
    "Node",
    "QueryLimitError",
    "NodeLabel",
    "RelType",
    "Rows",
    "Triple",
    "cypher_identifier",
    "is_identifier_char",
    "property_type",
]

#: Label given to nodes whose label is not stated.
DEFAULT_LABEL = "Entity"


class GraphError(SapientError):
    """A graph store or graph tool failed; the message says what to do."""


class QueryLimitError(GraphError):
    """A query went over a limit (time, memory) and was stopped; ``limit`` names it.

    Running the same query again would hit the same limit: write a cheaper one.
    """

    def __init__(self, message: str, limit: str = "time") -> None:
        super().__init__(message)
        self.limit = limit


class IngestError(GraphError):
    """Input for the graph was malformed; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, message: str, problems: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


def cypher_identifier(text: str, what: str = "name") -> str:
    """Turn a label, relationship type or property name into a plain Cypher identifier.

    Spaces and punctuation become ``_`` so that ``works at`` becomes ``works_at``;
    letters of any script are kept (``Città``, ``知道``: LadybugDB and Neo4j accept
    them), in Unicode NFC form so that one name has one spelling. Something with no
    letters or digits at all is refused.
    """
    text = unicodedata.normalize("NFC", str(text))
    spaced = "".join(c if is_identifier_char(c) else " " for c in text)
    cleaned = re.sub(r" +", "_", spaced.strip()).strip("_")
    if not cleaned:
        raise GraphError(f"The {what} {text!r} has no letters or digits; give it a name.")
    if not cleaned.isidentifier():  # starts with a digit
        cleaned = "_" + cleaned
    return cleaned


def is_identifier_char(c: str) -> bool:
    """Whether ``c`` may continue an identifier: a letter or digit of any script, or ``_``.

    The Unicode identifier rule (XID_Continue, as Python's ``str.isidentifier``),
    which is what Cypher's grammar allows in unquoted names.
    """
    return c == "_" or ("a" + c).isidentifier()


def property_type(value: Any) -> str:
    """The column type used for a property value (LadybugDB needs typed columns)."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "DOUBLE"
    return "STRING"


@dataclass(slots=True)
class Node:
    """A node keyed by ``(label, name)``."""

    name: str
    label: str = DEFAULT_LABEL
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Triple:
    """One fact ``head -[relation]-> tail`` with optional labels and properties.

    ``line`` is where it came from in its source file, for error messages.
    """

    head: str
    relation: str
    tail: str
    head_label: str = DEFAULT_LABEL
    tail_label: str = DEFAULT_LABEL
    properties: dict[str, Any] = field(default_factory=dict)
    head_properties: dict[str, Any] = field(default_factory=dict)
    tail_properties: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True, slots=True)
class Edge:
    """One stored relationship, as returned by :meth:`GraphStore.edges`."""

    src_label: str
    src: str
    relation: str
    dst_label: str
    dst: str


@dataclass
class Rows:
    """A query's result: column names and rows (lists of plain Python values)."""

    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


@dataclass
class NodeLabel:
    name: str
    count: int = 0
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class RelType:
    name: str
    count: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    endpoints: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class GraphSchema:
    """Node labels and relationship types with their properties and counts."""

    nodes: dict[str, NodeLabel] = field(default_factory=dict)
    rels: dict[str, RelType] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(n.count for n in self.nodes.values())

    def property_names(self) -> set[str]:
        names = {p for n in self.nodes.values() for p in n.properties}
        names |= {p for r in self.rels.values() for p in r.properties}
        return names

    def to_text(self) -> str:
        """A compact description for prompts and for the ``graph_schema`` tool."""
        lines = ["Node labels:"]
        for n in sorted(self.nodes.values(), key=lambda x: x.name):
            props = ", ".join(f"{k}: {v}" for k, v in n.properties.items())
            lines.append(f"  (:{n.name} {{{props}}})  count={n.count}")
        lines.append("Relationship types:")
        for r in sorted(self.rels.values(), key=lambda x: x.name):
            props = ", ".join(f"{k}: {v}" for k, v in r.properties.items())
            ends = ", ".join(f"(:{a})-[:{r.name}]->(:{b})" for a, b in r.endpoints)
            extra = f" {{{props}}}" if props else ""
            lines.append(f"  {ends or ':' + r.name}{extra}  count={r.count}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": {n.name: {"count": n.count, "properties": n.properties}
                      for n in self.nodes.values()},
            "relationships": {r.name: {"count": r.count, "properties": r.properties,
                                       "endpoints": [list(e) for e in r.endpoints]}
                              for r in self.rels.values()},
        }


@runtime_checkable
class GraphStore(Protocol):
    """What every graph store offers (LadybugDB, Neo4j, or a third-party one).

    Nodes are keyed by ``(label, name)``: every node has a ``name`` property.
    ``version`` changes after every write so that callers can drop caches.
    """

    spec: str
    version: int

    def schema(self) -> GraphSchema: ...

    def merge(self, triples: Sequence[Triple], nodes: Sequence[Node] = ()) -> None:
        """Idempotently add nodes and triples (MERGE semantics) in one transaction."""

    def execute(self, cypher: str, params: dict[str, Any] | None = None) -> Rows:
        """Run trusted Cypher (reads or writes) written by the application."""

    def read_query(self, cypher: str, params: dict[str, Any] | None = None, *,
                   timeout_s: float = 10.0, max_rows: int = 1000) -> Rows:
        """Run untrusted Cypher, enforced read-only by the database, with a timeout."""

    def run_script(self, text: str) -> int:
        """Run a Cypher script of ``CREATE`` statements; returns statements run."""

    def node_names(self) -> list[tuple[str, str]]:
        """Every node as ``(label, name)``."""

    def edges(self, names: Sequence[str]) -> list[Edge]:
        """Every relationship touching a node with one of ``names`` (both directions)."""

    def neighborhood(self, name: str, hops: int, limit: int = 1000) -> list[str]:
        """Names of nodes within ``hops`` of ``name`` (one native query)."""

    def clear(self) -> None: ...

    def close(self) -> None: ...
