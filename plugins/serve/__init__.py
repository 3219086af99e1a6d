"""``sapient serve``: any configured agent as an OpenAI-compatible API, with a web chat page.

Endpoints: ``POST /v1/chat/completions`` (streamed or not; tool steps in an extra
``sapient`` field), ``GET /v1/models``, ``GET /health`` and the chat page at ``/``.
Stateless by default; the ``X-Sapient-Session`` header names a server-side session kept
in a session store (memory, SQLite or Redis). A side-effecting call the policy holds
back goes to the client as an OpenAI ``tool_calls`` entry, which a ``tool`` message
approves or denies (``_approvals.py``). See docs/serving.md and docs/security.md.

This module is a default plugin and imports no web framework: FastAPI and uvicorn
(``pip install 'sapient[api]'``) load when the command runs or an app is built.

Python use::

    from sapient.plugins.serve import ServeConfig, create_app, serve
    app = create_app(ServeConfig(llm="openai:gpt-4o-mini", tools=["search_documents"]))
    # uvicorn.run(app), or serve(config) to check, listen and announce like the command
"""

from __future__ import annotations

from typing import Any

from sapient import hookimpl

from ._config import DEFAULT_SYSTEM_PROMPT, ServeConfig, is_loopback, load_config

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "SESSION_HEADER",
    "ServeConfig",
    "create_app",
    "is_loopback",
    "load_config",
    "open_session_store",
    "serve",
]

SESSION_HEADER = "X-Sapient-Session"


def create_app(config: ServeConfig | None = None, *, host: Any = None) -> Any:
    """The FastAPI app serving ``config``'s agent (see :func:`._app.create_app`)."""
    from ._app import create_app as _create_app

    return _create_app(config, host=host)


def serve(config: ServeConfig, host: Any = None, *, announce: bool = True) -> int:
    """Check ``config``, listen, and serve until stopped (what ``sapient serve`` runs)."""
    from ._cli import serve as _serve

    return _serve(config, host, announce=announce)


def open_session_store(spec: str, ttl_s: float = 86_400.0) -> Any:
    """A session store by spec: ``memory``, ``sqlite:PATH``, ``redis://HOST:PORT/DB``."""
    from ._sessions import open_session_store as _open

    return _open(spec, ttl_s)


@hookimpl
def register_commands(register: Any) -> None:
    from ._cli import configure, run_serve

    register("serve", run_serve, help="serve the agent as an OpenAI-compatible API with a "
             "web chat page (needs sapient[api])", configure=configure)
