"""``sapient run`` and ``sapient chat``: an :class:`~sapient.Agent` on the command's host.

``--index`` and ``--graph`` choose the document index and knowledge graph the tools
read; the ``sapient`` dispatcher puts them into the host's settings before any tool
is built, so the one host of the command serves them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sapient import Agent, ConfigurationError, Result

from . import agent_flags
from ._chat import chat_loop
from ._render import EventPrinter, console, print_error

__all__ = ["configure_run", "run_once", "configure_chat", "run_chat", "make_agent"]

_CHOICES = ("auto", "required", "none")


def _agent_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool", action="append", metavar="NAME",
                   help="use only this tool (repeatable); default: every registered tool")
    p.add_argument("--no-tools", action="store_true", help="give the model no tools")
    p.add_argument("--tool-choice", metavar="CHOICE", default=None,
                   help="auto (the model decides), required (look something up first), "
                        "none, or a tool name; 'required' and a name apply to the first "
                        "model turn")
    p.add_argument("--index", metavar="NAME", default=None,
                   help="document index the search tool reads (env SAPIENT_INDEX, "
                        "default 'default')")
    p.add_argument("--graph", metavar="NAME|SPEC", default=None,
                   help="knowledge graph the graph tools read: a name under "
                        "SAPIENT_HOME/graphs or a store spec (env SAPIENT_GRAPH)")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--max-steps", type=int, default=8, help="most model calls per answer")
    agent_flags(p)


def configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="the question")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="hide tool calls")
    _agent_options(parser)


def configure_chat(parser: argparse.ArgumentParser) -> None:
    _agent_options(parser)
    parser.add_argument("--memory-tokens", type=int, default=3000,
                        help="token budget of what each turn sends: older turns are "
                        "summarised or trimmed, facts you stated are recalled (default 3000)")


def make_agent(args: argparse.Namespace, host: Any) -> Agent:
    """The agent a ``run``/``chat`` command line asks for, on the command's host."""
    from . import DEFAULT_SYSTEM_PROMPT

    if args.max_steps < 1:
        raise ConfigurationError(f"--max-steps must be at least 1 (got {args.max_steps}).")
    names = [] if args.no_tools else (args.tool or sorted(host.tools()))
    options: dict[str, Any] = {}
    if args.tool_choice is not None:
        _check_tool_choice(args.tool_choice, names)
        options["tool_choice"] = args.tool_choice
    return Agent(host.llm(), tools=names, host=host, model_options=options,
                 system_prompt=args.system or DEFAULT_SYSTEM_PROMPT, max_steps=args.max_steps)


def _check_tool_choice(choice: str, names: list[str]) -> None:
    if choice in _CHOICES or choice in names:
        return
    raise ConfigurationError(
        f"--tool-choice {choice!r} is neither auto, required, none nor one of the tools "
        f"({', '.join(names) or 'none'}).")


def _result_json(result: Result) -> str:
    return json.dumps({
        "answer": result.answer, "stop_reason": result.stop_reason, "error": result.error,
        "tool_calls": [{"name": r.name, "arguments": r.arguments, "result": r.result,
                        "error": r.error} for r in result.tool_calls],
        "citations": [c.source_id for c in result.citations],
        "usage": {"prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens,
                  "requests": result.usage.requests},
    }, ensure_ascii=False, default=str)


def run_once(args: argparse.Namespace, host: Any) -> int:
    """Answer one question; exit 0 with an answer, 1 when the run stopped without one."""
    if not args.prompt.strip():
        raise ConfigurationError('The prompt is empty; say what to ask, e.g. sapient run '
                                 '"What is the warranty period?"')
    agent = make_agent(args, host)
    if args.json:
        result = agent.run(args.prompt)
        print(_result_json(result))
        if not result.ok:
            print_error(f"no answer ({result.stop_reason}): {result.error}")
        return 0 if result.ok else 1
    printer = EventPrinter(console(), show_tools=not args.quiet)
    for event in agent.stream(args.prompt):
        printer(event)
    return 0 if printer.answered else 1


def run_chat(args: argparse.Namespace, host: Any) -> int:
    """Chat until end of input; the session keeps the turns."""
    from sapient import ConversationMemory
    from sapient.plugins.policy import terminal_approver

    memory = ConversationMemory(args.memory_tokens)  # checks the budget before any work
    agent = make_agent(args, host)
    if sys.stdin.isatty():  # a person is there to approve side-effecting calls
        agent.approve = terminal_approver()
    names = ", ".join(agent.tools) or "none"
    banner = (f"[dim]Model: {host.settings.llm}. Tools: {names}. "
              "Type /exit to quit, /reset to clear history.[/dim]")
    return chat_loop(agent, banner=banner, memory=memory)
