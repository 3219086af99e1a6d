"""The tools of any MCP server as ordinary Sapient tools.

An :class:`MCPToolset` keeps one session to one server open (a subprocess over stdio,
or a streamable-HTTP connection) on a private event-loop thread, so the agent can
call the tools from any thread, synchronously, like any other tool. Each remote tool
becomes a :class:`~sapient.Tool` built with ``Tool.from_json_schema`` from the
schema the server published, so arguments are validated before they travel.

A tool result the server marks as an error (``isError``) raises
:class:`~sapient.ToolExecutionError`, which the agent feeds back to the model.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import re
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from sapient.core.errors import ConfigurationError, ToolExecutionError
from sapient.core.tools import Tool

from ._spec import ServerSpec, parse_server

__all__ = ["MCPToolset", "mcp_tools", "result_text", "INSTALL_HINT"]

INSTALL_HINT = "MCP needs the official SDK: pip install 'sapient[mcp]'."
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")
_open_sets: weakref.WeakSet[MCPToolset] = weakref.WeakSet()


def _import_mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:
        raise ConfigurationError(f"{INSTALL_HINT} ({exc})") from exc
    return mcp


def result_text(result: Any) -> str:
    """The text of an MCP ``CallToolResult``: text blocks joined, others summarised.

    Structured content is used when the server sent no text. Images and audio
    are not passed to the model; a note says what was left out.
    """
    pieces: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            pieces.append(block.text)
        elif kind in ("image", "audio"):
            pieces.append(f"[{kind} {getattr(block, 'mime_type', '')} left out]")
        elif kind == "resource_link":
            pieces.append(f"[resource {getattr(block, 'uri', '')}]")
        elif kind == "resource":
            res = getattr(block, "resource", None)
            pieces.append(getattr(res, "text", None) or f"[resource {getattr(res, 'uri', '')}]")
    structured = getattr(result, "structured_content", None)
    if not pieces and structured is not None:
        return json.dumps(structured, ensure_ascii=False, sort_keys=True, default=str)
    return "\n".join(pieces)


def _tool_name(spec: ServerSpec, name: str) -> str:
    """The name the model sees: the server's name with the prefix, in OpenAI's alphabet."""
    return _NAME_OK.sub("_", f"{spec.prefix}{name}")[:64]


class MCPToolset:
    """An open connection to one MCP server and its tools as Sapient tools.

    Use it as a context manager, or call :meth:`close` (it is also closed at exit)::

        with MCPToolset("python server.py") as remote:
            agent = Agent(llm, tools=remote.tools)

    Args:
        server: a command line (stdio), a URL (streamable HTTP), a config mapping or a
            :class:`ServerSpec`.
        prefix: put before every tool name, to keep names from two servers apart.
        timeout: seconds to wait for the server to start and for each tool call.
        include: only these tool names (the server's names), when given.
    """

    def __init__(self, server: str | Mapping[str, Any] | ServerSpec, *, prefix: str = "",
                 timeout: float = 60.0, include: list[str] | None = None) -> None:
        self.spec = parse_server(server, prefix=prefix)
        self.timeout = timeout
        self.include = set(include) if include else None
        self.tools: list[Tool] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._done: concurrent.futures.Future[None] | None = None
        self._errlog: Any = None

    # -- life cycle ------------------------------------------------------------------

    def open(self) -> MCPToolset:
        """Start (or reach) the server, list its tools; idempotent."""
        if self._client is not None:
            return self
        _import_mcp()
        # The server's stderr, kept to explain a failed start (closed in close()).
        self._errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"mcp-{self.spec.name}")
        self._thread.start()
        ready: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()
        self._done = asyncio.run_coroutine_threadsafe(self._session(ready), self._loop)
        try:
            listed = ready.result(timeout=self.timeout)
        except BaseException as exc:
            self.close()
            raise self._start_error(exc) from None
        self.tools = [self._wrap(t) for t in listed
                      if self.include is None or t.name in self.include]
        _open_sets.add(self)
        return self

    async def _session(self, ready: concurrent.futures.Future[list[Any]]) -> None:
        """Holds the session open (in one task, as anyio requires) until close()."""
        from mcp import Client

        self._stop = asyncio.Event()
        try:
            async with Client(self._connect(), read_timeout_seconds=self.timeout) as client:
                self._client = client
                listed, cursor = [], None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    listed.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                ready.set_result(listed)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._client = None

    def _connect(self) -> Any:
        """The transport (an async context giving the streams): a subprocess or HTTP."""
        spec = self.spec
        if spec.url:
            return _http_transport(spec.url, spec.headers, self.timeout)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=spec.command or "", args=spec.args,
                                       env=spec.env or None, cwd=spec.cwd)
        return stdio_client(params, errlog=self._errlog)

    def _start_error(self, exc: BaseException) -> ConfigurationError:
        detail = _root_cause(exc)
        stderr = self._stderr_tail()
        where = f"start the MCP server '{self.spec.describe()}'" if not self.spec.url else \
            f"reach the MCP server at {self.spec.describe()}"
        msg = f"Could not {where}: {detail}."
        if stderr:
            msg += f" Its last output: {stderr}"
        msg += (" Check the command (it must speak MCP over stdio)." if not self.spec.url
                else " Check that the server runs and that the URL ends with its MCP path (/mcp).")
        return ConfigurationError(msg)

    def _stderr_tail(self, chars: int = 400) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.seek(0)
            text = self._errlog.read()
        except (OSError, ValueError):
            return ""
        return " ".join(text.split())[-chars:]

    def close(self) -> None:
        """End the session and stop the server process (when we started one)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._stop is not None:
            loop.call_soon_threadsafe(self._stop.set)
        if self._done is not None:
            with contextlib.suppress(BaseException):  # already reported, or the server went away
                self._done.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None
        _open_sets.discard(self)

    def __enter__(self) -> MCPToolset:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.open().tools)

    def __len__(self) -> int:
        return len(self.open().tools)

    # -- tools -----------------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Call a tool by its server-side name; returns its text, raises on a tool error."""
        if self._client is None or self._loop is None:
            raise ToolExecutionError(name, f"the connection to the MCP server "
                                           f"'{self.spec.describe()}' is closed")
        future = asyncio.run_coroutine_threadsafe(self._client.call_tool(name, arguments),
                                                  self._loop)
        try:
            result = future.result(timeout=self.timeout + 5)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ToolExecutionError(name, f"the MCP server gave no answer within "
                                           f"{self.timeout:.0f} s") from None
        except Exception as exc:
            raise ToolExecutionError(name, f"the MCP call failed: {_root_cause(exc)}") from None
        text = result_text(result)
        if getattr(result, "is_error", False):
            raise ToolExecutionError(name, text or "the MCP server reported an error")
        return text

    def _wrap(self, remote: Any) -> Tool:
        name = remote.name

        def call(arguments: dict[str, Any]) -> str:
            return self.call(name, arguments)

        schema = dict(remote.input_schema or {"type": "object", "properties": {}})
        tool = Tool.from_json_schema(_tool_name(self.spec, name), remote.description or name,
                                     schema, call, pass_arguments_as_dict=True)
        tool.source = f"mcp:{self.spec.name}"
        tool.metadata.update({"mcp_server": self.spec.describe(), "mcp_name": name})
        return tool


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], timeout: float) -> Any:
    """Streamable HTTP with our headers (e.g. a bearer token) and timeouts."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    limits = httpx2.Timeout(timeout, read=max(timeout, 300.0))
    async with httpx2.AsyncClient(headers=headers or None, timeout=limits) as http_client, \
            streamable_http_client(url, http_client=http_client) as streams:
        yield streams


def _root_cause(exc: BaseException) -> str:
    """The innermost useful message (anyio wraps failures in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def mcp_tools(server: str | Mapping[str, Any] | ServerSpec, *, prefix: str = "",
              timeout: float = 60.0, include: list[str] | None = None) -> MCPToolset:
    """Connect to an MCP server and return its tools (an open :class:`MCPToolset`).

    The result iterates over :class:`~sapient.Tool` objects, so it goes straight into
    ``Agent(tools=...)``; close it (or use ``with``) to stop the server. Example::

        from sapient import Agent
        from sapient.connectors.mcp import mcp_tools

        agent = Agent("openai:gpt-4o-mini", tools=mcp_tools("python server.py"))
    """
    return MCPToolset(server, prefix=prefix, timeout=timeout, include=include).open()


@atexit.register
def _close_all() -> None:
    for toolset in list(_open_sets):
        toolset.close()
