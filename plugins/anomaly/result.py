"""What a detection returns: intervals with evidence, and a summary to quote."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._input import PreparedSeries

__all__ = ["AnomalyInterval", "AnomalyReport", "build_report", "severity_label"]


def severity_label(score: float) -> str:
    """Words for a robust-z-like score: how far out the worst point is."""
    if score >= 12:
        return "high"
    if score >= 7:
        return "medium"
    return "low"


@dataclass
class AnomalyInterval:
    """One anomalous stretch of the series (``start``/``end`` inclusive positions).

    Attributes:
        start, end: first and last position of the interval.
        start_time, end_time: their timestamps as ISO text (``None`` without timestamps).
        score: peak anomaly score, in robust standard deviations from normal.
        severity: ``low``/``medium``/``high`` from ``score``.
        method: the detector (or ensemble) that found it.
        peak_index, peak_value: the most anomalous point and its value.
        typical_value: the median of the series, for comparison.
        direction: ``above``/``below`` typical, or ``flat`` when the values stopped moving.
    """

    start: int
    end: int
    start_time: str | None
    end_time: str | None
    score: float
    severity: str
    method: str
    peak_index: int
    peak_value: float
    typical_value: float
    direction: str

    def describe(self) -> str:
        where = (f"{self.start_time} to {self.end_time} (points {self.start}-{self.end})"
                 if self.start_time else f"points {self.start}-{self.end}")
        if self.direction == "flat":
            what = f"values stayed flat around {self.peak_value:.4g}"
        else:
            word = "up to" if self.direction == "above" else "down to"
            what = f"values {word} {self.peak_value:.4g} against a typical {self.typical_value:.4g}"
        return f"{where}: {what}; {self.severity} severity (score {self.score:.1f}), by {self.method}"


@dataclass
class AnomalyReport:
    """The result of checking one series.

    Attributes:
        name: the series' name.
        n_points: how many points were checked.
        method: what ran (``ensemble(mad+stl)``, ``prompter``, ...).
        intervals: anomalous intervals, most severe first.
        notes: data repairs and caveats (missing values, gaps, short or constant series).
        summary: a short plain-language paragraph an agent can quote.
        scores: per-point anomaly score (not serialised by ``to_dict``).
    """

    name: str
    n_points: int
    method: str
    intervals: list[AnomalyInterval]
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    start_time: str | None = None
    end_time: str | None = None
    scores: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (what the tool returns to a model)."""
        return {
            "series": self.name,
            "points": self.n_points,
            "method": self.method,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "anomalies": [asdict(i) for i in self.intervals],
            "notes": list(self.notes),
            "summary": self.summary,
        }


def _direction(series: PreparedSeries, start: int, end: int, peak: int, typical: float) -> str:
    seg = series.values[start:end + 1]
    if len(seg) >= 8 and np.ptp(seg) == 0 and np.ptp(series.values) > 0:
        return "flat"
    return "above" if series.values[peak] >= typical else "below"


def build_report(series: PreparedSeries, found: list[tuple[int, int, float]], method: str,
                 scores: np.ndarray | None = None, extra_notes: list[str] | None = None,
                 ) -> AnomalyReport:
    """Turn ``(start, end, score)`` triples into a report with evidence and a summary."""
    typical = float(np.median(series.values))
    intervals: list[AnomalyInterval] = []
    for start, end, score in found:
        start, end = int(start), int(end)
        if scores is not None and len(scores) == len(series):
            peak = start + int(np.argmax(scores[start:end + 1]))
        else:
            seg = np.abs(series.values[start:end + 1] - typical)
            peak = start + int(np.argmax(seg))
        intervals.append(AnomalyInterval(
            start=start, end=end, start_time=series.label(start), end_time=series.label(end),
            score=round(float(score), 2), severity=severity_label(float(score)), method=method,
            peak_index=peak, peak_value=float(series.values[peak]), typical_value=typical,
            direction=_direction(series, start, end, peak, typical),
        ))
    notes = list(series.notes) + list(extra_notes or [])
    report = AnomalyReport(
        name=series.name, n_points=len(series), method=method, intervals=intervals, notes=notes,
        start_time=series.label(0), end_time=series.label(len(series) - 1), scores=scores,
    )
    report.summary = summarize(report)
    return report


def summarize(report: AnomalyReport) -> str:
    """A few sentences: how many anomalies, the worst ones, and the caveats."""
    span = f" from {report.start_time} to {report.end_time}" if report.start_time else ""
    head = f"Checked '{report.name}' ({report.n_points} points{span}) with {report.method}."
    if not report.intervals:
        body = " No anomalies found."
    else:
        k = len(report.intervals)
        body = f" Found {k} anomal{'y' if k == 1 else 'ies'}, most severe first:"
        for i, interval in enumerate(report.intervals[:5], 1):
            body += f" ({i}) {interval.describe()}."
    tail = (" Notes: " + " ".join(report.notes)) if report.notes else ""
    return head + body + tail
