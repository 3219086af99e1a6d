"""Knowledge-graph plugin: graph stores, ingestion, guarded Text2Cypher, graph retrieval.

Registers the tools ``graph_schema``, ``graph_lookup``, ``graph_neighbors``,
``graph_paths``, ``graph_query`` and ``graph_retrieve`` on the store named by
``Settings.graph_spec`` (default an embedded LadybugDB under ``SAPIENT_HOME``), and
the ``sapient graph`` command. Stores come from ``sapient.connectors.ladybug`` and
``sapient.connectors.neo4j``; nothing heavy is imported until a tool is used.
"""

from __future__ import annotations

from typing import Any

from sapient.core.hookspecs import hookimpl

from ._model import (
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
from .guard import check_cypher, extract_cypher
from .ingest import extract_triples, ingest_file, ingest_triples, read_triples
from .retrieve import Answer, GraphRetriever
from .text2cypher import Text2Cypher, Text2CypherResult
from .tools import GraphToolkit, open_store

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
    "ingest_file",
    "ingest_triples",
    "open_store",
    "read_triples",
]


@hookimpl
def register_tools(register: Any, settings: Any) -> None:
    for t in GraphToolkit(settings=settings).tools():
        register(t)


@hookimpl
def register_commands(register: Any) -> None:
    from .cli import configure, run

    register("graph", run, help="knowledge graph: ingest, query, schema, ask",
             configure=configure)
