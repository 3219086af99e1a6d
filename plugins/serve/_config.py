"""What ``sapient serve`` serves and how: one dataclass, from flags or one TOML file.

Standard library only (``tomllib``), so the command can read and check its
configuration before the web stack is imported.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sapient import ConfigurationError
from sapient.core.errors import not_utf8

__all__ = ["ServeConfig", "load_config", "is_loopback", "DEFAULT_SYSTEM_PROMPT"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the available tools to look facts up instead of "
    "guessing; cite sources as [source_id] when a tool gave them. If the tools find no "
    "sufficient evidence, say so."
)

#: TOML section of each setting: ``[server]`` for how it listens, ``[agent]`` for what answers.
_AGENT_KEYS = ("llm", "tools", "system_prompt", "max_steps", "plugins", "model_options")
_SERVER_KEYS = ("host", "port", "model_name", "api_key_env", "sessions", "session_ttl_s",
                "max_session_messages", "memory_tokens", "max_body_bytes", "page")


@dataclass
class ServeConfig:
    """Everything the server needs; every field has a safe default.

    Attributes:
        llm: an LLM object or spec (``llamacpp:default``, ``openai:gpt-4o-mini``);
            ``None`` uses the host's settings (``--llm`` / ``SAPIENT_LLM``).
        tools: tools (functions, ``Tool`` objects or registered names); ``None`` means
            every registered tool, ``[]`` none.
        system_prompt: the agent's system message (``None``: a default that asks for
            tool use and citations).
        max_steps: most model calls per answer.
        plugins: plugin objects or importable module paths whose hooks apply to the
            served agent only.
        model_options: options for every model call; a request's sampling options
            (temperature, max_tokens, ...) are applied on top.
        host: the address to listen on (loopback by default).
        port: the TCP port.
        model_name: the model id clients name in requests and ``/v1/models`` lists.
        api_key_env: the environment variable holding the bearer API key.
        api_key: the key itself (from ``api_key_env`` when the command starts; in
            Python you may set it directly). Required off loopback.
        sessions: the session store: ``memory``, ``sqlite:PATH`` or ``redis://HOST:PORT/DB``.
        session_ttl_s: a session idle this long is forgotten.
        max_session_messages: a longer session history drops its oldest turns.
        memory_tokens: keep each session's conversation under this many tokens with a
            :class:`~sapient.ConversationMemory` (old turns summarised, facts the user
            stated recalled when relevant) instead of sending every kept message;
            ``None`` (default) sends the kept messages as they are.
        max_body_bytes: larger request bodies are refused (413).
        page: serve the web chat page at ``/``.
    """

    llm: Any = None
    tools: list[Any] | None = None
    system_prompt: str | None = None
    max_steps: int = 8
    plugins: list[Any] = field(default_factory=list)
    model_options: dict[str, Any] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    model_name: str = "sapient"
    api_key_env: str = "SAPIENT_API_KEY"
    api_key: str | None = field(default=None, repr=False)
    sessions: str = "memory"
    session_ttl_s: float = 86_400.0
    max_session_messages: int = 400
    memory_tokens: int | None = None
    max_body_bytes: int = 4_000_000
    page: bool = True

    def check(self) -> None:
        """Refuse settings that cannot work or are unsafe, in one plain sentence each."""
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigurationError(f"The port must be a number from 0 to 65535, not {self.port!r}.")
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ConfigurationError(f"max_steps must be a whole number of at least 1, not "
                                     f"{self.max_steps!r}.")
        if not self.model_name or not isinstance(self.model_name, str):
            raise ConfigurationError("model_name must be a non-empty string (the id clients use).")
        for name in ("session_ttl_s", "max_session_messages", "max_body_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive number, not {value!r}.")
        if self.memory_tokens is not None and (
                not isinstance(self.memory_tokens, int) or self.memory_tokens < 64):
            raise ConfigurationError(f"memory_tokens must be a whole number of at least 64 (a "
                                     f"model context is thousands of tokens), not "
                                     f"{self.memory_tokens!r}.")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigurationError(f"The API key in {self.api_key_env} is empty; set a real "
                                     "key or unset the variable.")
        if not self.api_key and not is_loopback(self.host):
            raise ConfigurationError(
                f"Refusing to listen on {self.host} without an API key: anyone who can reach "
                f"this machine could use the agent. Set {self.api_key_env}=<a long random key> "
                "(clients send it as 'Authorization: Bearer <key>'), or listen on 127.0.0.1."
            )

    def with_env_key(self, environ: dict[str, str] | None = None) -> ServeConfig:
        """This config with ``api_key`` read from ``api_key_env`` unless already set."""
        env = os.environ if environ is None else environ
        if self.api_key is None and self.api_key_env in env:
            self.api_key = env[self.api_key_env]
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def load_config(path: str | Path) -> ServeConfig:
    """Read a ``[server]`` / ``[agent]`` TOML file (see docs/serving.md)."""
    p = Path(path).expanduser()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"The config file {p} does not exist; check the path.") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(not_utf8(f"The config file {p}", exc)) from None
    except IsADirectoryError:
        raise ConfigurationError(f"{p} is a folder; --config takes a TOML file.") from None
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the config file {p}: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"The config file {p} is not valid TOML: {exc}.") from None
    unknown = sorted(set(data) - {"server", "agent"})
    if unknown:
        raise ConfigurationError(f"Unknown section(s) {unknown} in {p}; the file has two: "
                                 "[server] and [agent].")
    values: dict[str, Any] = {}
    for section, keys in (("server", _SERVER_KEYS), ("agent", _AGENT_KEYS)):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigurationError(f"[{section}] in {p} must be a table of settings.")
        for key, value in table.items():
            if key not in keys:
                raise ConfigurationError(f"Unknown setting '{key}' in [{section}] of {p}. "
                                         f"Known: {', '.join(keys)}.")
            values[key] = value
    return _typed(values, p)


_KINDS = {str: "a string", int: "a whole number", list: "a list", dict: "a table",
          bool: "true or false"}


def _typed(values: dict[str, Any], source: Path) -> ServeConfig:
    """A ServeConfig from file values, each checked against its field's expected type."""
    expected = {"llm": str, "tools": list, "system_prompt": str, "max_steps": int,
                "plugins": list, "model_options": dict, "host": str, "port": int,
                "model_name": str, "api_key_env": str, "sessions": str,
                "session_ttl_s": (int, float), "max_session_messages": int,
                "memory_tokens": int, "max_body_bytes": int, "page": bool}
    for key, value in values.items():
        kind = expected[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            want = _KINDS.get(kind, "a number")
            raise ConfigurationError(f"'{key}' in {source} must be {want}, not {value!r}.")
        if key in ("tools", "plugins") and not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"'{key}' in {source} must be a list of names.")
    known = {f.name for f in fields(ServeConfig)}
    return ServeConfig(**{k: v for k, v in values.items() if k in known})
