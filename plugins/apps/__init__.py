"""The built-in commands of ``sapient``: ``plugins``, ``tools``, ``run`` and ``chat``.

They are registered through ``register_commands`` like any plugin's commands and use
only Sapient's public API (``from sapient import Agent, ...``), so an installed plugin
may replace any of them by registering a command of the same name (``sapient
plugins`` then shows which one won). The terminal rendering of a run's events lives
here too (:class:`EventPrinter`, :func:`chat_loop`): the agent loop never prints.

Exit codes, the same for every command: 0 done; 1 the command ran but has no
result to give (a run that stopped without an answer, files that could not be
read); 2 bad input or configuration (the message says what to change); 130
interrupted. Messages for the user go to stderr as one line ``error: ...`` or
``warning: ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sapient import hookimpl, lazy_exports

if TYPE_CHECKING:
    from ._chat import chat_loop
    from ._render import EventPrinter, console, print_error

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "agent_flags",
    "EventPrinter",
    "chat_loop",
    "console",
    "print_error",
    "register_commands",
]

#: The system prompt of ``sapient run`` and ``sapient chat`` (``--system`` replaces it).
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the available tools to look facts up instead of "
    "guessing; cite sources as [source_id] when a tool gave them. If the tools find no "
    "sufficient evidence, say so."
)

__getattr__, __dir__ = lazy_exports(__name__, {
    "EventPrinter": "._render", "console": "._render", "print_error": "._render",
    "chat_loop": "._chat"})


def agent_flags(p: Any) -> None:
    """``--mcp SERVER``, ``--trace FILE`` and ``--allow-tool NAME``, for commands that run an agent (run, chat,
    serve). The ``sapient`` dispatcher reads them into the host's settings before the
    command starts (``settings_from_argv``), like ``--index`` and ``--graph``, so the MCP
    tools and the tracer are the command's host's."""
    p.add_argument("--mcp", action="append", metavar="SERVER",
                   help="give the agent the tools of this MCP server: a command line "
                   "('python server.py') or a URL (repeatable; same forms as "
                   "SAPIENT_MCP_SERVERS, whose servers it adds to)")
    p.add_argument("--trace", metavar="FILE", help="trace the runs as JSON lines appended to "
                   "FILE (or a SAPIENT_TRACE spec: otlp, otlp:URL, otel); read it with "
                   "'sapient trace show FILE'")
    p.add_argument("--allow-tool", action="append", metavar="NAME",
                   help="let this side-effecting tool run without asking (repeatable; adds "
                   "to SAPIENT_ALLOW_TOOLS); the other safety rules still apply")


@hookimpl
def register_commands(register: Any) -> None:
    """``sapient plugins``, ``tools``, ``run`` and ``chat``."""
    from . import _agent_commands as agent_cmds
    from . import _host_commands as host_cmds

    register("plugins", host_cmds.run_plugins, configure=host_cmds.configure_plugins,
             help="list plugins, what each provides, which won a name, load errors")
    register("tools", host_cmds.run_tools, configure=host_cmds.configure_tools,
             help="list registered tools")
    register("run", agent_cmds.run_once, configure=agent_cmds.configure_run,
             help="answer one question with the tools")
    register("chat", agent_cmds.run_chat, configure=agent_cmds.configure_chat,
             help="chat in the terminal (streaming; piped input works too)")
