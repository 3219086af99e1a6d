"""The graph tools an agent can call, bound to one store.

:class:`GraphToolkit` is built from the host (``GraphToolkit.from_host(host)``):
its store, embedder and LLM come from the host on first use (never at
registration), so listing tools costs nothing, the user's settings and plugins
reach every model and store the tools use, and a missing extra or server only
shows up when a graph tool is actually called, with a message saying what to do.
"""

from __future__ import annotations

import threading
import warnings
from collections import deque
from dataclasses import asdict
from typing import Any

from sapient.connectors.graph import Edge, GraphStore
from sapient.core.effects import READS_PRIVATE, READS_UNTRUSTED
from sapient.core.errors import ConfigurationError, ModelRetry
from sapient.core.messages import Citation, ToolOutput
from sapient.core.settings import Settings
from sapient.core.tools import Tool

from ._ingest import normalize_name
from ._text2cypher import Text2Cypher
from .retrieve import GraphRetriever

__all__ = ["GraphToolkit", "graph_spec", "open_store"]


def graph_spec(graph: str | None, settings: Settings) -> str:
    """The store spec meant by ``--graph`` / ``graph=``: a spec, a bare name, or nothing.

    ``None`` means the settings' store (``SAPIENT_GRAPH``, default an embedded graph
    under ``SAPIENT_HOME``); a bare name such as ``people`` (no ``scheme:``) means
    the embedded graph ``ladybug:<SAPIENT_HOME>/graphs/people``; anything else is a
    store spec (``ladybug:/data/kg``, ``neo4j:bolt://host:7687``) and is kept as is.
    """
    if not graph:
        return settings.graph_spec
    scheme, sep, rest = graph.partition(":")
    if not sep or (len(scheme) == 1 and rest.startswith("\\")):  # a name or C:\ path
        return f"ladybug:{settings.graph_dir(graph)}"
    return graph


def open_store(graph: str | None, host: Any, *, read_only: bool = False) -> GraphStore:
    """Open the store named by ``graph`` (see :func:`graph_spec`) through ``host``.

    Stores come from the host's ``register_graph_stores`` registry, so a plugin that
    registers its own ``ladybug`` or ``neo4j`` scheme replaces the built-in one here
    too. ``read_only`` asks an embedded (``ladybug:``) graph to open without write
    access, so reading never creates or rewrites its file. The caller closes the store.
    """
    if isinstance(host, Settings) or not hasattr(host, "graph_store"):
        raise TypeError("open_store needs the host the store comes from: "
                        "open_store(spec, host), e.g. with host = sapient.Host().")
    spec = graph_spec(graph, host.settings)
    if read_only and spec.startswith("ladybug:") and "read_only=" not in spec:
        spec += ("&" if "?" in spec else "?") + "read_only=1"
    return host.graph_store(spec)


def _edge_text(e: Edge) -> str:
    return f"({e.src_label} {e.src})-[{e.relation}]->({e.dst_label} {e.dst})"


class GraphToolkit:
    """Graph tools over one store; build the :class:`Tool` objects with :meth:`tools`.

    Built by the plugin with :meth:`from_host`; in Python give either the pieces or a
    host to take the missing ones from (nothing is loaded before a tool needs it)::

        GraphToolkit(store, embedder=my_embedder, llm=my_llm)
        GraphToolkit.from_host(host)                  # the settings' store and models
        GraphToolkit(store, host=host)                # this store, the host's models

    Args:
        store: a ready store; default: opened through the host on first use.
        host: where the store (``graph``, default the settings' store), the LLM
            (``graph_query``) and the embedder (``graph_retrieve``) come from
            when they are not given.
        llm: the LLM for ``graph_query``; default ``host.llm()``.
        embedder: the embedder for ``graph_retrieve``; default ``host.embedder()``.
        graph: a store spec or bare graph name to open through the host.
    """

    def __init__(self, store: GraphStore | None = None, host: Any = None, *,
                 llm: Any = None, embedder: Any = None, graph: str | None = None) -> None:
        if isinstance(host, Settings):  # the former GraphToolkit(store, settings) form
            warnings.warn("GraphToolkit(store, settings) is deprecated: pass the pieces "
                          "(llm=, embedder=) or a host (host=...).", DeprecationWarning,
                          stacklevel=2)
            host = None
        if store is None and host is None:
            raise ConfigurationError(
                "GraphToolkit needs a store or a host: GraphToolkit(store, embedder=..., "
                "llm=...) or GraphToolkit.from_host(host).")
        self.host = host
        self.graph = graph
        self._store = store
        self._owns_store = False
        self._llm = llm
        self._embedder = embedder
        self._retriever: GraphRetriever | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_host(cls, host: Any, graph: str | None = None) -> GraphToolkit:
        """The toolkit over ``graph`` (default the settings' store), models from ``host``."""
        return cls(host=host, graph=graph)

    @property
    def store(self) -> GraphStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.graph, self.host)
                self._owns_store = True
            return self._store

    def close(self) -> None:
        """Close the store if this toolkit opened it."""
        with self._lock:
            if self._owns_store and self._store is not None:
                self._store.close()
                self._store = None
                self._owns_store = False
                self._retriever = None

    def _needs(self, what: str, arg: str) -> ConfigurationError:
        return ConfigurationError(f"This graph toolkit has no {what}: pass {arg}=... or "
                                  "host=... when building it.")

    def embedder(self) -> Any:
        if self._embedder is None:
            if self.host is None:
                raise self._needs("embedder", "embedder")
            self._embedder = self.host.embedder()
        return self._embedder

    def llm(self) -> Any:
        if self._llm is None:
            if self.host is None:
                raise self._needs("LLM", "llm")
            self._llm = self.host.llm()
        return self._llm

    def retriever(self) -> GraphRetriever:
        if self._retriever is None:
            self._retriever = GraphRetriever(self.store, self.embedder())
        return self._retriever

    # -- the tools ------------------------------------------------------------------

    def graph_schema(self) -> str:
        """Describe the knowledge graph: node labels, relationship types, properties, counts.

        Call this first to learn what the graph can answer.
        """
        schema = self.store.schema()
        if schema.empty:
            return "The graph is empty. Load data with: sapient graph ingest FILE"
        return schema.to_text()

    def graph_lookup(self, entity: str, limit: int = 5) -> str:
        """Find nodes whose name matches an entity name, tolerating typos and case.

        Args:
            entity: the name to look for, e.g. "alice smith".
            limit: how many matches to return at most.
        """
        from rapidfuzz import fuzz, process

        names = self.store.node_names()
        if not names:
            return "The graph is empty."
        keys = [normalize_name(n) for _, n in names]
        hits = process.extract(normalize_name(entity), keys, scorer=fuzz.WRatio,
                               limit=max(1, min(limit, 50)), score_cutoff=60)
        if not hits:
            raise ModelRetry(f"No node is named like {entity!r}. Check the spelling or call "
                             "graph_schema to see what the graph holds.")
        return "\n".join(f"{names[i][1]} (:{names[i][0]}) score={score:.0f}"
                         for _, score, i in hits)

    def _resolve(self, entity: str) -> str:
        names = self.store.node_names()
        exact = [n for _, n in names if n == entity]
        if exact:
            return exact[0]
        key = normalize_name(entity)
        norm = [n for _, n in names if normalize_name(n) == key]
        if norm:
            return norm[0]
        from rapidfuzz import fuzz, process

        hit = process.extractOne(key, [normalize_name(n) for _, n in names], scorer=fuzz.WRatio,
                                 score_cutoff=85)
        if hit:
            return names[hit[2]][1]
        raise ModelRetry(f"No node is named {entity!r}. Use graph_lookup to find the exact name.")

    def graph_neighbors(self, entity: str, hops: int = 1, relation: str | None = None,
                        limit: int = 50) -> ToolOutput:
        """List the facts around an entity: its relationships up to a few hops away.

        Args:
            entity: the node's name (fuzzy matched).
            hops: how far to go, 1 to 3.
            relation: only follow relationships of this type (optional).
            limit: facts to return at most.
        """
        name = self._resolve(entity)
        hops = max(1, min(3, hops))
        seen: set[Edge] = set()
        frontier = {name}
        visited = {name}
        for _ in range(hops):
            edges = [e for e in self.store.edges(sorted(frontier))
                     if relation is None or e.relation.lower() == relation.lower()]
            nxt = set()
            for e in edges:
                if e not in seen:
                    seen.add(e)
                    nxt |= {e.src, e.dst} - visited
            visited |= nxt
            frontier = nxt
            if not frontier or len(seen) >= limit:
                break
        facts = sorted(seen, key=lambda e: (e.src != name and e.dst != name, e.relation))[:limit]
        if not facts:
            return ToolOutput(f"{name} has no relationships"
                              + (f" of type {relation}" if relation else "") + ".")
        return ToolOutput("\n".join(_edge_text(e) for e in facts),
                          citations=[Citation(f"graph:{e.src}|{e.relation}|{e.dst}",
                                              _edge_text(e)) for e in facts[:10]],
                          data=[asdict(e) for e in facts])

    def graph_paths(self, a: str, b: str, max_hops: int = 3, limit: int = 5) -> ToolOutput:
        """Find how two entities are connected: the shortest relationship paths between them.

        Args:
            a: the first entity's name.
            b: the second entity's name.
            max_hops: longest path to consider, 1 to 4.
            limit: paths to return at most.
        """
        start, goal = self._resolve(a), self._resolve(b)
        max_hops = max(1, min(4, max_hops))
        paths: list[list[Edge]] = []
        queue: deque[tuple[str, list[Edge]]] = deque([(start, [])])
        depth_seen: dict[str, int] = {start: 0}
        while queue and len(paths) < limit:
            node, path = queue.popleft()
            if len(path) >= max_hops:
                continue
            for e in self.store.edges([node]):
                other = e.dst if e.src == node else e.src
                if any(other in (x.src, x.dst) for x in path) or other == start:
                    continue
                new = [*path, e]
                if other == goal:
                    paths.append(new)
                    if len(paths) >= limit:
                        break
                elif depth_seen.get(other, 99) >= len(new):
                    depth_seen[other] = len(new)
                    queue.append((other, new))
        if not paths:
            return ToolOutput(f"No path of at most {max_hops} hops links {start} and {goal}.")
        lines = [" ; ".join(_edge_text(e) for e in p) for p in paths]
        return ToolOutput("\n".join(lines),
                          citations=[Citation(f"graph:path:{i}", text) for i, text in
                                     enumerate(lines)])

    def graph_query(self, question: str) -> str:
        """Answer a question by writing a read-only Cypher query over the graph.

        Good for counts, filters and lists ("how many people work at Acme?"). The query
        is checked (no writes, only known labels), limited, run read-only, and repaired
        from the database's error if needed.

        Args:
            question: the question in plain language.
        """
        try:
            llm = self.llm()
        except ConfigurationError as exc:
            return ("graph_query needs an LLM to write Cypher and none is configured. "
                    f"{exc} Use graph_retrieve or graph_neighbors instead, which need no LLM.")
        result = Text2Cypher(self.store, llm).ask(question)
        return result.to_text()

    def graph_retrieve(self, question: str, k: int = 5, hops: int = 3) -> ToolOutput:
        """Answer a factual question from the graph without an LLM, with the supporting paths.

        Finds the entities the question names, follows relationships 1-3 hops, and ranks
        answers by how completely the relation path explains the question. Says
        "No confident answer" when no path explains it well enough: then do not guess.

        Args:
            question: the question, naming at least one entity in the graph.
            k: answers to return.
            hops: how many relationships to follow at most (1 to 3).
        """
        if self.store.schema().empty:
            return ToolOutput("The graph is empty. Load data with: sapient graph ingest FILE")
        result = self.retriever().ask(question, k=max(1, min(k, 20)), hops=max(1, min(3, hops)))
        return result.to_tool_output()

    def tools(self) -> list[Tool]:
        """The six graph tools as :class:`~sapient.Tool` objects."""
        tools = [Tool.from_function(getattr(self, name)) for name in (
            "graph_schema", "graph_lookup", "graph_neighbors", "graph_paths",
            "graph_query", "graph_retrieve")]
        for t in tools:  # graph text is written by whoever loaded the data
            t.effects = frozenset({READS_UNTRUSTED, READS_PRIVATE})
        return tools
