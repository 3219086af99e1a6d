"""The ``sapient`` command line: plugins, tools, run, chat, demo, and plugin commands.

argparse + rich: argparse is in the standard library and plugins can add sub-commands
to it through ``register_commands`` without depending on a CLI framework; rich gives
tables, colours and progress bars.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .errors import ConfigurationError, SapientError
from .plugins import Host
from .settings import Settings

__all__ = ["main", "build_parser"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the available tools to look facts up instead of "
    "guessing; cite sources as [source_id] when a tool gave them. If the tools find no "
    "sufficient evidence, say so."
)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _host(args: argparse.Namespace) -> Host:
    settings = Settings.from_env(llm=getattr(args, "llm", None), home=getattr(args, "home", None))
    return Host(settings)


# -- built-in commands ---------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace, host: Host) -> int:
    from rich.table import Table

    con = _console()
    tools = host.tools()
    table = Table(title="Plugins", show_lines=False)
    table.add_column("plugin")
    table.add_column("provides")
    for name in host.plugin_names():
        provided = [f"tool {t.name}" for t in tools.values() if t.source == name]
        for kind in ("llms", "embedders", "graph_stores", "commands"):
            provided += [f"{kind[:-1].replace('_', ' ')} {r.name}"
                         for r in host.registry(kind).values() if r.plugin == name]
        table.add_row(name, ", ".join(provided) or "[dim]hooks only[/dim]")
    con.print(table)
    if host.load_errors:
        con.print(f"[red]{len(host.load_errors)} plugin(s) failed to load and were skipped:[/red]")
        for err in host.load_errors:
            con.print(f"[red]✗ {err.plugin}[/red] ({err.stage}): ", end="")
            con.print(err.error, markup=False, highlight=False)
            if args.verbose:
                con.print(err.traceback, markup=False)
        if not args.verbose:
            con.print("[dim]Run 'sapient plugins --verbose' for tracebacks.[/dim]")
    return 0


def cmd_tools(args: argparse.Namespace, host: Host) -> int:
    from rich.table import Table

    con = _console()
    tools = host.tools()
    if args.json:
        print(json.dumps([t.spec() for t in tools.values()], indent=2))
        return 0
    table = Table(title="Tools")
    for col in ("tool", "plugin", "parameters", "description"):
        table.add_column(col)
    for t in sorted(tools.values(), key=lambda t: t.name):
        params = ", ".join(t.parameters.get("properties", {}))
        desc = t.description.splitlines()[0] if t.description else ""
        table.add_row(t.name, t.source or "", params, desc)
    con.print(table)
    return 0


def _make_agent(args: argparse.Namespace, host: Host) -> Any:
    from .agent import Agent

    if args.max_steps < 1:
        raise ConfigurationError(f"--max-steps must be at least 1 (got {args.max_steps}).")
    names = args.tool or list(host.tools())
    if args.no_tools:
        names = []
    return Agent(host.llm(args.llm), tools=names, host=host,
                 system_prompt=args.system or DEFAULT_SYSTEM_PROMPT, max_steps=args.max_steps)


def cmd_run(args: argparse.Namespace, host: Host) -> int:
    from .render import EventPrinter

    if not args.prompt.strip():
        raise ConfigurationError('The prompt is empty; say what to ask, e.g. sapient run '
                                 '"What is the warranty period?"')
    agent = _make_agent(args, host)
    if args.json:
        result = agent.run(args.prompt)
        print(json.dumps({
            "answer": result.answer, "stop_reason": result.stop_reason, "error": result.error,
            "tool_calls": [{"name": r.name, "arguments": r.arguments, "result": r.result,
                            "error": r.error} for r in result.tool_calls],
            "citations": [c.source_id for c in result.citations],
            "usage": {"prompt_tokens": result.usage.prompt_tokens,
                      "completion_tokens": result.usage.completion_tokens,
                      "requests": result.usage.requests},
        }, ensure_ascii=False, default=str))
        return 0 if result.ok else 1
    printer = EventPrinter(_console(), show_tools=not args.quiet)
    ok = True
    for event in agent.stream(args.prompt):
        printer(event)
        if event.kind == "FinalAnswer":
            ok = event.text is not None
    return 0 if ok else 1


def chat_loop(agent: Any, *, banner: str = "", console: Any = None) -> int:
    """Read prompts (from a terminal or piped stdin) and stream answers until EOF/exit."""
    from .render import EventPrinter

    con = console or _console()
    interactive = sys.stdin.isatty()
    if banner:
        con.print(banner)
    session = agent.chat()
    printer = EventPrinter(con)
    while True:
        try:
            line = input("you> " if interactive else "")
        except (EOFError, KeyboardInterrupt):
            con.print()
            return 0
        text = line.strip()
        if not text:
            continue
        if text in {"/exit", "/quit", "exit", "quit"}:
            return 0
        if text == "/reset":
            session = agent.chat()
            con.print("[dim](history cleared)[/dim]")
            continue
        if not interactive:
            con.print("[bold]you>[/bold] ", end="")
            con.print(text, markup=False, highlight=False)
        con.print("[bold green]sapient>[/bold green] ", end="")
        try:
            for event in session.stream(text):
                printer(event)
        except SapientError as exc:
            con.print("\n[red]Error:[/red] ", end="")
            con.print(str(exc), markup=False, highlight=False)


def cmd_chat(args: argparse.Namespace, host: Host) -> int:
    agent = _make_agent(args, host)
    names = ", ".join(agent.tools) or "none"
    return chat_loop(agent, banner=f"[dim]Model: {args.llm or host.settings.llm}. Tools: {names}. "
                                   "Type /exit to quit, /reset to clear history.[/dim]")


# -- parser --------------------------------------------------------------------------


def _agent_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool", action="append", metavar="NAME",
                   help="use only this tool (repeatable); default: every registered tool")
    p.add_argument("--no-tools", action="store_true", help="give the model no tools")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--max-steps", type=int, default=8, help="most model calls per answer")


def build_parser(host: Host | None = None) -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The argument parser, with sub-commands from plugins when a host is given."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--llm", help="LLM spec, e.g. llamacpp:default, openai:gpt-4o-mini, "
                        "openai:http://127.0.0.1:11434/v1#llama3.1 (env SAPIENT_LLM)")
    common.add_argument("--home", help="data folder (env SAPIENT_HOME, default ~/.sapient)")
    parser = argparse.ArgumentParser(
        prog="sapient", parents=[common],
        description="Ground LLMs in tools, documents, knowledge graphs and time series.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, Any] = {}

    p = sub.add_parser("plugins", parents=[common], help="list plugins, what they provide, load errors")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of load errors")
    handlers["plugins"] = cmd_plugins
    p = sub.add_parser("tools", parents=[common], help="list registered tools")
    p.add_argument("--json", action="store_true", help="print OpenAI-style tool specs as JSON")
    handlers["tools"] = cmd_tools
    p = sub.add_parser("run", parents=[common], help="answer one question with the tools")
    p.add_argument("prompt")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="hide tool calls")
    _agent_options(p)
    handlers["run"] = cmd_run
    p = sub.add_parser("chat", parents=[common], help="chat in the terminal (streaming)")
    _agent_options(p)
    handlers["chat"] = cmd_chat

    if host is not None:
        for name, reg in host.registry("commands").items():
            if name in handlers:
                continue
            p = sub.add_parser(name, parents=[common], help=reg.help or f"(from {reg.plugin})")
            configure = reg.extra.get("configure")
            if configure is not None:
                try:
                    configure(p)
                except Exception as exc:
                    host._record(reg.plugin, "register_commands", exc)
                    continue
            handlers[name] = reg.value
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sapient`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Plugins may add sub-commands, so the host loads before parsing (it is cheap:
    # plugins import their heavy dependencies only when used).
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--llm")
    pre.add_argument("--home")
    known, _ = pre.parse_known_args(argv)
    host = Host(Settings.from_env(llm=known.llm, home=known.home))
    parser, handlers = build_parser(host)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        return int(handlers[args.command](args, host) or 0)
    except SapientError as exc:
        _print_error(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a folder that is a file, a disk that is full, no permission
        where = f": {exc.filename}" if exc.filename else ""
        _print_error(f"{exc.strerror or exc}{where}.")
        return 1
    except Exception as exc:  # a bug: one line; the traceback only when asked for
        if os.environ.get("SAPIENT_DEBUG") == "1":
            raise
        _print_error(f"unexpected {type(exc).__name__}: {exc}. This is a bug in Sapient or a "
                     "plugin; run again with SAPIENT_DEBUG=1 to see the traceback.")
        return 1


def _print_error(message: str) -> None:
    con = _console(stderr=True)
    con.print("[red]Error:[/red] ", end="")
    con.print(message, markup=False, highlight=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
