"""Time-series anomaly checking: fast detectors, LLM methods, a monitor, a tool and a CLI.

Quick use::

    from sapient.plugins.anomaly import detect
    report = detect("latency.csv", column="p95_ms")
    print(report.summary)

This module registers the ``detect_anomalies`` tool and the ``sapient anomalies``
command. It imports nothing heavy itself: numpy, pandas, statsmodels and stumpy
(the ``sapient[anomaly]`` extra) load on first use, so a missing extra never
breaks the host.
"""

from __future__ import annotations

import importlib
from typing import Any

from sapient.core.hookspecs import hookimpl

__all__ = [
    "detect",
    "load_series",
    "AnomalyInputError",
    "AnomalyReport",
    "AnomalyInterval",
    "Ensemble",
    "RollingMAD",
    "STLResidual",
    "ForecastError",
    "MatrixProfile",
    "FlatLine",
    "LLMPrompter",
    "LLMDetector",
    "AnomalyMonitor",
    "MonitorAlert",
    "ThresholdConfig",
    "overlap_counts",
    "plot_report",
    "make_detect_tool",
]

_LAZY = {
    "detect": "ensemble", "Ensemble": "ensemble",
    "load_series": "_input", "AnomalyInputError": "_input",
    "AnomalyReport": "result", "AnomalyInterval": "result",
    "RollingMAD": "detectors", "STLResidual": "detectors", "ForecastError": "detectors",
    "MatrixProfile": "detectors", "FlatLine": "detectors",
    "LLMPrompter": "llm_methods", "LLMDetector": "llm_methods",
    "AnomalyMonitor": "monitor", "MonitorAlert": "monitor",
    "ThresholdConfig": "threshold", "overlap_counts": "scoring",
    "plot_report": "plot", "make_detect_tool": "tool",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def register_tools(register: Any, settings: Any) -> None:
    from .tool import make_detect_tool

    def llm_factory() -> Any:
        from sapient.core.plugins import Host

        return Host(settings).llm()

    register(make_detect_tool(llm_factory))


@hookimpl
def register_commands(register: Any) -> None:
    from . import cli

    register("anomalies", cli.run, help=cli.HELP, configure=cli.configure)
