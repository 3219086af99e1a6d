"""What every knowledge-graph store shares: the store protocol, its data types and Cypher helpers.

A store connector (``sapient.connectors.ladybug``, ``sapient.connectors.neo4j`` or a
third-party one) implements :class:`GraphStore` with these types and registers a
scheme through the ``register_graph_stores`` hook; the knowledge-graph plugin opens
stores only through the host (``host.graph_store(spec)``), so a plugin that
registers its own ``ladybug`` scheme replaces the built-in one everywhere.

Nothing here imports an optional SDK or a plugin.
"""

from __future__ import annotations

from ._cypher import (
    DESTRUCTIVE_KEYWORDS,
    FILE_ACCESS_KEYWORDS,
    CypherSyntaxError,
    Token,
    keywords,
    parse_create,
    read_statement,
    split_statements,
    tokenize,
)
from ._types import (
    DEFAULT_LABEL,
    Edge,
    GraphError,
    GraphSchema,
    GraphStore,
    IngestError,
    Node,
    NodeLabel,
    QueryLimitError,
    RelType,
    Rows,
    Triple,
    cypher_identifier,
    is_identifier_char,
    property_type,
)

__all__ = [
    "DEFAULT_LABEL",
    "DESTRUCTIVE_KEYWORDS",
    "FILE_ACCESS_KEYWORDS",
    "CypherSyntaxError",
    "Edge",
    "GraphError",
    "GraphSchema",
    "GraphStore",
    "IngestError",
    "Node",
    "NodeLabel",
    "QueryLimitError",
    "RelType",
    "Rows",
    "Token",
    "Triple",
    "cypher_identifier",
    "is_identifier_char",
    "keywords",
    "parse_create",
    "property_type",
    "read_statement",
    "split_statements",
    "tokenize",
]
