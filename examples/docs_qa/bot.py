"""A documents Q&A bot that answers with citations.

    python examples/docs_qa/bot.py                      # chat about the sample documents
    python examples/docs_qa/bot.py --docs ~/handbook    # ... or about your own folder
    python examples/docs_qa/bot.py --llm openai:gpt-4o-mini --question "What does the X2 cost?"

The documents are indexed once (FAISS + BM25, all-MiniLM-L6-v2 embeddings); later
starts re-embed only what changed. The agent gets one tool, ``search_documents``,
which returns numbered passages or says that nothing relevant was found.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import converse, home_dir, parser, plugins_for  # noqa: E402
from sapient import Agent, Host, Settings  # noqa: E402

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "plugins" / "demo" / "data" / "docs"
SYSTEM = ("You answer questions about the user's documents. Always call search_documents "
          "first, answer only from the passages it returns, and cite each fact with its "
          "passage id in square brackets, e.g. [pricing-plans.md#2]. If the tool finds no "
          "sufficient evidence, say that the documents do not answer the question.")


def build(argv: list[str] | None = None, llm: Any = None) -> tuple[Agent, Any]:
    """The agent over the indexed documents (and the parsed options)."""
    args = parser("Ask questions about a folder of documents; answers cite passages.")
    args.add_argument("--docs", default=str(SAMPLE_DOCS),
                      help="folder of txt, md, html or pdf files (default: the sample docs)")
    opts = args.parse_args(argv)
    settings = Settings.from_env(home=home_dir(opts, "docs_qa"), index="docs_qa",
                                 llm=opts.llm or "llamacpp:default")
    from sapient.plugins.retrieval import DocumentIndex

    index = DocumentIndex.open(settings.index_dir(), create=True, settings=settings)
    summary = index.ingest([opts.docs], show_progress=True)
    if summary.changed:
        index.save()
    print(f"Indexed {len(index.documents())} documents from {opts.docs} ({summary}).")
    host = Host(settings)
    plugins = plugins_for(opts, llm, lambda q: ("search_documents", {"query": q}))
    agent = Agent(llm or host.llm(), tools=["search_documents"], host=host, plugins=plugins,
                  system_prompt=SYSTEM, max_steps=4)
    return agent, opts


def main(argv: list[str] | None = None, llm: Any = None) -> int:
    agent, opts = build(argv, llm)
    return converse(agent, opts.question,
                    "Documents Q&A. Try: How long does the Aurora X2 keep logging during a "
                    "power cut? (/exit quits)")


if __name__ == "__main__":
    sys.exit(main())
