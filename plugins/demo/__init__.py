"""The demo chatbot: ``sapient demo`` (``make demo``).

It prepares the sample data shipped in ``data/`` (documents of a fictional company,
a small knowledge graph, a latency time series) as the index ``demo`` and the graph
``demo`` under ``SAPIENT_HOME``, then chats on the embedded defaults: the local
llama.cpp model (unless ``--llm``/``SAPIENT_LLM`` names another), a FAISS + BM25
index, an embedded LadybugDB graph and the anomaly checker. Preparation is
incremental: a second start re-embeds nothing. Afterwards ``sapient search "..."
--index demo`` and ``sapient graph ask "..." --graph demo`` read the same data.

The demo is an ordinary user of the public API: one :class:`~sapient.Agent` on the
command's host, with a system prompt, limits and streaming, and every answer goes
through the agent loop (and so through every plugin of the host, such as the one
that composes cited answers for models that cannot write them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sapient import hookimpl, lazy_exports

if TYPE_CHECKING:
    from ._agent import SYSTEM_PROMPT, build_agent, run_demo
    from ._prepare import graph_spec, prepare
    from ._tools import demo_tools

__all__ = ["DATA_DIR", "DEFAULT_LLM", "SAMPLE_QUESTIONS", "SYSTEM_PROMPT", "build_agent",
           "demo_tools", "graph_spec", "prepare", "run_demo", "register_commands"]

from ._data import DATA_DIR, DEFAULT_LLM, SAMPLE_QUESTIONS  # noqa: E402 - no heavy imports

__getattr__, __dir__ = lazy_exports(__name__, {
    "build_agent": "._agent", "run_demo": "._agent", "SYSTEM_PROMPT": "._agent",
    "prepare": "._prepare", "graph_spec": "._prepare", "demo_tools": "._tools"})


@hookimpl
def register_commands(register: Any) -> None:
    """``sapient demo``."""
    from ._agent import configure, run_demo

    register("demo", run_demo, configure=configure,
             help="the demo chatbot over shipped sample data (embedded defaults: local "
                  "model, FAISS + BM25, LadybugDB, anomaly checker)")
