"""MCP, both ways, with the official ``mcp`` SDK (``pip install 'sapient[mcp]'``).

* Use the tools of any MCP server in an agent::

      from sapient.connectors.mcp import mcp_tools
      agent = Agent(llm, tools=mcp_tools("python server.py"))      # stdio
      agent = Agent(llm, tools=mcp_tools("http://127.0.0.1:8000/mcp"))

* Serve Sapient tools to any MCP client: :func:`build_server` with
  :func:`serve_stdio` or :func:`serve_http` (the ``sapient mcp`` command does this for
  every registered tool).

Importing this module imports no SDK; it loads when a server or client starts.
"""

from __future__ import annotations

from sapient.core._lazy import lazy_exports

from ._spec import ServerSpec, parse_server, parse_servers

__all__ = [
    "MCPToolset",
    "ServerSpec",
    "build_server",
    "http_app",
    "is_loopback",
    "mcp_tools",
    "parse_server",
    "parse_servers",
    "result_text",
    "serve_http",
    "serve_stdio",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "MCPToolset": "._client", "mcp_tools": "._client", "result_text": "._client",
    "build_server": "._server", "serve_stdio": "._server", "http_app": "._server",
    "serve_http": "._server", "is_loopback": "._server",
})
