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
from sapient.plugins.demo import SYSTEM_PROMPT, demo_tools, graph_spec, prepare
from sapient.plugins.serve import ServeConfig, serve

LOCAL_LLM = "llamacpp:default"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The Sapient web chat over the demo data.")
    parser.add_argument("--llm", help=f"LLM spec (default {LOCAL_LLM}, the bundled local model)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--home", type=Path, help="data folder (default $SAPIENT_HOME/web_chat)")
    args = parser.parse_args(argv)
    console = Console(stderr=True, highlight=False)
    base = Settings.from_env()
    settings = base.with_(home=args.home or base.home / "web_chat",
                          llm=args.llm or base.llm or LOCAL_LLM)
    host = Host(settings)
    console.print(f"[dim]Preparing the sample data under {settings.home} ...[/dim]")
    prepared = prepare(host, lambda text: console.print(f"[dim]{text}[/dim]"))
    store = host.graph_store(graph_spec(host)) if "graph" in prepared else None
    # The demo's tools, one per kind of source. With the bundled base model every first
    # turn is a look-up and the answer is composed from the evidence, with citations
    # (sapient.plugins.answers); any --llm model chooses and writes on its own.
    config = ServeConfig(llm=settings.llm, tools=demo_tools(host, prepared, store),
                         system_prompt=SYSTEM_PROMPT, max_steps=4, port=args.port,
                         model_options={"max_tokens": 200, "tool_choice": "required"})
    config.with_env_key()
    try:
        return serve(config, host)
    except ConfigurationError as exc:
        console.print("error: ", end="")
        console.print(str(exc), markup=False)
        return 2
    finally:
        if store is not None:
            store.close()


if __name__ == "__main__":
    sys.exit(main())
