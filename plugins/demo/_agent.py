"""``sapient demo``: prepare the sample data, then answer questions or chat."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from sapient import Agent, ConfigurationError
from sapient.plugins.apps import EventPrinter, chat_loop, console

from ._data import DEFAULT_LLM, SAMPLE_QUESTIONS
from ._prepare import graph_spec, prepare
from ._tools import demo_tools

__all__ = ["configure", "build_agent", "run_demo", "SYSTEM_PROMPT"]

SYSTEM_PROMPT = (
    "You are the assistant of Lumora Labs, maker of the Aurora greenhouse controllers. "
    "Answer from the tools, not from memory.\n"
    "- Product, pricing, support and policy questions: call search_documents and cite "
    "the [source_id] of the passages you use.\n"
    "- Questions about people and who knows or works with whom: call graph_retrieve.\n"
    "- Questions about checkout latency: call detect_anomalies.\n"
    "If the tools find no sufficient evidence, say you do not know."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--question", action="append", metavar="TEXT",
                        help="ask this question and exit instead of chatting (repeatable)")


def build_agent(host: Any, tools: list[Any], llm: Any) -> Agent:
    """The demo's agent: every question starts with a look-up (``tool_choice``
    ``required`` applies to the first model turn), then the answer."""
    return Agent(llm, tools=tools, host=host, system_prompt=SYSTEM_PROMPT, max_steps=3,
                 model_options={"max_tokens": 200, "tool_choice": "required"})


def _ask(agent: Any, questions: list[str], con: Any) -> int:
    """Answer each question in one conversation; 1 if one ended without an answer."""
    session = agent.chat()
    failed = False
    for question in questions:
        con.print(f"\n[bold]you>[/bold] {escape(question)}")
        con.print("[bold green]sapient>[/bold green] ", end="")
        printer = EventPrinter(con)
        for event in session.stream(question):
            printer(event)
        failed |= not printer.answered
    return 1 if failed else 0


def run_demo(args: argparse.Namespace, host: Any) -> int:
    """Prepare the sample data and chat (or answer ``--question`` and exit)."""
    if any(not q.strip() for q in args.question or ()):
        raise ConfigurationError('A --question is empty; say what to ask, e.g. sapient demo '
                                 f'--question "{SAMPLE_QUESTIONS[0]}"')
    out, err = console(), console(stderr=True)

    def status(text: str) -> None:
        err.print(f"[dim]{text}[/dim]", highlight=False)

    spec = host.settings.llm or DEFAULT_LLM
    llm = host.llm(spec)
    status(f"Preparing the demo data under {host.settings.home} ...")
    prepared = prepare(host, status)
    for what, detail in prepared.items():
        status(f"  {what}: {detail}")
    store = host.graph_store(graph_spec(host)) if "graph" in prepared else None
    try:
        agent = build_agent(host, demo_tools(host, prepared, store), llm)
        banner = (f"[bold]Sapient demo[/bold] [dim]model {escape(spec)}; tools: "
                  f"{', '.join(agent.tools)}.\nTry: " + " | ".join(SAMPLE_QUESTIONS)
                  + "\n/exit quits.[/dim]")
        if args.question:
            out.print(banner)
            return _ask(agent, list(args.question), out)
        return chat_loop(agent, banner=banner, out=out)
    finally:
        if store is not None:
            store.close()
