"""Knowledge-graph plugin: ingestion, guarded Text2Cypher, graph retrieval, graph tools.

Registers the tools ``graph_schema``, ``graph_lookup``, ``graph_neighbors``,
``graph_paths``, ``graph_query`` and ``graph_retrieve`` (a :class:`GraphToolkit`
built from the host, over the store named by ``Settings.graph_spec``) and the
``sapient graph`` command. Stores come from the host's ``register_graph_stores``
registry (``sapient.connectors.ladybug``, ``sapient.connectors.neo4j`` or a
plugin's); their protocol and data types live in ``sapient.connectors.graph`` and
are re-exported here. The rest loads on first use (``sapient.lazy_exports``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sapient.connectors.graph import (
    DEFAULT_LABEL,
    Edge,
    GraphError,
    GraphSchema,
    GraphStore,
    IngestError,
    Node,
    Rows,
    Triple,
)
from sapient.core._lazy import lazy_exports
from sapient.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from ._guard import check_cypher, extract_cypher
    from ._ingest import extract_triples, ingest_file, ingest_triples, read_triples
    from ._text2cypher import Text2Cypher, Text2CypherResult
    from ._toolkit import GraphToolkit, graph_spec, open_store
    from .retrieve import Answer, GraphRetriever

#: Public names defined in private modules, imported when first asked for.
_LAZY = {
    "Answer": ".retrieve",
    "GraphRetriever": ".retrieve",
    "GraphToolkit": "._toolkit",
    "Text2Cypher": "._text2cypher",
    "Text2CypherResult": "._text2cypher",
    "check_cypher": "._guard",
    "extract_cypher": "._guard",
    "extract_triples": "._ingest",
    "graph_spec": "._toolkit",
    "ingest_file": "._ingest",
    "ingest_triples": "._ingest",
    "open_store": "._toolkit",
    "read_triples": "._ingest",
}

__all__ = [
    "Answer",
    "DEFAULT_LABEL",
    "Edge",
    "GraphError",
    "GraphRetriever",
    "GraphSchema",
    "GraphStore",
    "GraphToolkit",
    "IngestError",
    "Node",
    "Rows",
    "Text2Cypher",
    "Text2CypherResult",
    "Triple",
    "check_cypher",
    "extract_cypher",
    "extract_triples",
    "graph_spec",
    "ingest_file",
    "ingest_triples",
    "open_store",
    "read_triples",
    "register_commands",
    "register_tools",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


@hookimpl
def register_tools(register: Any, host: Any) -> None:
    """The six graph tools over the settings' store; store and models come from ``host``."""
    from ._toolkit import GraphToolkit

    for t in GraphToolkit.from_host(host).tools():
        register(t)


@hookimpl
def register_commands(register: Any) -> None:
    """``sapient graph ...``; the command gets the host when it runs."""
    from ._cli import configure, run

    register("graph", run, help="knowledge graph: ingest, query, schema, ask",
             configure=configure)
