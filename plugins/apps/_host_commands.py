"""``sapient plugins`` and ``sapient tools``: what the host has loaded."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._render import console

__all__ = ["configure_plugins", "run_plugins", "configure_tools", "run_tools"]

#: Registries shown by ``sapient plugins``, with the word for one entry.
REGISTRIES = (("llms", "llm"), ("embedders", "embedder"), ("graph_stores", "graph store"),
              ("document_stores", "document store"), ("commands", "command"))


def configure_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the tracebacks of load errors")


def _provided(host: Any, plugin: str, tools: dict[str, Any]) -> list[str]:
    """What one plugin gave the host, saying which built-in entries it replaced."""
    items = [f"tool {t.name}" for t in tools.values() if t.source == plugin]
    for kind, word in REGISTRIES:
        for reg in _registry(host, kind).values():
            if reg.plugin != plugin:
                continue
            item = f"{word} {reg.name}"
            if reg.replaced:
                item += f" (replaces the one from {reg.replaced})"
            items.append(item)
    return items


def _registry(host: Any, kind: str) -> dict[str, Any]:
    try:
        return host.registry(kind)
    except Exception:  # a registry this host version does not have
        return {}


def run_plugins(args: argparse.Namespace, host: Any) -> int:
    """One row per plugin with what it provides; replaced built-ins; load errors."""
    from rich.markup import escape
    from rich.table import Table

    con = console()
    tools = host.tools()
    table = Table(title="Plugins")
    table.add_column("plugin")
    table.add_column("provides")
    for name in host.plugin_names():
        provided = _provided(host, name, tools)
        table.add_row(escape(name), escape(", ".join(provided)) or "[dim]hooks only[/dim]")
    con.print(table)
    replaced = [(kind, reg) for kind, _ in REGISTRIES
                for reg in _registry(host, kind).values() if reg.replaced]
    for kind, reg in replaced:
        con.print(f"{kind[:-1].replace('_', ' ')} '{escape(reg.name)}': {escape(reg.plugin)} "
                  f"won over the built-in from {escape(reg.replaced)}.")
    _print_load_errors(con, host.load_errors, args.verbose)
    return 0


def _print_load_errors(con: Any, errors: list[Any], verbose: bool) -> None:
    if not errors:
        return
    con.print(f"[red]{len(errors)} plugin(s) failed to load and were skipped:[/red]")
    for err in errors:
        con.print(f"[red]✗ {err.plugin}[/red] ({err.stage}): ", end="")
        con.print(err.error, markup=False)
        if verbose:
            con.print(err.traceback, markup=False)
    if not verbose:
        con.print("[dim]Run 'sapient plugins --verbose' for tracebacks.[/dim]")


def configure_tools(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print OpenAI-style tool specs")


def run_tools(args: argparse.Namespace, host: Any) -> int:
    """Every registered tool: its plugin, parameters and the first line of its docs."""
    from rich.markup import escape
    from rich.table import Table

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
        table.add_row(escape(t.name), escape(t.source or ""), escape(params), escape(desc))
    console().print(table)
    return 0
