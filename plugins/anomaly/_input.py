"""Turn whatever the caller has into one clean, numeric series.

Accepted: a list/tuple/array of numbers (``None``/NaN allowed), a list of
``(timestamp, value)`` pairs, a pandas Series (a DatetimeIndex becomes the
timestamps), a DataFrame plus a column name, or a CSV path plus a column name.

Real monitoring data is messy, so everything that is not a hard error is repaired
and *explained* in ``notes`` (the summary an agent quotes repeats them): NaNs and
infinities are interpolated, unsorted timestamps are sorted, duplicate timestamps
are collapsed, irregular sampling and gaps are reported. Detection then works on
positions; timestamps are only used to label the intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sapient.core.errors import SapientError, not_utf8

__all__ = ["AnomalyInputError", "PreparedSeries", "load_series", "MIN_POINTS"]

#: Fewer points than this cannot carry a pattern; only a global robust check runs.
MIN_POINTS = 12

_TIME_NAMES = ("timestamp", "time", "date", "datetime", "ts", "when")


class AnomalyInputError(SapientError, ValueError):
    """The series given for anomaly detection cannot be used; the message says why."""


@dataclass
class PreparedSeries:
    """A numeric series ready for the detectors.

    Attributes:
        values: float64 values, NaN-free (gaps interpolated).
        timestamps: one timestamp per value, or ``None`` when none were given.
        name: what the series is called (column name, file stem, ``"series"``).
        missing: True where the original value was NaN/None/inf.
        notes: plain-language remarks about repairs and data quality.
        step: the typical sampling step when timestamps were given.
    """

    values: np.ndarray
    timestamps: pd.DatetimeIndex | None = None
    name: str = "series"
    missing: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    step: pd.Timedelta | None = None

    def __len__(self) -> int:
        return len(self.values)

    def label(self, index: int) -> str | None:
        """The timestamp of position ``index`` as ISO text (``None`` without timestamps)."""
        if self.timestamps is None:
            return None
        return self.timestamps[int(index)].isoformat()

    @property
    def is_constant(self) -> bool:
        return len(self.values) > 0 and bool(np.ptp(self.values) == 0)

    def period_guess(self) -> int | None:
        """Points per day when timestamps show a sub-daily step and >= 3 days of data."""
        if self.step is None or self.step <= pd.Timedelta(0):
            return None
        per_day = pd.Timedelta(days=1) / self.step
        if 4 <= per_day <= len(self.values) / 3:
            return int(round(per_day))
        return None


def _to_float_array(raw: Any, what: str) -> np.ndarray:
    try:
        arr = pd.to_numeric(pd.Series(list(raw), dtype=object), errors="coerce")
    except TypeError as exc:
        raise AnomalyInputError(f"{what} must be numbers: {exc}") from exc
    values = arr.to_numpy(dtype="float64")
    raw_list = list(raw)
    bad = [
        v for v, f in zip(raw_list, values, strict=False)
        if math.isnan(f) and v is not None and not (isinstance(v, float) and math.isnan(v))
        and not (isinstance(v, str) and v.strip().lower() in ("", "nan", "null", "none", "na"))
    ]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:3])
        raise AnomalyInputError(
            f"{what} contains {len(bad)} value(s) that are not numbers ({shown}). "
            "Pass numbers only; use None or NaN for missing points."
        )
    return values


def _parse_timestamps(raw: Any, n: int) -> pd.DatetimeIndex:
    if len(raw) != n:
        raise AnomalyInputError(
            f"Got {n} values but {len(raw)} timestamps; pass exactly one timestamp per value."
        )
    seq = list(raw)
    try:
        if seq and all(isinstance(t, (int, float, np.integer, np.floating)) for t in seq):
            unit = "ms" if max(abs(float(t)) for t in seq) > 1e11 else "s"
            ts = pd.to_datetime(np.asarray(seq, dtype="float64"), unit=unit)
        else:
            ts = pd.to_datetime(pd.Series(seq), format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise AnomalyInputError(
            f"Cannot read the timestamps ({exc}). Use ISO text like '2024-05-01 12:00', "
            "datetime objects, or Unix seconds."
        ) from exc
    idx = pd.DatetimeIndex(ts)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    if idx.isna().any():
        raise AnomalyInputError(
            f"{int(idx.isna().sum())} timestamp(s) could not be read; fix or drop them."
        )
    return idx


def _pick_column(frame: pd.DataFrame, column: str | None, source: str) -> str:
    if column is not None:
        if column not in frame.columns:
            cols = ", ".join(map(str, frame.columns))
            raise AnomalyInputError(
                f"Column {column!r} is not in {source}. Columns there: {cols}."
            )
        return column
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in numeric if str(c).lower() not in _TIME_NAMES]
    if len(numeric) == 1:
        return numeric[0]
    cols = ", ".join(map(str, frame.columns))
    raise AnomalyInputError(
        f"{source} has {len(numeric)} numeric columns; say which one to check with "
        f"column=... (--column on the command line). Columns: {cols}."
    )


def _time_column(frame: pd.DataFrame, time_column: str | None, value_column: str) -> str | None:
    if time_column is not None:
        if time_column not in frame.columns:
            raise AnomalyInputError(
                f"Time column {time_column!r} not found; columns: {', '.join(map(str, frame.columns))}."
            )
        return time_column
    for c in frame.columns:
        if c != value_column and str(c).strip().lower() in _TIME_NAMES:
            return c
    return None


def _from_frame(frame: pd.DataFrame, column: str | None, time_column: str | None,
                source: str) -> tuple[Any, Any, str]:
    if frame.empty:
        raise AnomalyInputError(f"{source} has no rows; there is nothing to check.")
    col = _pick_column(frame, column, source)
    tcol = _time_column(frame, time_column, col)
    if tcol is not None:
        times: Any = frame[tcol].tolist()
    elif isinstance(frame.index, pd.DatetimeIndex):
        times = frame.index
    else:
        times = None
    return frame[col].tolist(), times, str(col)


def _read_csv(path: Path, column: str | None, time_column: str | None) -> tuple[Any, Any, str]:
    if not path.exists():
        raise AnomalyInputError(f"No file at {str(path)!r}; check the path.")
    if path.is_dir():
        raise AnomalyInputError(f"{str(path)!r} is a folder; pass a CSV file.")
    try:
        frame = pd.read_csv(path)
    except UnicodeDecodeError as exc:
        raise AnomalyInputError(not_utf8(path.name, exc)) from None
    except pd.errors.EmptyDataError:
        raise AnomalyInputError(f"{path.name} is empty; pass a CSV file with a header line "
                                "and one row per point.") from None
    except pd.errors.ParserError as exc:
        raise AnomalyInputError(f"Cannot read {path.name} as CSV: {exc}") from exc
    values, times, col = _from_frame(frame, column, time_column, path.name)
    return values, times, col if column or col != "value" else f"{path.stem}"


def load_series(
    data: Any,
    *,
    timestamps: Sequence[Any] | None = None,
    column: str | None = None,
    time_column: str | None = None,
    name: str | None = None,
) -> PreparedSeries:
    """Build a :class:`PreparedSeries` from any supported input (see module docstring).

    Raises:
        AnomalyInputError: empty input, non-numeric values, a missing column or file,
            mismatched timestamps, or a series with no numeric value at all.
    """
    if isinstance(data, PreparedSeries):
        return data
    values_raw, own_times, default_name = _raw_values(data, column, time_column)
    pairs = own_times is not None and isinstance(data, (list, tuple))  # (time, value) pairs
    times = own_times if pairs or timestamps is None else timestamps
    if len(values_raw) == 0:
        raise AnomalyInputError("The series is empty; there is nothing to check.")
    values = _to_float_array(values_raw, "The series")
    notes: list[str] = []
    ts: pd.DatetimeIndex | None = None
    if times is not None:
        ts, values = _in_time_order(_parse_timestamps(times, len(values)), values, notes)
    return _repair(values, ts, name or default_name, notes)


def _raw_values(data: Any, column: str | None, time_column: str | None
                ) -> tuple[list[Any], Any, str]:
    """(values, timestamps or None, default name) from one supported kind of input."""
    if isinstance(data, (str, Path)):
        if isinstance(data, str) and "\n" in data:
            raise AnomalyInputError("Got text with line breaks; pass a CSV path, not its content.")
        return _read_csv(Path(data).expanduser(), column, time_column)
    if isinstance(data, pd.DataFrame):
        return _from_frame(data, column, time_column, "the DataFrame")
    if isinstance(data, pd.Series):
        times = data.index if isinstance(data.index, pd.DatetimeIndex) else None
        return data.tolist(), times, str(data.name) if data.name is not None else "series"
    if isinstance(data, np.ndarray):
        if data.ndim != 1:
            raise AnomalyInputError(
                f"Expected a 1-D array of values, got shape {data.shape}; pick one column."
            )
        return data.tolist(), None, "series"
    if isinstance(data, (list, tuple)):
        values = list(data)
        if values and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in values):
            return [p[1] for p in values], [p[0] for p in values], "series"
        return values, None, "series"
    if isinstance(data, dict):
        raise AnomalyInputError(
            "Got a dict; pass a list of values (and timestamps=...), a pandas Series, or a "
            "DataFrame with column=..."
        )
    raise AnomalyInputError(
        f"Cannot use a {type(data).__name__} as a series. Pass a list or array of numbers, "
        "a pandas Series, a DataFrame with column=..., or a CSV path with column=..."
    )


def _in_time_order(ts: pd.DatetimeIndex, values: np.ndarray, notes: list[str]
                   ) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Sort by time and average duplicate timestamps, saying so in ``notes``."""
    if not ts.is_monotonic_increasing:
        order = np.argsort(ts.values, kind="stable")
        ts, values = ts[order], values[order]
        notes.append("Timestamps were out of order; the points were sorted by time.")
    if ts.has_duplicates:
        frame = pd.DataFrame({"v": values}, index=ts)
        grouped = frame.groupby(level=0)["v"].mean()
        notes.append(
            f"{len(ts) - len(grouped)} duplicate timestamp(s) were averaged into one point each."
        )
        ts, values = pd.DatetimeIndex(grouped.index), grouped.to_numpy(dtype="float64")
    return ts, values


def _repair(values: np.ndarray, ts: pd.DatetimeIndex | None, name: str,
            notes: list[str]) -> PreparedSeries:
    missing = ~np.isfinite(values)
    n_missing = int(missing.sum())
    if n_missing == len(values):
        raise AnomalyInputError(
            f"All {len(values)} values of '{name}' are missing (NaN/None); nothing to check."
        )
    if n_missing:
        n_inf = int(np.isinf(values).sum())
        values = values.copy()
        values[missing] = np.nan
        filled = pd.Series(values).interpolate(limit_direction="both").to_numpy()
        what = f"{n_missing} missing value(s)" + (f" ({n_inf} infinite)" if n_inf else "")
        notes.append(
            f"{what} were filled by linear interpolation and are never reported as anomalies "
            "on their own."
        )
        values = filled
    step = None
    if ts is not None and len(ts) > 2:
        diffs = np.diff(ts.asi8)
        med = float(np.median(diffs))
        step = pd.Timedelta(int(med), unit="ns")
        if med > 0:
            gaps = np.flatnonzero(diffs > 3 * med)
            if len(gaps):
                first = gaps[0]
                notes.append(
                    f"{len(gaps)} gap(s) in the timestamps longer than 3 sampling steps "
                    f"(first: {ts[first].isoformat()} to {ts[first + 1].isoformat()}); points "
                    "on either side are treated as neighbours."
                )
            spread = float(np.std(diffs) / med)
            if spread > 0.5 and len(gaps) < len(diffs) * 0.05:
                notes.append(
                    "Sampling is irregular (steps vary a lot); detection works on the order of "
                    "points, so intervals are reported by position and timestamp."
                )
    if len(values) < MIN_POINTS:
        notes.append(
            f"Only {len(values)} points: too short for patterns, so only values far from the "
            "median of the whole series can be flagged."
        )
    if np.ptp(values) == 0:
        notes.append("The series is constant (every value the same), so nothing can stand out.")
    return PreparedSeries(values=np.asarray(values, dtype="float64"), timestamps=ts, name=name,
                          missing=missing, notes=notes, step=step)
