"""Terminal rendering of run events: the loop emits events, this prints them.

Events are told apart by ``event.kind`` (part of the public event API), so this
module needs nothing from the core but what every user sees.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["EventPrinter", "console", "print_error", "print_warning"]


def console(*, stderr: bool = False) -> Any:
    """A ``rich`` console: colours on a terminal, plain text in a pipe."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_error(message: str) -> None:
    """The one way a command reports a failure: ``error: <sentence>`` on stderr."""
    _print_stderr("error", message)


def print_warning(message: str) -> None:
    """``warning: <sentence>`` on stderr (the command goes on)."""
    _print_stderr("warning", message)


def _print_stderr(label: str, message: str) -> None:
    text = " ".join(str(message).split()) if "\n" not in str(message) else str(message)
    sys.stdout.flush()
    sys.stderr.write(f"{label}: {text}\n")
    sys.stderr.flush()


def _short(value: Any, limit: int = 160) -> str:
    """One line of at most ``limit`` characters, escaped for rich markup."""
    from rich.markup import escape

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


class EventPrinter:
    """Prints streamed text as it arrives and one dimmed line per tool call and result.

    A run that stops without an answer is reported once, on stderr, with its reason.
    Fatal errors are not printed here: they end the run with an exception, which the
    command prints (once).

    Args:
        console: a ``rich.console.Console`` for the answer and the tool lines.
        show_tools: print tool calls and results.
    """

    def __init__(self, console: Any, *, show_tools: bool = True) -> None:
        self.console = console
        self.show_tools = show_tools
        self.answered: bool | None = None
        self.stop_reason: str | None = None
        self._streamed = False

    def __call__(self, event: Any) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _on_TextDelta(self, event: Any) -> None:  # noqa: N802 - named after the event kind
        self.console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        self._streamed = True

    def _on_ToolCallStarted(self, event: Any) -> None:  # noqa: N802
        if self.show_tools:
            self._newline()
            self.console.print(f"[cyan]→ {event.call.name}[/cyan]"
                               f"([dim]{_short(event.call.arguments)}[/dim])")

    def _on_ToolCallFinished(self, event: Any) -> None:  # noqa: N802
        if not self.show_tools:
            return
        rec = event.record
        if rec.error:
            self.console.print(f"  [red]✗ {_short(rec.error)}[/red]")
        else:
            self.console.print(f"  [dim]← {_short(rec.result)} "
                               f"({rec.duration_s * 1000:.0f} ms)[/dim]")

    def _on_FinalAnswer(self, event: Any) -> None:  # noqa: N802
        self.answered = event.text is not None
        self.stop_reason = event.stop_reason
        if event.text is None:
            self._newline()
            reason = event.result.error if event.result is not None else None
            print_error(f"no answer ({event.stop_reason}): {reason or 'the run stopped'}")
        elif not self._streamed:
            self.console.print(event.text, markup=False, highlight=False)
        else:
            self._newline()
        self._streamed = False

    def _newline(self) -> None:
        if self._streamed:
            self.console.print()
            self._streamed = False
