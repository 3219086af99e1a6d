"""An agent that uses the tools of an MCP server it starts over stdio.

    python examples/mcp_agent/bot.py                    # chat; the warehouse server starts
    python examples/mcp_agent/bot.py --llm openai:gpt-4o-mini --question "Should we reorder mist valves?"
    python examples/mcp_agent/bot.py --server "npx -y @modelcontextprotocol/server-everything"

``server.py`` beside this file is a small MCP server written with the official SDK
(``MCPServer``). The bot starts it as a subprocess, lists its tools and hands them to
the agent as ordinary Sapient tools; the server stops when the bot exits.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import converse, home_dir, parser, plugins_for  # noqa: E402
from sapient import Agent, Host, Settings  # noqa: E402
from sapient.connectors.mcp import MCPToolset  # noqa: E402

SERVER = Path(__file__).resolve().parent / "server.py"
SYSTEM = ("You help with warehouse questions. Use the tools: list_items gives the item "
          "codes, stock_level the units in stock, the warehouse and whether to reorder. "
          "Answer from their results only.")


def route(remote: MCPToolset) -> Any:
    """First step for the embedded model: stock_level of an item the question names."""
    text = remote.call("list_items", {})
    try:
        items = [str(i) for i in json.loads(text)]
    except (ValueError, TypeError):
        items = text.split()

    def first(question: str) -> tuple[str, dict[str, Any]]:
        words = question.lower().replace("-", " ")
        for item in items:
            if item.replace("-", " ") in words:
                return "stock_level", {"item": item}
        return "list_items", {}

    return first


def build(argv: list[str] | None = None, llm: Any = None) -> tuple[Agent, Any, MCPToolset]:
    args = parser("Chat with an agent that uses the tools of an MCP server.")
    args.add_argument("--server", default=shlex.join([sys.executable, str(SERVER)]),
                      help="the MCP server: a command (stdio) or a URL (streamable HTTP); "
                           "default: the warehouse server beside this file")
    opts = args.parse_args(argv)
    remote = MCPToolset(opts.server).open()
    print(f"MCP server {remote.spec.describe()} offers: "
          f"{', '.join(t.name for t in remote.tools)}")
    settings = Settings.from_env(home=home_dir(opts, "mcp_agent"),
                                 llm=opts.llm or "llamacpp:default")
    host = Host(settings)
    default_server = opts.server == args.get_default("server")
    plugins = plugins_for(opts, llm, route(remote)) if default_server else []
    agent = Agent(llm or host.llm(), tools=remote.tools, host=host, plugins=plugins,
                  system_prompt=SYSTEM if default_server else None, max_steps=6)
    return agent, opts, remote


def main(argv: list[str] | None = None, llm: Any = None) -> int:
    agent, opts, remote = build(argv, llm)
    with remote:
        return converse(agent, opts.question,
                        "MCP agent. Try: How many mist valves are in stock? (/exit quits)")


if __name__ == "__main__":
    sys.exit(main())
