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


def prepare(settings: Any, console: Any, host: Any) -> dict[str, str]:
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

        store = open_store(settings.graph_spec, host)
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
    demo_host = Host(settings)
    prepared = prepare(settings, console, demo_host)
    for what, detail in prepared.items():
        _status(console, f"  {what}: {detail}")
    registered = demo_host.tools()
    tools = [name for name in DEMO_TOOLS if name in registered]
    routed = settings.llm == DEFAULT_LLM
    plugins = [SemanticRouter(demo_host, prepared.get("series"))] if routed else []
    agent = Agent(demo_host.llm(), tools=tools, host=demo_host, plugins=plugins,
                  system_prompt=_system_prompt(prepared), max_steps=3,
                  model_options={"max_tokens": 200})
    if routed:
        _status(console, "The small local model answers; its first look-up is routed by "
                "embedding similarity. Use --llm for a model that chooses tools itself.")
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


#: Example questions per demo tool; the router picks the tool of the closest example.
ROUTES = {
    "search_documents": [
        "How long does the battery last during a power cut?",
        "What does the Aurora X2 cost?", "How do I return a device under warranty?",
        "Which sensors does the controller have?", "How do I update the firmware?",
        "Where is Lumora Labs based and who founded it?", "How do I contact support?",
    ],
    "graph_retrieve": [
        "Who does Bob Jones know?", "Where does Carol White work?",
        "Which projects does Acme Corp run?", "Where does Dan Brown live?",
        "Which company is located in Paris?",
    ],
    "detect_anomalies": [
        "Did anything unusual happen to checkout latency?",
        "Was checkout slow last night?", "Were there latency spikes in the checkout service?",
    ],
}


class SemanticRouter:
    """First look-up for the embedded default model, chosen by embedding similarity.

    A 270M base model cannot reliably choose among tools or fill their arguments, so
    with the default local model the demo routes the first step: the question is
    compared with the example questions of :data:`ROUTES` using the sentence-transformers embedder, and the
    closest tool is called with the question itself. The tools run for real; the
    model then answers from their results (``tool_choice="none"`` on later steps).
    With a capable model (``--llm``), the model chooses and this router is not used.
    """

    def __init__(self, host: Any, series: str | None) -> None:
        self.host = host
        self.series = series
        self._route_vectors: Any = None

    def _route(self, question: str, tools: list[str]) -> str:
        examples = [(n, q) for n, qs in ROUTES.items() if n in tools for q in qs]
        embedder = self.host.embedder()
        if self._route_vectors is None:
            self._route_vectors = embedder.embed([q for _, q in examples])
        scores = self._route_vectors @ embedder.embed([question])[0]
        return examples[int(scores.argmax())][0]

    def _answer(self, request: Any) -> Any:
        """One short answer from the evidence, in the completion form base models know."""
        from sapient.core.messages import Message

        question = next(m.content for m in request.messages if m.role == "user")
        evidence = next(m.content for m in reversed(request.messages) if m.role == "tool")
        prompt = (f"Evidence:\n{(evidence or '')[:1500]}\n\nQuestion: {question}\n"
                  "Answer in one sentence, using only the evidence:")
        return request.llm.complete([Message.user(prompt)], (), max_tokens=60,
                                    stop=["\n\n", "Question:"])

    @hookimpl(tryfirst=True)
    def call_model(self, request: Any) -> Any:
        from sapient.core.llm import LLMResponse
        from sapient.core.messages import ToolCall

        run = request.run
        if run is None or not request.tools:
            return None
        if run.step > 1:
            return self._answer(request)
        question = next(m.content for m in reversed(request.messages) if m.role == "user")
        name = self._route(question or "", [t.name for t in request.tools])
        if name == "detect_anomalies" and self.series:
            args: dict[str, Any] = {"csv_path": self.series, "column": "latency_ms"}
        elif name == "graph_retrieve":
            args = {"question": question}
        else:
            args = {"query": question}
        return LLMResponse(tool_calls=[ToolCall(name, args)], finish_reason="tool_calls",
                           model="router")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", action="append", metavar="TEXT",
                        help="ask this question and exit instead of chatting (repeatable)")


@hookimpl
def register_commands(register: Any) -> None:
    register("demo", run_demo, help="the demo chatbot over shipped sample data (embedded "
             "defaults: local model, FAISS + BM25, LadybugDB, anomaly checker)",
             configure=_configure)
