"""A chat session in the terminal, from a keyboard or from piped input."""

from __future__ import annotations

import sys
from typing import Any

from sapient import SapientError

from ._render import EventPrinter, console, print_error

__all__ = ["chat_loop"]

_EXIT = {"/exit", "/quit", "exit", "quit"}


def _read(interactive: bool) -> str | None:
    try:
        return input("you> " if interactive else "")
    except EOFError:
        return None


def chat_loop(agent: Any, *, banner: str = "", out: Any = None, memory: Any = None) -> int:
    """Chat with ``agent`` until end of input or ``/exit``; returns the exit code.

    One :meth:`~sapient.Agent.chat` session keeps the turns, so each answer sees the
    conversation so far and the latest message is the question. Piped input is read
    line by line into the same session (each question is echoed so the transcript
    reads like the terminal one). Exit code 0, or 1 if a turn ended without an answer.
    ``memory`` (a :class:`~sapient.core.memory.ConversationMemory`) keeps each turn
    under its token budget.
    """
    con = out or console()
    interactive = sys.stdin.isatty()
    if banner:
        con.print(banner)
    session = agent.chat(memory=memory)
    failed = False
    while True:
        try:
            line = _read(interactive)
        except KeyboardInterrupt:
            con.print()
            return 130
        if line is None:
            if interactive:
                con.print()
            return 1 if failed else 0
        text = line.strip()
        if not text:
            continue
        if text in _EXIT:
            return 1 if failed else 0
        if text == "/reset":
            if memory is not None:
                memory = type(memory)(memory.budget_tokens)
            session = agent.chat(memory=memory)
            con.print("[dim](history cleared)[/dim]")
            continue
        failed |= not _turn(session, text, con, echo=not interactive)


def _turn(session: Any, text: str, con: Any, *, echo: bool) -> bool:
    """One question and its streamed answer; False when it ended without an answer."""
    from rich.markup import escape

    if echo:
        con.print(f"\n[bold]you>[/bold] {escape(text)}")
    con.print("[bold green]sapient>[/bold green] ", end="")
    printer = EventPrinter(con)
    try:
        for event in session.stream(text):
            printer(event)
    except SapientError as exc:
        con.print()
        print_error(str(exc))
        return False
    return bool(printer.answered)
