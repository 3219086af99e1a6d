"""``sapient serve``: flags and an optional TOML file make a :class:`ServeConfig`; uvicorn runs it."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from sapient import ConfigurationError, Host
from sapient.plugins.apps import agent_flags

from ._config import ServeConfig, load_config

__all__ = ["configure", "run_serve", "serve", "free_address"]

_INSTALL_HINT = "sapient serve needs the web server packages: pip install 'sapient[api]'."


def configure(p: argparse.ArgumentParser) -> None:
    """The command's flags; each overrides the same setting of ``--config``."""
    p.add_argument("--config", metavar="FILE", help="TOML file with [server] and [agent] "
                   "settings (docs/serving.md); flags override it")
    p.add_argument("--host", dest="bind_host", metavar="ADDR",
                   help="address to listen on (default 127.0.0.1; any other needs an API key)")
    p.add_argument("--port", type=int, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--tool", action="append", metavar="NAME",
                   help="serve only this tool (repeatable); default: every registered tool")
    p.add_argument("--no-tools", action="store_true", help="give the model no tools")
    p.add_argument("--system", metavar="TEXT", help="system prompt")
    p.add_argument("--max-steps", type=int, help="most model calls per answer (default 8)")
    p.add_argument("--plugin", action="append", metavar="MODULE",
                   help="import this module as a plugin of the served agent (repeatable)")
    p.add_argument("--model-name", help="model id clients use (default 'sapient')")
    p.add_argument("--sessions", metavar="SPEC", help="session store: memory (default), "
                   "sqlite:PATH, redis://HOST:PORT/DB")
    p.add_argument("--session-ttl", type=float, metavar="SECONDS",
                   help="forget sessions idle this long (default 86400)")
    p.add_argument("--memory-tokens", type=int, metavar="N",
                   help="keep each session's conversation under N tokens (old turns "
                   "summarised, early facts recalled); default: the last messages as they are")
    p.add_argument("--api-key-env", metavar="NAME",
                   help="environment variable holding the API key (default SAPIENT_API_KEY)")
    p.add_argument("--no-page", action="store_true", help="do not serve the web chat page at /")
    agent_flags(p)


def _config_from(args: argparse.Namespace) -> ServeConfig:
    config = load_config(args.config) if getattr(args, "config", None) else ServeConfig()
    overrides = {"llm": args.llm, "host": args.bind_host, "port": args.port,
                 "system_prompt": args.system, "max_steps": args.max_steps,
                 "model_name": args.model_name, "sessions": args.sessions,
                 "session_ttl_s": args.session_ttl, "api_key_env": args.api_key_env,
                 "memory_tokens": args.memory_tokens}
    for name, value in overrides.items():
        if value is not None:
            setattr(config, name, value)
    if args.tool:
        config.tools = list(args.tool)
    if args.no_tools:
        config.tools = []
    if args.plugin:
        config.plugins = [*config.plugins, *args.plugin]
    if args.no_page:
        config.page = False
    return config.with_env_key()


def free_address(host: str, port: int) -> int:
    """The port to serve on (a free one for port 0), or one sentence saying why not.

    The probe socket is closed again and uvicorn binds the address itself, as it does
    when it runs alone; only the error message is ours.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"Cannot listen on '{host}': {exc.strerror}. Give an IP "
                                 "address or a host name of this machine.") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror}. Choose "
                                     "another --port or stop what uses it.") from None
        return probe.getsockname()[1]


def serve(config: ServeConfig, host: Host | None = None, *, announce: bool = True) -> int:
    """Check ``config``, build the app, listen and serve until Ctrl+C or SIGTERM."""
    try:
        import uvicorn

        from ._app import create_app
    except ImportError:
        raise ConfigurationError(_INSTALL_HINT) from None
    config.check()
    if config.sessions.startswith(("redis://", "rediss://", "unix://")):
        from ._sessions import check_redis

        check_redis(config.sessions)
    app = create_app(config, host=host)
    port = free_address(config.host, config.port)
    if announce:
        _announce(app, config, port)
    uvicorn.run(app, host=config.host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10)
    return 0


def _announce(app: Any, config: ServeConfig, port: int) -> None:
    agent = app.state.service.agent
    shown = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{shown}:{port}"
    tools = ", ".join(agent.tools) or "none"
    llm = config.llm if isinstance(config.llm, str) else type(agent.llm).__name__
    lines = [f"Serving model '{config.model_name}' (LLM {llm or agent.host.settings.llm}; "
             f"tools: {tools}; sessions: {app.state.service.store.name})",
             f"  chat page:  {url}/" if config.page else "  chat page:  off",
             f"  API:        {url}/v1  (OpenAI-compatible; "
             + ("API key required)" if config.api_key else "no API key, loopback only)"),
             "Press Ctrl+C to stop."]
    print("\n".join(lines), file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace, host: Host) -> int:
    """The ``sapient serve`` command."""
    return serve(_config_from(args), host)
