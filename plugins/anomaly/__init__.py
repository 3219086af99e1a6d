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

from typing import TYPE_CHECKING, Any

from sapient.core._lazy import lazy_exports
from sapient.core.hookspecs import hookimpl

if TYPE_CHECKING:
    from .tool import AnomalyToolkit

__all__ = [
    "detect",
    "load_series",
    "AnomalyInputError",
    "AnomalyReport",
    "AnomalyInterval",
    "AnomalyToolkit",
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
    "register_tools",
    "register_commands",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "detect": ".ensemble", "Ensemble": ".ensemble",
    "load_series": "._input", "AnomalyInputError": "._input",
    "AnomalyReport": ".result", "AnomalyInterval": ".result",
    "RollingMAD": ".detectors", "STLResidual": ".detectors", "ForecastError": ".detectors",
    "MatrixProfile": ".detectors", "FlatLine": ".detectors",
    "LLMPrompter": ".llm_methods", "LLMDetector": ".llm_methods",
    "AnomalyMonitor": ".monitor", "MonitorAlert": ".monitor",
    "ThresholdConfig": ".threshold", "overlap_counts": ".scoring",
    "plot_report": ".plot", "make_detect_tool": ".tool", "AnomalyToolkit": ".tool",
})


@hookimpl
def register_tools(register: Any, host: Any) -> None:
    """Offer ``detect_anomalies``; its LLM methods use ``host.llm()``."""
    from .tool import AnomalyToolkit

    for tool in AnomalyToolkit(host).tools():
        register(tool)


@hookimpl
def register_commands(register: Any) -> None:
    from . import cli

    register("anomalies", cli.run, help=cli.HELP, configure=cli.configure)
