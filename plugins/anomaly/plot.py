"""A PNG of the series with its anomalous intervals shaded.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend
switch), so it works on servers without a display and never disturbs a caller's
own matplotlib settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._input import PreparedSeries, load_series
from .result import AnomalyReport

__all__ = ["plot_report"]

_COLORS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#bcbd22"}


def plot_report(data: Any, report: AnomalyReport, path: str | Path, *,
                width: float = 11.0, height: float = 3.6, dpi: int = 110,
                **load_kwargs: Any) -> Path:
    """Write a PNG of ``data`` with ``report``'s intervals shaded; returns the path.

    Args:
        data: the series that was checked (anything ``load_series`` accepts).
        report: the detection result for it.
        path: where to write the PNG (parent folders are created).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series: PreparedSeries = load_series(data, **load_kwargs)
    out = Path(path).expanduser()
    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x: Any = series.timestamps if series.timestamps is not None else range(len(series))
    ax.plot(x, series.values, color="#1f77b4", linewidth=0.9)
    for interval in report.intervals:
        lo, hi = (x[interval.start], x[interval.end])
        ax.axvspan(lo, hi, color=_COLORS.get(interval.severity, "#d62728"), alpha=0.3, lw=0)
        ax.plot([x[interval.peak_index]], [interval.peak_value], "o", color="#d62728", ms=4)
    k = len(report.intervals)
    ax.set_title(f"{series.name}: {k} anomal{'y' if k == 1 else 'ies'} ({report.method})",
                 fontsize=10)
    ax.grid(alpha=0.3)
    if series.timestamps is not None:
        fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out, format="png")
    return out
