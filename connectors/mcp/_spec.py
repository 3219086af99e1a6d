"""Naming an MCP server: a command line (stdio), a URL (streamable HTTP) or a config entry.

The config form is the one desktop assistants use (``{"mcpServers": {"name":
{"command": ..., "args": [...], "env": {...}}}}``), so an existing MCP configuration
file can be pointed at as it is.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError

__all__ = ["ServerSpec", "parse_server", "parse_servers"]


@dataclass
class ServerSpec:
    """One MCP server to connect to.

    Attributes:
        name: a short label for messages (and the optional tool-name prefix).
        command: the program to start for stdio; ``None`` for a URL.
        args: its arguments.
        env: extra environment variables for the program.
        cwd: its working folder.
        url: the streamable-HTTP endpoint (``http://127.0.0.1:8000/mcp``).
        headers: HTTP headers (e.g. ``Authorization``) sent with every request.
        prefix: put before every tool name (``"files_"``) to avoid clashes.
    """

    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    prefix: str = ""

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def describe(self) -> str:
        """A label without secrets: the command line, or the URL without credentials."""
        if self.url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{host}{port}{parts.path}"
        return shlex.join([self.command or "", *self.args])


def _from_mapping(entry: Mapping[str, Any], name: str | None = None) -> ServerSpec:
    label = str(entry.get("name") or name or entry.get("url") or entry.get("command") or "mcp")
    if entry.get("url"):
        return ServerSpec(name=label, url=str(entry["url"]),
                          headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
                          prefix=str(entry.get("prefix") or ""))
    command = entry.get("command")
    if not command:
        raise ConfigurationError(
            f"The MCP server entry {label!r} has neither 'command' nor 'url'; give one, e.g. "
            '{"command": "python", "args": ["server.py"]} or {"url": "http://127.0.0.1:8000/mcp"}.')
    args = entry.get("args") or []
    if isinstance(command, str) and not args and " " in command.strip():
        command, *args = shlex.split(command)
    return ServerSpec(name=label, command=str(command), args=[str(a) for a in args],
                      env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
                      cwd=entry.get("cwd"), prefix=str(entry.get("prefix") or ""))


def parse_server(server: str | Mapping[str, Any] | ServerSpec, *, prefix: str = "") -> ServerSpec:
    """A :class:`ServerSpec` from a command line, a URL or a config mapping."""
    if isinstance(server, ServerSpec):
        spec = server
    elif isinstance(server, Mapping):
        spec = _from_mapping(server)
    elif isinstance(server, str) and server.strip():
        text = server.strip()
        if text.startswith(("http://", "https://")):
            spec = ServerSpec(name=text, url=text)
        else:
            try:
                parts = shlex.split(text)
            except ValueError as exc:
                raise ConfigurationError(
                    f"Cannot read the MCP server command {text!r} ({exc}); check its quotes."
                ) from None
            spec = ServerSpec(name=Path(parts[-1]).name if parts else text,
                              command=parts[0], args=parts[1:])
    else:
        raise ConfigurationError(
            "Name an MCP server as a command line ('python server.py'), a URL "
            "('http://127.0.0.1:8000/mcp') or a mapping with 'command' or 'url'.")
    if prefix:
        spec.prefix = prefix
    return spec


def parse_servers(value: str) -> list[ServerSpec]:
    """Servers from ``SAPIENT_MCP_SERVERS``: JSON, a JSON file, or ``;``-separated lines.

    JSON may be a list of entries or an object ``{"mcpServers": {name: entry}}``
    (or just ``{name: entry}``); a path to a ``.json`` file holding either is read.
    """
    text = value.strip()
    if not text:
        return []
    if text.endswith(".json") and not text.startswith(("{", "[")):
        path = Path(text).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"Cannot read the MCP server file {path}: {exc}.") from None
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"The MCP server list is not valid JSON ({exc.msg} at position {exc.pos}).") from None
        if isinstance(data, dict):
            data = data.get("mcpServers", data)
            return [_from_mapping(entry, name) for name, entry in data.items()]
        return [parse_server(entry) for entry in data]
    return [parse_server(part) for part in text.replace("\n", ";").split(";") if part.strip()]
