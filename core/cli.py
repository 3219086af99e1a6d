"""The ``sapient`` command: parse the command line, build the one host, run a command.

Every sub-command, the built-in ones included (``plugins``, ``tools``, ``run``,
``chat``, ``demo``, ``ingest``, ...), is registered by a plugin through
``register_commands``; this module only dispatches. It builds exactly one
:class:`~sapient.Host` per invocation, from the environment and the global options
(``--llm``, ``--home``, ``--index``, ``--graph``), and hands it to the command, so
every model, embedder and store the command uses is loaded once.

argparse (standard library) lets plugins add sub-commands without depending on a CLI
framework. Exit codes: 0 done; 1 no result (e.g. a run that stopped without an
answer); 2 bad input or configuration; 130 interrupted. Errors are printed once, on
stderr, as ``error: <sentence>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from .errors import SapientError
from .plugins import ENTRY_POINT_GROUP, Host
from .settings import Settings

__all__ = ["main", "build_parser", "trace_spec", "EXIT_OK", "EXIT_NO_RESULT", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_NO_RESULT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line argparse refused; printed as one ``error:`` line."""


class _Parser(argparse.ArgumentParser):
    """argparse, reporting bad arguments in the same one-line style as other errors."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}. Run '{self.prog} --help' for the options.")


def _error(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(f"error: {message}\n")


def _warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """``--llm`` and ``--home``, accepted before or after the command name."""
    default = argparse.SUPPRESS if suppress else None
    for flag, helptext in (
        ("--llm", "LLM spec, e.g. llamacpp:default, openai:gpt-4o-mini, "
                  "openai:http://127.0.0.1:11434/v1#llama3.1 (env SAPIENT_LLM)"),
        ("--home", "data folder (env SAPIENT_HOME, default ~/.sapient)"),
    ):
        with contextlib.suppress(argparse.ArgumentError):  # the command defines it itself
            parser.add_argument(flag, default=default, help=helptext)


def trace_spec(value: str) -> str:
    """A ``--trace`` value as a tracing spec: a file becomes ``jsonl:FILE``."""
    if value in ("otlp", "otel") or value.startswith(("jsonl:", "otlp:", "otel:")):
        return value
    return f"jsonl:{value}"


def _extra(known: argparse.Namespace, environ: dict[str, str]) -> dict[str, object]:
    """Settings the default MCP, tracing and policy plugins read, from ``--mcp``,
    ``--trace`` and ``--allow-tool``."""
    extra: dict[str, object] = {}
    if known.mcp:
        from_env = environ.get("SAPIENT_MCP_SERVERS", "").strip()
        extra["mcp_servers"] = ([from_env] if from_env else []) + list(known.mcp)
    if known.trace:
        extra["trace"] = trace_spec(known.trace)
    if known.allow_tool:
        from_env = environ.get("SAPIENT_ALLOW_TOOLS", "").split(",")
        extra["allow_tools"] = [n for n in from_env if n.strip()] + list(known.allow_tool)
    return extra


def settings_from_argv(argv: Sequence[str]) -> Settings:
    """Settings from the environment and the global options found anywhere in ``argv``."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for flag in ("--llm", "--home", "--index", "--graph", "--trace"):
        pre.add_argument(flag)
    pre.add_argument("--mcp", action="append")
    pre.add_argument("--allow-tool", action="append")
    try:
        known, _ = pre.parse_known_args(list(argv))
    except argparse.ArgumentError:  # e.g. a flag without its value: the command's own
        known = pre.parse_args([])  # parser says so, in the one-line error style
    settings = Settings.from_env(llm=known.llm, home=known.home, index=known.index)
    extra = _extra(known, dict(os.environ))
    if extra:
        settings = settings.with_(extra={**settings.extra, **extra})
    if known.graph:
        graph = known.graph
        if ":" not in graph:  # a bare name: the embedded graph of that name
            graph = f"ladybug:{settings.home / 'graphs' / graph}"
        settings = settings.with_(graph=graph)
    return settings


def build_parser(host: Host) -> argparse.ArgumentParser:
    """The parser, one sub-command per registration in ``host.registry("commands")``."""
    parser = _Parser(prog="sapient", description="Ground LLMs in tools, documents, "
                     "knowledge graphs and time series.")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, reg in host.registry("commands").items():
        p = sub.add_parser(name, help=reg.help or f"(from {reg.plugin})")
        configure = reg.extra.get("configure")
        if configure is not None:
            try:
                configure(p)
            except Exception as exc:
                _warn(f"the command '{name}' of plugin {reg.plugin} could not be set up and "
                      f"is left out ({type(exc).__name__}: {exc}).")
                continue
        _global_options(p, suppress=True)
        p.set_defaults(_run=reg.value)
    return parser


def warn_unknown_plugins(environ: dict[str, str] | None = None) -> list[str]:
    """Warn about names in ``SAPIENT_PLUGINS`` that no installed plugin has."""
    env = os.environ if environ is None else environ
    wanted = [p.strip() for p in env.get("SAPIENT_PLUGINS", "").split(",") if p.strip()]
    if not wanted or env.get("SAPIENT_DISABLE_PLUGIN_AUTOLOAD") == "1":
        return []
    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    missing = [name for name in wanted if name not in installed]
    if missing:
        _warn(f"SAPIENT_PLUGINS names {', '.join(missing)}, which "
              f"{'is' if len(missing) == 1 else 'are'} not installed; installed plugins: "
              f"{', '.join(sorted(installed)) or 'none'}.")
    return missing


def _dispatch(argv: list[str]) -> int:
    host = Host(settings_from_argv(argv))
    warn_unknown_plugins()
    parser = build_parser(host)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    return int(args._run(args, host) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sapient`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except UsageError as exc:
        _error(str(exc))
    except SapientError as exc:
        _error(str(exc))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        _error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except KeyboardInterrupt:
        _error("interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `sapient tools | head`: the reader left, nothing to say
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        _error(_unexpected(exc))
        return EXIT_NO_RESULT
    return EXIT_USAGE


def _unexpected(exc: BaseException) -> str:
    if os.environ.get("SAPIENT_DEBUG") == "1":
        sys.stderr.write("".join(traceback.format_exception(exc)))
        return f"unexpected {type(exc).__name__}: {exc}"
    return (f"unexpected {type(exc).__name__}: {exc}. This is a bug in Sapient or a plugin; "
            "set SAPIENT_DEBUG=1 to see the traceback.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
