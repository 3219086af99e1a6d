"""A knowledge-graph bot: answers "who knows whom, who works where" from a graph.

    python examples/graph_bot/bot.py                            # chat about the sample graph
    python examples/graph_bot/bot.py --triples my_people.tsv    # ... or your own triples
    python examples/graph_bot/bot.py --llm openai:gpt-4o-mini --question "Who does Alice Smith know?"

The triples (head, relation, tail, ...) are loaded into an embedded LadybugDB graph;
the agent answers with ``graph_retrieve`` (entities found in the question, relations
followed a few hops, answers ranked with their supporting paths) and may look nodes
up or list their neighbours.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import converse, home_dir, parser, plugins_for  # noqa: E402
from sapient import Agent, Host, Settings  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "plugins" / "demo" / "data" / "graph" / "people.tsv"
TOOLS = ["graph_retrieve", "graph_lookup", "graph_neighbors"]
SYSTEM = ("You answer questions about people, companies and projects from a knowledge "
          "graph. Call graph_retrieve with the question first; use graph_lookup or "
          "graph_neighbors to explore further. Answer only from the facts the tools "
          "return and name the path that supports the answer. If the graph does not hold "
          "the answer, say so.")


def load_graph(host: Host, triples: Path) -> str:
    """Load the triples into the host's graph store and close it again."""
    from sapient.plugins.knowledge_graph import ingest_file

    store = host.graph_store()
    try:
        return str(ingest_file(store, triples))
    finally:
        store.close()


def build(argv: list[str] | None = None, llm: Any = None) -> tuple[Agent, Any]:
    args = parser("Ask a knowledge graph questions about who knows, works with or leads whom.")
    args.add_argument("--triples", default=str(SAMPLE),
                      help="a TSV/CSV of head, relation, tail triples (default: sample people)")
    opts = args.parse_args(argv)
    settings = Settings.from_env(home=home_dir(opts, "graph_bot"), graph=None,
                                 llm=opts.llm or "llamacpp:default")
    host = Host(settings)
    print(f"Graph: {load_graph(host, Path(opts.triples))}")
    plugins = plugins_for(opts, llm, lambda q: ("graph_retrieve", {"question": q}))
    agent = Agent(llm or host.llm(), tools=TOOLS, host=host, plugins=plugins,
                  system_prompt=SYSTEM, max_steps=5)
    return agent, opts


def main(argv: list[str] | None = None, llm: Any = None) -> int:
    agent, opts = build(argv, llm)
    return converse(agent, opts.question,
                    "Knowledge-graph bot. Try: Who does Alice Smith know? Where does Carol "
                    "White work? (/exit quits)")


if __name__ == "__main__":
    sys.exit(main())
