"""Sapient tools served to any MCP client, over stdio or streamable HTTP.

Built on the SDK's low-level ``Server`` rather than its decorator API: the tools
already have their JSON schemas and descriptions, and the low-level server publishes
them exactly as registered instead of deriving new ones from Python signatures.

Arguments are validated with the tool's own schema; an invalid call, a tool that
raises, or an unknown tool name come back as an MCP tool error (``isError: true``
with a plain sentence), which clients show to their model, never as a crash.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from sapient.core.errors import ConfigurationError, ModelRetry, ToolArgumentError
from sapient.core.messages import ToolOutput
from sapient.core.tools import Tool, serialize_result

from ._client import INSTALL_HINT

__all__ = ["build_server", "serve_stdio", "http_app", "serve_http", "is_loopback"]

#: ``runner(tool, arguments)`` runs one validated call (e.g. through the host's hooks).
Runner = Callable[[Tool, dict[str, Any]], Any]


def _types() -> Any:
    try:
        from mcp import types
    except ImportError as exc:
        raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from exc
    return types


def _error(types: Any, text: str) -> Any:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _success(types: Any, value: Any) -> Any:
    text = serialize_result(value)
    plain = value.content if isinstance(value, ToolOutput) else value
    structured = None
    if isinstance(plain, Mapping):
        try:
            structured = json.loads(text)
        except (TypeError, ValueError):
            structured = None
    return types.CallToolResult(content=[types.TextContent(text=text)],
                                structured_content=structured)


def build_server(tools: Mapping[str, Tool], runner: Runner | None = None, *,
                 name: str = "sapient", version: str = "",
                 instructions: str | None = None) -> Any:
    """An MCP ``Server`` that lists ``tools`` and runs calls with ``runner``.

    Args:
        tools: the tools to publish, by name.
        runner: runs a validated call; default ``tool.invoke``. Apps pass one that
            goes through the host's ``call_tool`` hook, so installed wrappers
            (tracing, approval) apply to MCP calls too.
        name, version, instructions: what the server tells clients about itself.
    """
    import anyio
    from mcp.server.lowlevel import Server

    types = _types()
    run = runner or (lambda tool, args: tool.invoke(args))
    listing = [types.Tool(name=t.name, description=t.description, input_schema=t.parameters)
               for t in tools.values()]

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=listing)

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        tool = tools.get(params.name)
        if tool is None:
            known = ", ".join(sorted(tools)) or "none"
            return _error(types, f"There is no tool named '{params.name}'. Tools: {known}.")
        try:
            args = tool.validate(params.arguments or {})
        except ToolArgumentError as exc:
            return _error(types, str(exc))
        try:
            value = await anyio.to_thread.run_sync(run, tool, args)
        except ModelRetry as exc:
            return _error(types, str(exc))
        except Exception as exc:  # a failing tool is an answer for the client, not a crash
            return _error(types, f"Tool '{tool.name}' failed: {type(exc).__name__}: {exc}")
        return _success(types, value)

    return Server(name, version=version, instructions=instructions,
                  on_list_tools=on_list_tools, on_call_tool=on_call_tool)


async def serve_stdio(server: Any) -> None:
    """Serve one client over this process's stdin/stdout until it disconnects."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_app(server: Any, *, host: str = "127.0.0.1", path: str = "/mcp",
             api_key: str | None = None) -> Any:
    """The streamable-HTTP ASGI app; with ``api_key`` every request needs the bearer key."""
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    if api_key:
        return _BearerKey(app, api_key)
    return app


class _BearerKey:
    """ASGI middleware: refuse HTTP requests without ``Authorization: Bearer <key>``."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "A bearer API key is required: send "
                                            "'Authorization: Bearer <key>'."}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def serve_http(server: Any, *, host: str = "127.0.0.1", port: int = 8000, path: str = "/mcp",
               api_key: str | None = None, log_level: str = "warning") -> None:
    """Serve over streamable HTTP with uvicorn until interrupted.

    Binding anywhere but loopback needs an ``api_key``: tools may read files and
    call services, so they are not offered to the network unauthenticated.
    """
    if not is_loopback(host) and not api_key:
        raise ConfigurationError(
            f"Serving MCP on {host} exposes the tools to the network; set an API key "
            "(--api-key or SAPIENT_MCP_API_KEY) or bind to 127.0.0.1.")
    import uvicorn

    uvicorn.run(http_app(server, host=host, path=path, api_key=api_key), host=host, port=port,
                log_level=log_level)
