"""The demo chatbot: ``sapient demo`` (``make demo``).

It prepares the sample data shipped in ``data/`` (documents of a fictional company,
a small knowledge graph, a latency time series) under ``SAPIENT_HOME/demo``, then
chats with every registered tool on the embedded defaults: the local llama.cpp model
(unless ``--llm``/``SAPIENT_LLM`` names another), a FAISS + BM25 index, an embedded
LadybugDB graph and the anomaly checker. Preparation is incremental: a second start
re-embeds nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sapient.core.hookspecs import hookimpl

__all__ = ["DATA_DIR", "prepare", "run_demo"]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_LLM = "llamacpp:default"
SERIES_FILE = "checkout_latency.csv"

#: The tools the demo offers: one per kind of source, so even a tiny local model can
#: pick the right one. Other registered tools stay available through ``sapient chat``.
DEMO_TOOLS = ("search_documents", "graph_retrieve", "detect_anomalies")

SAMPLE_QUESTIONS = [
    "How long does the Aurora X2 keep logging during a power cut?",
    "Who does Alice Smith know?",
    "Did anything unusual happen to checkout latency?",
]


def _status(console: Any, text: str) -> None:
    console.print(f"[dim]{text}[/dim]", highlight=False)


def prepare(settings: Any, console: Any) -> dict[str, str]:
    """Build (or update) the demo index and graph; returns what was prepared."""
    prepared: dict[str, str] = {}
    docs = DATA_DIR / "docs"
    try:
        from sapient.plugins.retrieval import DocumentIndex

        index = DocumentIndex.open(settings.index_dir(), create=True)
        summary = index.ingest([docs])
        index.save()
        prepared["documents"] = f"{len(index.documents())} documents ({summary})"
    except ImportError as exc:
        _status(console, f"documents skipped: {exc} (pip install 'sapient[retrieval]')")
    try:
        from sapient.plugins.knowledge_graph import ingest_file, open_store

        store = open_store(settings.graph_spec, settings)
        try:
            report = ingest_file(store, DATA_DIR / "graph" / "people.tsv")
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        prepared["graph"] = f"knowledge graph ({report})"
    except ImportError as exc:
        _status(console, f"graph skipped: {exc} (pip install 'sapient[graph]')")
    series = DATA_DIR / "series" / SERIES_FILE
    if series.exists():
        prepared["series"] = str(series)
    return prepared


def _system_prompt(prepared: dict[str, str]) -> str:
    lines = [
        "You are the assistant of Lumora Labs, maker of the Aurora greenhouse controllers. "
        "Answer from the tools, not from memory.",
        "- Product, pricing, support and policy questions: call search_documents and cite "
        "the [source_id] of the passages you use.",
        "- Questions about people and who knows or works with whom: call graph_retrieve.",
    ]
    if "series" in prepared:
        lines.append(
            "- Questions about checkout latency: call detect_anomalies with "
            f"csv_path='{prepared['series']}' and column='latency_ms'."
        )
    lines.append("If the tools find no sufficient evidence, say you do not know.")
    return "\n".join(lines)


def run_demo(args: argparse.Namespace, host: Any) -> int:
    """Prepare the sample data and chat (or answer ``--question`` and exit)."""
    from rich.console import Console
    from sapient.core.agent import Agent
    from sapient.core.cli import chat_loop
    from sapient.core.plugins import Host
    from sapient.core.render import EventPrinter

    console = Console(highlight=False)
    base = host.settings
    home = Path(args.home).expanduser() if args.home else base.home
    settings = base.with_(
        home=home / "demo" if not args.home else home,
        index="demo",
        graph=None,
        llm=args.llm or base.llm or DEFAULT_LLM,
    )
    _status(console, f"Preparing the demo data under {settings.home} ...")
    prepared = prepare(settings, console)
    for what, detail in prepared.items():
        _status(console, f"  {what}: {detail}")
    demo_host = Host(settings)
    registered = demo_host.tools()
    tools = [name for name in DEMO_TOOLS if name in registered]
    agent = Agent(demo_host.llm(), tools=tools, host=demo_host, plugins=[LookFirst()],
                  system_prompt=_system_prompt(prepared), max_steps=3,
                  model_options={"max_tokens": 256})
    banner = (f"[bold]Sapient demo[/bold] [dim]model {settings.llm}; tools: {', '.join(tools)}."
              "\nTry: " + " | ".join(SAMPLE_QUESTIONS) + "\n/exit quits.[/dim]")
    questions = list(args.question or [])
    if not questions and not sys.stdin.isatty():
        questions = [line.strip() for line in sys.stdin if line.strip()] or SAMPLE_QUESTIONS
    if not questions:
        return chat_loop(agent, banner=banner, console=console)
    console.print(banner)
    printer = EventPrinter(console)
    for question in questions:
        console.print(f"\n[bold]you>[/bold] {question}", highlight=False)
        console.print("[bold green]sapient>[/bold green] ", end="")
        for event in agent.stream(question):
            printer(event)
    return 0


class LookFirst:
    """A ``call_model`` wrapper: the first model turn of each run must call a tool.

    Small local models often answer from memory instead of looking things up; forcing
    one look-up grounds every answer in the demo data. Later turns are free.
    """

    @hookimpl(wrapper=True)
    def call_model(self, request: Any) -> Any:
        if request.run is not None and request.run.step == 1 and request.tools:
            request.options.setdefault("tool_choice", "required")
        return (yield)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", action="append", metavar="TEXT",
                        help="ask this question and exit instead of chatting (repeatable)")


@hookimpl
def register_commands(register: Any) -> None:
    register("demo", run_demo, help="the demo chatbot over shipped sample data (embedded "
             "defaults: local model, FAISS + BM25, LadybugDB, anomaly checker)",
             configure=_configure)
