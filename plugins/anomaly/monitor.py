"""Streaming anomaly monitor: feed points one by one (or in batches), get new alerts.

Memory is bounded whatever the stream's length: the monitor keeps the last
``window`` values and timestamps, the last ``window`` forecast errors and the last
``max_alerts`` alerts, all in fixed-size deques.

Each new value is compared with a robust forecast (the median of the last
``lookback`` values, so level and trend are followed) and the error is scaled by
the median absolute error of the recent past; errors of flagged points are not
learned, so an incident does not teach the monitor that incidents are normal.
Runs of identical values in a signal that normally moves are reported as
``flat`` (a stuck sensor or a dead feed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .result import severity_label

__all__ = ["AnomalyMonitor", "MonitorAlert"]


@dataclass
class MonitorAlert:
    """One anomaly seen in the stream.

    ``start``/``end`` are positions in the stream (0 = first point fed); ``open``
    stays True while the anomaly continues, and ``end`` moves with it.
    """

    start: int
    end: int
    start_time: str | None
    end_time: str | None
    kind: str
    peak_value: float
    expected_value: float
    score: float
    severity: str
    open: bool = True

    def describe(self) -> str:
        where = self.start_time or f"point {self.start}"
        if self.kind == "flat":
            return f"{where}: values stuck at {self.peak_value:.4g}"
        return (f"{where}: {self.kind} to {self.peak_value:.4g} (expected about "
                f"{self.expected_value:.4g}), {self.severity} severity (score {self.score:.1f})")


def _stamp(timestamp: Any) -> str | None:
    if timestamp is None:
        return None
    try:
        return pd.Timestamp(timestamp).isoformat()
    except (ValueError, TypeError):
        return str(timestamp)


class AnomalyMonitor:
    """Watch a stream of values.

    Args:
        window: how many recent values and errors are kept (bounds memory).
        lookback: values whose median is the forecast of the next one.
        min_history: forecast errors learned before any alert is raised.
        threshold: score (robust standard deviations of the error) that raises an alert.
        gap: an alert stays open across up to this many quiet points.
        flat_run: identical consecutive values that count as a flat line.
        max_alerts: how many past alerts are kept in :attr:`alerts`.
    """

    def __init__(self, *, window: int = 1000, lookback: int = 10, min_history: int = 30,
                 threshold: float = 6.0, gap: int = 5, flat_run: int = 20,
                 max_alerts: int = 100) -> None:
        if window < 10 or lookback < 1 or lookback >= window:
            raise ValueError("Need window >= 10 and 1 <= lookback < window.")
        self.window, self.lookback, self.min_history = window, lookback, min_history
        self.threshold, self.gap, self.flat_run = threshold, gap, flat_run
        self._values: deque[float] = deque(maxlen=window)
        self._stamps: deque[str | None] = deque(maxlen=window)
        self._errors: deque[float] = deque(maxlen=window)
        self.alerts: deque[MonitorAlert] = deque(maxlen=max_alerts)
        self.n_seen = 0
        self._open: MonitorAlert | None = None
        self._quiet = 0
        self._run_value: float | None = None
        self._run_length = 0

    def update(self, value: float, timestamp: Any = None) -> list[MonitorAlert]:
        """Feed one point; returns alerts that *started* with it (usually empty).

        Non-finite values are skipped (counted as seen, never alerted).
        """
        index = self.n_seen
        self.n_seen += 1
        try:
            x = float(value)
        except (TypeError, ValueError):
            return []
        if not np.isfinite(x):
            return []
        new: list[MonitorAlert] = []
        history = np.fromiter(self._values, dtype="float64", count=len(self._values))
        flagged = False
        if len(history) >= self.lookback:
            expected = float(np.median(history[-self.lookback:]))
            error = abs(x - expected)
            errs = np.fromiter(self._errors, dtype="float64", count=len(self._errors))
            scale = 1.4826 * float(np.median(errs)) if len(errs) else 0.0
            if scale <= 0:
                scale = float(errs.mean()) if len(errs) else 0.0
            if scale <= 0:
                scale = float(history.std()) or 0.0
            score = error / scale if scale > 0 else 0.0
            if score >= self.threshold and len(errs) >= self.min_history:
                flagged = True
                kind = "spike" if x > expected else "dip"
                new += self._flag(index, timestamp, x, expected, score, kind)
            else:
                self._errors.append(error)
        flat = self._track_flat(x, history)
        if flat and not flagged:
            flagged = True
            new += self._flag(index, timestamp, x, x, 0.0, "flat")
        if not flagged:
            self._tick_quiet()
        self._values.append(x)
        self._stamps.append(_stamp(timestamp))
        return new

    def update_many(self, values: Iterable[float], timestamps: Iterable[Any] | None = None,
                    ) -> list[MonitorAlert]:
        """Feed a batch; returns every alert that started in it."""
        out: list[MonitorAlert] = []
        stamps = iter(timestamps) if timestamps is not None else None
        for value in values:
            out += self.update(value, next(stamps, None) if stamps is not None else None)
        return out

    def _track_flat(self, x: float, history: np.ndarray) -> bool:
        if self._run_value is not None and x == self._run_value:
            self._run_length += 1
        else:
            self._run_value, self._run_length = x, 1
        if self._run_length < self.flat_run or len(history) < self.min_history:
            return False
        older = history[: max(0, len(history) - self._run_length)]
        return len(older) >= self.flat_run and float(np.ptp(older)) > 0

    def _flag(self, index: int, timestamp: Any, x: float, expected: float, score: float,
              kind: str) -> list[MonitorAlert]:
        self._quiet = 0
        stamp = _stamp(timestamp)
        alert = self._open
        if alert is not None and alert.open and (kind == alert.kind or kind != "flat"):
            alert.end, alert.end_time = index, stamp
            if score > alert.score:
                alert.score, alert.peak_value, alert.expected_value = score, x, expected
                alert.severity = severity_label(score)
            return []
        if alert is not None:
            alert.open = False
        severity = "medium" if kind == "flat" else severity_label(score)
        start, start_stamp = index, stamp
        if kind == "flat":
            back = min(self._run_length - 1, len(self._stamps))
            start = index - back
            start_stamp = self._stamps[-back] if back else stamp
        alert = MonitorAlert(start=start, end=index, start_time=start_stamp, end_time=stamp, kind=kind, peak_value=x, expected_value=expected,
                             score=round(score, 2), severity=severity)
        self._open = alert
        self.alerts.append(alert)
        return [alert]

    def _tick_quiet(self) -> None:
        if self._open is None:
            return
        self._quiet += 1
        if self._quiet > self.gap:
            self._open.open = False
            self._open = None

    @property
    def memory_items(self) -> int:
        """Values, errors and alerts held right now (bounded by the constructor arguments)."""
        return len(self._values) + len(self._stamps) + len(self._errors) + len(self.alerts)
