"""A web chat over your documents, a knowledge graph and a metric: ``sapient serve`` with
the demo's data and tools, opened in a browser.

    python examples/web_chat/web_chat.py                      # embedded defaults, local model
    python examples/web_chat/web_chat.py --llm openai:gpt-4o-mini
    python examples/web_chat/web_chat.py --llm 'openai:http://127.0.0.1:11434/v1#llama3.1'

It prepares the sample data that ships with Sapient (the documents of a fictional
company, a small knowledge graph, a latency series) under ``$SAPIENT_HOME/web_chat``
(incremental: a second start re-embeds nothing), then serves the chat page and the
OpenAI-compatible API on http://127.0.0.1:8000 until Ctrl+C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from sapient import ConfigurationError, Host, Settings
from sapient.plugins.demo import DEMO_TOOLS, SemanticRouter, prepare
from sapient.plugins.serve import ServeConfig, serve

LOCAL_LLM = "llamacpp:default"

SYSTEM_PROMPT = (
    "You are the assistant of Lumora Labs, maker of the Aurora greenhouse controllers. "
    "Answer from the tools, not from memory. For product, pricing, support and policy "
    "questions call search_documents and cite the [source_id] of the passages you use; for "
    "people and who knows whom call graph_retrieve; for checkout latency call "
    "detect_anomalies with csv_path='{series}' and column='latency_ms'. If the tools find "
    "no sufficient evidence, say you do not know."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The Sapient web chat over the demo data.")
    parser.add_argument("--llm", help=f"LLM spec (default {LOCAL_LLM}, the bundled local model)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--home", type=Path, help="data folder (default $SAPIENT_HOME/web_chat)")
    args = parser.parse_args(argv)
    console = Console(stderr=True, highlight=False)
    base = Settings.from_env()
    settings = base.with_(home=args.home or base.home / "web_chat", index="demo", graph=None,
                          llm=args.llm or base.llm or LOCAL_LLM)
    console.print(f"[dim]Preparing the sample data under {settings.home} ...[/dim]")
    prepared = prepare(settings, console)
    host = Host(settings)
    tools = [name for name in DEMO_TOOLS if name in host.tools()]
    # The 270M local model cannot choose tools by itself: its first look-up is routed by
    # embedding similarity (see sapient.plugins.demo). Any --llm model chooses on its own.
    plugins = [SemanticRouter(host, prepared.get("series"))] if settings.llm == LOCAL_LLM else []
    config = ServeConfig(llm=settings.llm, tools=tools, plugins=plugins, port=args.port,
                         system_prompt=SYSTEM_PROMPT.format(series=prepared.get("series", "")),
                         max_steps=4, model_options={"max_tokens": 200} if plugins else {})
    config.with_env_key()
    try:
        return serve(config, host)
    except ConfigurationError as exc:
        console.print("[red]Error:[/red] ", end="")
        console.print(str(exc), markup=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
