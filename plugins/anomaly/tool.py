"""The ``detect_anomalies`` tool an agent calls ("did anything odd happen to latency?").

Its arguments are ones a model can fill from a user's question: where the series
is (a CSV path and column, or inline values), which method (``auto`` unless the
user asked for one) and how sensitive to be. The answer is JSON with the
intervals, their severity and evidence, and a summary the model can quote; each
interval is also a :class:`~sapient.Citation`, so answers can point at evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sapient.core.effects import READS_PRIVATE
from sapient.core.errors import ModelRetry
from sapient.core.messages import Citation, ToolOutput
from sapient.core.tools import Tool

__all__ = ["AnomalyToolkit", "make_detect_tool"]

Method = Literal["auto", "mad", "stl", "forecast", "matrix-profile", "flatline",
                 "llm-prompter", "llm-detector"]

#: Inline series longer than this should come from a file.
MAX_INLINE = 100_000


def _run(csv_path: str | None, column: str | None, values: list[float | None] | None,
         timestamps: list[str] | None, method: str, sensitivity: float,
         plot_path: str | None, llm_factory: Callable[[], Any] | None) -> ToolOutput:
    from ._input import AnomalyInputError
    from .ensemble import detect

    if csv_path is None and values is None:
        raise ModelRetry(
            "Give the series: csv_path (with column), e.g. {\"csv_path\": \"metrics.csv\", "
            "\"column\": \"latency_ms\"}, or the values inline."
        )
    ignored = []
    if csv_path is not None and values is not None:  # the file is the authoritative source
        values, timestamps = None, None
        ignored.append("Inline values were ignored because csv_path was given.")
    if not 0.0 <= sensitivity <= 1.0:
        raise ModelRetry(f"sensitivity must be between 0 and 1 (got {sensitivity}); 0.5 is normal.")
    if values is not None and len(values) > MAX_INLINE:
        raise ModelRetry(f"Too many inline values ({len(values)}); save them to a CSV and pass "
                         "csv_path instead.")
    llm = None
    if method.startswith("llm-"):
        if llm_factory is None:
            raise ModelRetry(f"Method {method!r} needs a configured LLM; use method 'auto'.")
        try:
            llm = llm_factory()
        except Exception as exc:
            raise ModelRetry(f"Method {method!r} cannot run here ({exc}); use method 'auto'.") from exc
    try:
        if csv_path is not None:
            report = detect(csv_path, column=column, method=method, sensitivity=sensitivity,
                            llm=llm)
            data: Any = csv_path
            load = {"column": column}
        else:
            report = detect(list(values or []), timestamps=timestamps, method=method,
                            sensitivity=sensitivity, llm=llm, name=column or "series")
            data, load = list(values or []), {"timestamps": timestamps, "name": column or "series"}
    except (AnomalyInputError, ValueError) as exc:
        raise ModelRetry(str(exc)) from exc
    if ignored:
        from .result import summarize

        report.notes.extend(ignored)
        report.summary = summarize(report)
    content = report.to_dict()
    if plot_path:
        from .plot import plot_report

        content["plot"] = str(plot_report(data, report, plot_path, **load))
    source = csv_path or report.name
    citations = [
        Citation(source_id=f"{source}#{i.start}-{i.end}", text=i.describe(), score=i.score,
                 metadata={"start": i.start, "end": i.end, "start_time": i.start_time,
                           "end_time": i.end_time, "severity": i.severity})
        for i in report.intervals
    ]
    return ToolOutput(content=content, citations=citations, data=report)


def make_detect_tool(llm_factory: Callable[[], Any] | None = None) -> Tool:
    """Build the tool; ``llm_factory`` supplies the model for the LLM methods."""

    def detect_anomalies(
        csv_path: str | None,
        column: str | None = None,
        values: list[float | None] | None = None,
        timestamps: list[str] | None = None,
        method: Method = "auto",
        sensitivity: float = 0.5,
        plot_path: str | None = None,
    ) -> ToolOutput:
        """Find unusual periods in a time series (spikes, drops, level shifts, flat lines)
        and say when they happened, how severe they were and what was normal.

        Args:
            csv_path: path of a CSV file holding the series (use with column); null when
                the values are given inline.
            column: the CSV column to check, e.g. "latency_ms"; for inline values, a name.
            values: the series inline, oldest first, when there is no file.
            timestamps: one timestamp per inline value (ISO text), optional.
            method: "auto" (recommended ensemble) or one detector: mad, stl, forecast,
                matrix-profile, flatline, llm-prompter, llm-detector.
            sensitivity: 0 reports only glaring anomalies, 1 anything odd; default 0.5.
            plot_path: if given, also write a PNG chart of the series to this path.
        """
        return _run(csv_path, column, values, timestamps, method, sensitivity, plot_path,
                    llm_factory)

    tool = Tool.from_function(detect_anomalies)
    tool.effects = frozenset({READS_PRIVATE})  # reads the user's files
    return tool


class AnomalyToolkit:
    """The anomaly plugin's tools, built from the host that offers them.

    ``AnomalyToolkit(host).tools()`` gives ``detect_anomalies``; its ``llm-*`` methods
    run on ``host.llm()`` (the host's configured model, with its wrappers). Without a
    host those methods answer with a hint to use ``auto``.
    """

    def __init__(self, host: Any = None) -> None:
        self.host = host

    def tools(self) -> list[Tool]:
        host = self.host
        return [make_detect_tool(host.llm if host is not None else None)]
