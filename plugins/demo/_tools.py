"""The demo's three tools, one per kind of source, built on the command's host.

Each takes at most one free-text argument, so even the bundled 270M model fills it:
the model only has to choose the tool (which the llama.cpp connector does by
likelihood, so the descriptions name the words users ask with). The latency tool is bound to the shipped series, so no file path has
to be written. Models and stores come from the host: one embedder for all.
"""

from __future__ import annotations

from typing import Any

from sapient import Tool, ToolOutput, tool

from ._data import INDEX, SERIES

__all__ = ["demo_tools"]


def _search_tool(host: Any) -> Tool:
    from sapient.plugins.retrieval import DocumentSearch

    search = DocumentSearch(host.settings, index_name=INDEX, embedder=host.embedder())

    @tool
    def search_documents(query: str) -> ToolOutput:
        """Search Lumora Labs' documents about the Aurora greenhouse controllers
        (specifications, battery and power, sensors, Wi-Fi, prices and plans, warranty
        and returns, firmware, troubleshooting, API, security, support, the company)
        for passages that answer a question.

        Args:
            query: the question or key words to look for.
        """
        return search(query, 5)

    return search_documents


def _graph_tool(host: Any, store: Any) -> Tool:
    from sapient.plugins.knowledge_graph import GraphToolkit

    toolkit = GraphToolkit(store, embedder=host.embedder())

    @tool
    def graph_retrieve(question: str) -> ToolOutput:
        """Answer a question about people and companies: who knows whom, who works
        where or on which project, where a company is located.

        Args:
            question: the question, naming a person, company, project or city.
        """
        return toolkit.graph_retrieve(question)

    return graph_retrieve


def _latency_tool() -> Tool:
    from sapient.plugins.anomaly import make_detect_tool

    detect = make_detect_tool()

    @tool
    def detect_anomalies() -> ToolOutput:
        """Check the web shop's checkout latency time series for unusual periods
        (spikes, drops, slowdowns) and say when they happened and how severe they were."""
        return detect.function(csv_path=str(SERIES), column="latency_ms")

    return detect_anomalies


def demo_tools(host: Any, prepared: dict[str, str], graph_store: Any) -> list[Tool]:
    """The tools for what ``prepare`` made ready."""
    tools = []
    if "documents" in prepared:
        tools.append(_search_tool(host))
    if "graph" in prepared and graph_store is not None:
        tools.append(_graph_tool(host, graph_store))
    if "series" in prepared:
        tools.append(_latency_tool())
    return tools
