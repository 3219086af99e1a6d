"""``sapient trace show FILE``: a JSONL trace as a readable tree.

One tree per run (trace id): each span with its duration, token usage, the model's
tool calls, and tool arguments and results cut to one line. Works without
OpenTelemetry installed: it only reads the JSON lines.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sapient.core.errors import SapientError

from ._redact import redact

__all__ = ["HELP", "configure_trace", "run_trace", "read_spans", "render"]

HELP = "show a trace recorded with SAPIENT_TRACE=jsonl:FILE as a tree"

_G = "gen_ai."


def configure_trace(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trace_command", metavar="ACTION")
    show = sub.add_parser("show", help="render the runs of a JSONL trace file")
    show.add_argument("file", help="the file named in SAPIENT_TRACE=jsonl:FILE")
    show.add_argument("--last", type=int, default=0, metavar="N",
                      help="only the last N runs (default: all)")
    show.add_argument("--width", type=int, default=100, metavar="CHARS",
                      help="cut arguments and results to this many characters")


def read_spans(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The spans of a JSONL trace and the number of lines that were not spans."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SapientError(f"There is no trace file at {path}; record one with "
                           f"SAPIENT_TRACE=jsonl:{path} sapient run \"...\".") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SapientError(f"Cannot read the trace file {path}: {exc}.") from None
    spans, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            span = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(span, dict) and {"trace_id", "span_id", "name"} <= span.keys():
            spans.append(span)
        else:
            bad += 1
    return spans, bad


def _duration(ms: Any) -> str:
    if not isinstance(ms, (int, float)):
        return "?"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def _one_line(text: Any, width: int) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _text_of(messages: Any) -> str:
    """The text parts of a ``gen_ai.*.messages`` attribute."""
    try:
        data = json.loads(messages) if isinstance(messages, str) else messages
        return " ".join(p.get("content", "") for m in data for p in m.get("parts", [])
                        if p.get("type") == "text")
    except (ValueError, TypeError, AttributeError):
        return str(messages)


def _label(span: dict[str, Any], width: int) -> str:
    """One rich-markup line for a span (all untrusted text escaped)."""
    from rich.markup import escape

    a = span.get("attributes") or {}
    op = a.get(_G + "operation.name", "")
    parts = [f"[bold]{escape(span['name'])}[/bold]", f"[cyan]{_duration(span.get('duration_ms'))}[/cyan]"]
    tin, tout = a.get(_G + "usage.input_tokens"), a.get(_G + "usage.output_tokens")
    if tin is not None or tout is not None:
        parts.append(f"[magenta]tokens {tin or 0} in / {tout or 0} out[/magenta]")
    if op == "chat" and a.get("sapient.tool_calls"):
        parts.append("→ calls " + escape(", ".join(a["sapient.tool_calls"])))
    elif op == "chat" and a.get(_G + "output.messages"):
        parts.append("[dim]" + escape(_one_line(_text_of(a[_G + "output.messages"]), width))
                     + "[/dim]")
    if op == "execute_tool":
        if _G + "tool.call.arguments" in a:
            parts.append("[dim]args[/dim] " + escape(_one_line(a[_G + "tool.call.arguments"],
                                                               width)))
        if _G + "tool.call.result" in a:
            parts.append("[dim]→[/dim] " + escape(_one_line(a[_G + "tool.call.result"], width)))
    if op == "invoke_agent":
        if a.get("sapient.stop_reason"):
            parts.append(f"stop: {escape(str(a['sapient.stop_reason']))}")
        if a.get(_G + "input.messages"):
            parts.append("[dim]asked[/dim] " + escape(_one_line(
                _text_of(a[_G + "input.messages"]), width)))
    if span.get("status") == "ERROR":
        parts.append("[red]✗ " + escape(_one_line(span.get("status_message") or
                                                  a.get("error.type", "error"), width)) + "[/red]")
    return "  ".join(parts)


def _runs(spans: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    runs = list(by_trace.values())
    runs.sort(key=lambda r: min(s.get("start_ns") or 0 for s in r))
    return runs


def _add(node: Any, span: dict[str, Any], children: dict[str | None, list[dict[str, Any]]],
         width: int) -> None:
    branch = node.add(_label(span, width))
    for child in children.get(span["span_id"], []):
        _add(branch, child, children, width)


def render(spans: Iterable[dict[str, Any]], console: Any, *, width: int = 100,
           last: int = 0) -> int:
    """Print one tree per trace; returns the number of trees printed."""
    from rich.tree import Tree

    runs = _runs(list(spans))
    if last > 0:
        runs = runs[-last:]
    for run in runs:
        ids = {s["span_id"] for s in run}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for s in run:
            parent = s.get("parent_id") if s.get("parent_id") in ids else None
            children.setdefault(parent, []).append(s)
        for kids in children.values():
            kids.sort(key=lambda s: s.get("start_ns") or 0)
        tree = Tree(f"[dim]trace {run[0]['trace_id']}[/dim]")
        for root in children.get(None, []):
            _add(tree, root, children, width)
        console.print(tree)
    return len(runs)


def run_trace(args: argparse.Namespace, host: Any) -> int:
    """``sapient trace show FILE``."""
    from rich.console import Console

    if getattr(args, "trace_command", None) != "show":
        raise SapientError("Say what to do with traces: sapient trace show FILE.")
    console = Console(highlight=False)
    path = Path(args.file).expanduser()
    spans, bad = read_spans(path)
    if not spans:
        raise SapientError(f"{path} holds no spans; is it a trace written with "
                           "SAPIENT_TRACE=jsonl:FILE?")
    render(spans, console, width=max(20, args.width), last=args.last)
    if bad:
        console.print(f"[yellow]{bad} line(s) of {redact(str(path))} were not spans and "
                      "were skipped.[/yellow]")
    return 0
