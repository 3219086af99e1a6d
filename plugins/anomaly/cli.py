"""``sapient anomalies FILE.csv --column value``: print the anomalous intervals."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

__all__ = ["configure", "run"]

HELP = "find anomalous intervals in a CSV time series"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``anomalies`` sub-command."""
    parser.add_argument("file", help="CSV file with the series")
    parser.add_argument("--column", help="column to check (default: the only numeric one)")
    parser.add_argument("--time-column", help="timestamp column (default: auto-detected)")
    parser.add_argument("--method", default="auto",
                        help="auto, mad, stl, forecast, matrix-profile, flatline, "
                             "llm-prompter, llm-detector (default: auto)")
    parser.add_argument("--sensitivity", type=float, default=0.5,
                        help="0 (glaring only) to 1 (anything odd); default 0.5")
    parser.add_argument("--plot", metavar="PNG", help="also write a chart to this PNG file")
    with contextlib.suppress(argparse.ArgumentError):  # `sapient` has a global --llm
        parser.add_argument("--llm", help="LLM spec for the llm-* methods, e.g. llamacpp:default")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace, host: Any) -> int:
    """Run the sub-command; returns the exit code (0 ok, 2 bad input)."""
    from ._input import AnomalyInputError
    from .ensemble import detect

    out, err = sys.stdout, sys.stderr
    method = getattr(args, "method", "auto") or "auto"
    try:
        llm = host.llm(getattr(args, "llm", None)) if method.startswith("llm") else None
        report = detect(args.file, column=getattr(args, "column", None),
                        time_column=getattr(args, "time_column", None), method=method,
                        sensitivity=getattr(args, "sensitivity", 0.5), llm=llm)
    except (AnomalyInputError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    except Exception as exc:  # configuration problems (no LLM) are SapientErrors
        from sapient.core.errors import SapientError

        if isinstance(exc, SapientError):
            print(f"error: {exc}", file=err)
            return 2
        raise
    if getattr(args, "plot", None):
        from .plot import plot_report

        path = plot_report(args.file, report, args.plot, column=getattr(args, "column", None),
                           time_column=getattr(args, "time_column", None))
        print(f"chart written to {path}", file=err)
    if getattr(args, "json", False):
        print(json.dumps(report.to_dict(), indent=2), file=out)
        return 0
    print(f"{report.name}: {report.n_points} points, method {report.method}", file=out)
    if not report.intervals:
        print("no anomalies found", file=out)
    else:
        header = f"{'#':>2}  {'start':<26} {'end':<26} {'points':<13} {'severity':<8} {'score':>7}"
        print(header, file=out)
        for k, i in enumerate(report.intervals, 1):
            points = f"{i.start}-{i.end}"
            print(f"{k:>2}  {i.start_time or '-':<26} {i.end_time or '-':<26} {points:<13} "
                  f"{i.severity:<8} {i.score:>7.1f}", file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)
    return 0
