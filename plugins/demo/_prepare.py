"""Prepare the demo's index and graph on the command's host (incrementally)."""

from __future__ import annotations

from typing import Any

from ._data import DATA_DIR, GRAPH, INDEX, SERIES

__all__ = ["prepare", "graph_spec"]


def graph_spec(host: Any) -> str:
    """The embedded graph the demo uses, under the host's ``SAPIENT_HOME``."""
    return f"ladybug:{host.settings.home / 'graphs' / GRAPH}"


def _documents(host: Any) -> str:
    from sapient.plugins.retrieval import DocumentIndex

    index = DocumentIndex.open(host.settings.index_dir(INDEX), create=True,
                               settings=host.settings, host=host)
    summary = index.ingest([DATA_DIR / "docs"])
    if summary.changed:
        index.save()
    return f"{len(index.documents())} documents in the index '{INDEX}' ({summary})"


def _graph(host: Any) -> str:
    from sapient.plugins.knowledge_graph import ingest_file

    store = host.graph_store(graph_spec(host))
    try:
        report = ingest_file(store, DATA_DIR / "graph" / "people.tsv")
    finally:
        store.close()
    return f"{report.triples} facts in the graph '{GRAPH}'"


def prepare(host: Any, status: Any = print) -> dict[str, str]:
    """Build (or update) the demo index and graph; returns what is ready, by kind.

    A part whose extra is not installed is skipped with a note through ``status``.
    """
    prepared: dict[str, str] = {}
    for kind, build, extra in (("documents", _documents, "retrieval"),
                               ("graph", _graph, "graph")):
        try:
            prepared[kind] = build(host)
        except ModuleNotFoundError as exc:  # the extra is not installed
            status(f"{kind} skipped: {exc} (pip install 'sapient[{extra}]')")
    if SERIES.exists():
        prepared["series"] = f"checkout latency series ({SERIES.name})"
    return prepared
