"""MCP as an app and as a tool source, on the public API only.

* ``sapient mcp`` serves every tool registered on the host to MCP clients (desktop
  assistants, IDEs, other agents): over stdio by default, so a client can start it
  as ``{"command": "sapient", "args": ["mcp"]}``, or over streamable HTTP with
  ``--http`` (bound to 127.0.0.1 unless told otherwise; any other address needs an
  API key). Calls go through the host's ``call_tool`` hook, so installed wrappers
  (tracing, approval policies) apply to MCP clients exactly as to agents.
* MCP servers named in ``SAPIENT_MCP_SERVERS`` (or ``Settings(extra={"mcp_servers":
  [...]})``) have their tools registered like any plugin's, so ``sapient run`` and
  ``sapient chat`` can use them: a command line (stdio), a URL, ``;`` between
  several, or JSON in the ``{"mcpServers": {...}}`` form desktop clients use (or
  the path of such a file).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sapient.core.errors import PluginError, SapientError
from sapient.core.hookspecs import hookimpl

__all__ = ["register_tools", "register_commands", "configured_servers", "run_mcp"]

HELP = "serve every registered tool over MCP (stdio, or streamable HTTP with --http)"


def configured_servers(settings: Any) -> list[Any]:
    """The MCP servers the settings (``extra["mcp_servers"]``) or environment name."""
    from sapient.connectors.mcp import parse_server, parse_servers

    extra = getattr(settings, "extra", None) or {}
    value = extra.get("mcp_servers")
    if value is None:
        value = os.environ.get("SAPIENT_MCP_SERVERS", "")
    if isinstance(value, str):
        return parse_servers(value)
    if isinstance(value, dict):
        value = value.get("mcpServers", value)
        return [parse_server({"name": k, **v}) for k, v in value.items()]
    # A list (``--mcp`` flags): each text in any form SAPIENT_MCP_SERVERS takes.
    return [spec for v in value
            for spec in (parse_servers(v) if isinstance(v, str) else [parse_server(v)])]


@hookimpl
def register_tools(register: Any, settings: Any) -> None:
    """Register the tools of each configured MCP server (none unless configured)."""
    servers = configured_servers(settings)
    if not servers:
        return
    from sapient.connectors.mcp import MCPToolset

    failed = []
    for spec in servers:
        try:
            toolset = MCPToolset(spec).open()
        except SapientError as exc:
            failed.append(str(exc))
            continue
        for tool in toolset.tools:
            register(tool)
    if failed:
        raise PluginError(" ".join(failed), plugin=__name__)


def _port(text: str) -> int:
    """A TCP port number, checked before anything starts."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {port}")
    return port


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http", action="store_true",
                        help="serve over streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind with --http (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=_port, default=8765, help="port for --http (default 8765)")
    parser.add_argument("--path", default="/mcp", help="URL path of the endpoint (default /mcp)")
    parser.add_argument("--api-key", default=None,
                        help="require 'Authorization: Bearer KEY' (env SAPIENT_MCP_API_KEY); "
                             "needed when binding anywhere but loopback")
    parser.add_argument("--tool", action="append", metavar="NAME",
                        help="serve only this tool (repeatable); default: every registered tool")


def _select_tools(host: Any, names: list[str] | None) -> dict[str, Any]:
    import contextlib
    import sys

    # Over stdio, stdout is the protocol: whatever a plugin prints while building its
    # tools goes to stderr instead.
    with contextlib.redirect_stdout(sys.stderr):
        tools = dict(host.tools())
    if not names:
        return tools
    unknown = sorted(set(names) - set(tools))
    if unknown:
        raise SapientError(f"No registered tool is named {', '.join(unknown)}. "
                           f"Registered tools: {', '.join(sorted(tools)) or 'none'}.")
    return {n: tools[n] for n in names}


def _runner(host: Any) -> Any:
    """Run a call through the host's ``call_tool`` hook (wrappers included)."""
    import itertools

    from sapient.core.messages import ToolCall
    from sapient.core.runtime import ToolInvocation

    ids = itertools.count(1)

    def run(tool: Any, args: dict[str, Any]) -> Any:
        call = ToolCall(tool.name, args, f"mcp_{next(ids)}")
        return host.pm.hook.call_tool(invocation=ToolInvocation(tool, args, call, None))

    return run


def run_mcp(args: argparse.Namespace, host: Any) -> int:
    """``sapient mcp``: serve the host's tools until the client leaves (or Ctrl-C)."""
    import sys

    import anyio
    from sapient import __version__
    from sapient.connectors.mcp import build_server, serve_http, serve_stdio

    tools = _select_tools(host, args.tool)
    server = build_server(tools, _runner(host), name="sapient", version=__version__,
                          instructions="Tools of a Sapient host: documents, knowledge "
                                       "graphs, time series and functions.")
    if args.http:
        api_key = args.api_key or os.environ.get("SAPIENT_MCP_API_KEY") or None
        print(f"Serving {len(tools)} tool(s) over MCP at http://{args.host}:{args.port}"
              f"{args.path} (Ctrl-C stops).", file=sys.stderr)
        serve_http(server, host=args.host, port=args.port, path=args.path, api_key=api_key)
        return 0
    anyio.run(serve_stdio, server)
    return 0


@hookimpl
def register_commands(register: Any) -> None:
    register("mcp", run_mcp, help=HELP, configure=_configure)
