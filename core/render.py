"""Terminal rendering of run events (used by the CLI; the loop itself never prints)."""

from __future__ import annotations

import json
from typing import Any

from .messages import (
    Event,
    FinalAnswer,
    RunError,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)

__all__ = ["EventPrinter"]


def _short(value: Any, limit: int = 160) -> str:
    """One line of at most ``limit`` characters, escaped for rich markup."""
    from rich.markup import escape

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


class EventPrinter:
    """Prints streamed text as it arrives and one line per tool call and result.

    Args:
        console: a ``rich.console.Console``.
        show_tools: print tool calls and results (dimmed).
    """

    def __init__(self, console: Any, *, show_tools: bool = True) -> None:
        self.console = console
        self.show_tools = show_tools
        self._streamed = False

    def __call__(self, event: Event) -> None:
        c = self.console
        if isinstance(event, TextDelta):
            c.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
            self._streamed = True
        elif isinstance(event, ToolCallStarted) and self.show_tools:
            self._newline()
            c.print(f"[cyan]→ {event.call.name}[/cyan]([dim]{_short(event.call.arguments)}[/dim])",
                    highlight=False)
        elif isinstance(event, ToolCallFinished) and self.show_tools:
            rec = event.record
            if rec.error:
                c.print(f"  [red]✗ {_short(rec.error)}[/red]", highlight=False)
            else:
                c.print(f"  [dim]← {_short(rec.result)} ({rec.duration_s * 1000:.0f} ms)[/dim]",
                        highlight=False)
        elif isinstance(event, RunError) and event.fatal:
            self._newline()
            c.print(f"[red]Error:[/red] {event.message}", highlight=False)
        elif isinstance(event, FinalAnswer):
            if event.text is None:
                self._newline()
                c.print(f"[yellow]Stopped ({event.stop_reason}).[/yellow] "
                        f"{event.result.error if event.result else ''}", highlight=False)
            elif not self._streamed:
                c.print(event.text, markup=False, highlight=False)
            else:
                self._newline()
            self._streamed = False

    def _newline(self) -> None:
        if self._streamed:
            self.console.print()
            self._streamed = False
