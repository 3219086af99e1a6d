"""Fast statistical detectors. Each turns a series into per-point anomaly scores.

Every detector has the same two methods:

``score(series) -> ndarray``
    one non-negative score per point, in *robust standard deviations* (median and
    MAD of the detector's own raw deviations), so scores of different detectors can
    be averaged by :class:`~sapient.plugins.anomaly.ensemble.Ensemble`.
``detect(data, ...) -> AnomalyReport``
    scores, then the dynamic threshold and interval rules of
    :mod:`~sapient.plugins.anomaly.threshold`.

Detectors (all unsupervised, over the whole series):

* :class:`RollingMAD` - distance from a centred rolling median (spikes, dips).
* :class:`STLResidual` - residual of a robust seasonal-trend decomposition
  (statsmodels STL): catches values wrong *for the time of day/week*.
* :class:`ForecastError` - a linear autoregressive forecaster (recent lags plus the
  seasonal lag) whose smoothed errors are scored, as in Orion's forecast pipelines.
* :class:`MatrixProfile` - subsequence discords (stumpy): shapes never seen elsewhere.
* :class:`FlatLine` - stretches where a normally moving signal stops moving
  (stuck sensors, dead feeds), which deviation-based detectors cannot see.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ._input import MIN_POINTS, PreparedSeries, load_series
from ._progress import working
from .result import AnomalyReport, build_report
from .threshold import ThresholdConfig, find_intervals

__all__ = [
    "Detector",
    "RollingMAD",
    "STLResidual",
    "ForecastError",
    "MatrixProfile",
    "FlatLine",
    "GlobalMAD",
    "robust_z",
    "estimate_period",
    "smooth",
    "rolling_median",
]


def robust_z(deviation: np.ndarray, *, two_sided: bool = True) -> np.ndarray:
    """Scale deviations to robust standard-deviation units (median/MAD, with fallbacks).

    MAD is 0 for signals that are mostly constant with rare bumps; then the mean
    absolute deviation and finally the standard deviation are used.
    """
    d = np.asarray(deviation, dtype="float64")
    center = float(np.median(d))
    spread = np.abs(d - center)
    scale = 1.4826 * float(np.median(spread))
    if scale <= 1e-12 * max(1.0, abs(center)):
        scale = 1.2533 * float(spread.mean())
    if scale <= 1e-12 * max(1.0, abs(center)):
        return np.zeros_like(d)
    z = (d - center) / scale
    return np.abs(z) if two_sided else np.clip(z, 0.0, None)


def smooth(x: np.ndarray, span: int) -> np.ndarray:
    """Centred moving average (``span`` points), used to turn point errors into regions."""
    if span <= 1:
        return np.asarray(x, dtype="float64")
    return pd.Series(x).rolling(span, center=True, min_periods=1).mean().to_numpy()


def rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median; the ends are extended by odd reflection (the local slope
    continues), so the first and last points are not judged against a lagging median."""
    x = np.asarray(x, dtype="float64")
    k = min(window // 2, len(x) - 1)
    if k < 1:
        return x.copy()
    left = 2 * x[0] - x[k:0:-1]
    right = 2 * x[-1] - x[-2:-k - 2:-1]
    padded = np.concatenate([left, x, right])
    med = pd.Series(padded).rolling(2 * k + 1, center=True, min_periods=1).median().to_numpy()
    return med[k:k + len(x)]


def estimate_period(series: PreparedSeries, max_period: int | None = None) -> int | None:
    """Seasonal period in points: from timestamps (points per day) or the autocorrelation.

    Returns ``None`` when no period is credible (fewer than three cycles, or a weak
    autocorrelation peak), so callers fall back to non-seasonal methods.
    """
    n = len(series)
    guess = series.period_guess()
    if guess is not None and guess * 3 <= n:
        return guess
    if n < 3 * 4:
        return None
    x = series.values - series.values.mean()
    if not np.any(x):
        return None
    max_lag = min(max_period or n // 3, n // 3)
    spec = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[: max_lag + 1]
    if not np.isfinite(acf).all() or acf[0] <= 0:  # under- or overflow at extreme scales
        return None
    acf = acf / acf[0]
    # first local maximum after the first zero crossing, if strong enough
    crossings = np.flatnonzero(acf[1:] < 0)
    if not len(crossings):
        return None
    start = int(crossings[0]) + 1
    if start >= max_lag:
        return None
    lag = start + int(np.argmax(acf[start:]))
    return lag if acf[lag] > 0.3 and lag >= 4 else None


class Detector:
    """Base class: subclasses implement :meth:`score` and set ``name``."""

    name = "detector"
    #: Multiplies the threshold's ``min_score`` for this detector: 1 for scores that are
    #: robust z-values of residuals; less for bounded scores such as matrix-profile
    #: distances, whose discords rarely sit six robust deviations out.
    floor_scale = 1.0

    def score(self, series: PreparedSeries) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def detect(self, data: Any, *, config: ThresholdConfig | None = None,
               **load_kwargs: Any) -> AnomalyReport:
        """Check a series (anything :func:`load_series` accepts) and report intervals."""
        series = load_series(data, **load_kwargs)
        return run_detector(self, series, config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _tame(series: PreparedSeries) -> PreparedSeries:
    """Rescale values of extreme magnitude (beyond 1e100 or below 1e-100) so squares and
    sums cannot overflow or underflow; every detector is scale-invariant."""
    peak = float(np.max(np.abs(series.values)))
    if peak == 0 or 1e-100 < peak < 1e100:
        return series
    return replace(series, values=series.values / peak)


def run_detector(detector: Any, series: PreparedSeries,
                 config: ThresholdConfig | None = None) -> AnomalyReport:
    """Shared path: degenerate series are explained, others scored and thresholded."""
    if series.is_constant:
        return build_report(series, [], detector.name)
    if len(series) < MIN_POINTS and not isinstance(detector, GlobalMAD):
        return run_detector(GlobalMAD(), series, config)
    scores = detector.score(_tame(series))
    if series.missing is not None and series.missing.any():
        scores = np.where(series.missing, 0.0, scores)
    cfg = config or ThresholdConfig()
    scale = getattr(detector, "floor_scale", 1.0)
    if scale != 1.0:
        cfg = replace(cfg, min_score=cfg.min_score * scale)
    found = find_intervals(scores, cfg)
    return build_report(series, found, detector.name, scores=scores)


class GlobalMAD(Detector):
    """Distance from the median of the whole series; the fallback for very short series."""

    name = "global-mad"

    def score(self, series: PreparedSeries) -> np.ndarray:
        return robust_z(series.values)


class RollingMAD(Detector):
    """Robust rolling statistics: distance from a centred rolling median.

    The deviation is scaled by the MAD of all deviations (one robust scale for the
    whole series), so a quiet stretch does not turn its small wiggles into alarms.

    Args:
        window: rolling window in points (default: a fifth of the seasonal period,
            or 1% of the series, within 5-101).
    """

    name = "mad"

    def __init__(self, window: int | None = None) -> None:
        self.window = window

    def _window(self, series: PreparedSeries) -> int:
        if self.window:
            return int(self.window)
        period = estimate_period(series)
        base = period // 5 if period else len(series) // 100
        return int(min(max(base, 5), 101)) | 1

    def score(self, series: PreparedSeries) -> np.ndarray:
        w = self._window(series)
        return robust_z(series.values - rolling_median(series.values, w))


def _stl_jumps(period: int, seasonal: int = 13) -> dict[str, int]:
    """R's ``stl`` defaults: evaluate each loess every ~10% of its window and
    interpolate, which makes STL 10-30x faster with the same residuals in practice."""
    trend = int(np.ceil(1.5 * period / (1 - 1.5 / seasonal))) | 1
    low_pass = (period + 1) | 1
    return {
        "seasonal_jump": int(np.ceil(seasonal / 10)),
        "trend_jump": int(np.ceil(trend / 10)),
        "low_pass_jump": int(np.ceil(low_pass / 10)),
    }


class STLResidual(Detector):
    """Residual of a robust STL decomposition (trend + daily/weekly season + residual).

    Values that are normal in general but wrong for their place in the cycle (a
    night-time peak) stand out here. Without a credible period the series is
    detrended with a rolling median instead.

    Args:
        period: seasonal period in points (default: from timestamps or autocorrelation).
        smoothing: span of the moving average applied to the residual scores.
        seasonal: STL's seasonal smoother length (odd). 13 rather than statsmodels' 7:
            with 7, a lone spike can be absorbed into the seasonal component.
    """

    name = "stl"

    def __init__(self, period: int | None = None, smoothing: int | None = None,
                 seasonal: int = 13) -> None:
        self.period = period
        self.smoothing = smoothing
        self.seasonal = seasonal

    def score(self, series: PreparedSeries) -> np.ndarray:
        from statsmodels.tsa.seasonal import STL

        period = self.period or estimate_period(series)
        x = series.values
        if period is None or period < 2 or len(x) < 2 * period + 1:
            resid = x - rolling_median(x, max(5, len(x) // 20) | 1)
        else:
            resid = STL(x, period=int(period), seasonal=self.seasonal, robust=True,
                        **_stl_jumps(int(period), self.seasonal)).fit().resid
        z = robust_z(resid)
        return smooth(z, self.smoothing or 1)


class ForecastError(Detector):
    """Forecast errors of a linear autoregression, smoothed, in robust units.

    The model predicts each point from the previous ``lags`` points and the points
    one seasonal period earlier; it is fitted by least squares on the whole series
    (unsupervised, as Orion's ARIMA pipeline), which takes milliseconds. Errors are
    smoothed over ``smoothing`` of the series (Orion uses 1%) so that a burst of
    errors forms one region.

    Args:
        lags: number of recent lags (default 8).
        period: seasonal period in points (default: estimated; 0 disables).
        smoothing: moving-average span as a fraction of the series length.
    """

    name = "forecast"

    def __init__(self, lags: int = 8, period: int | None = None, smoothing: float = 0.01) -> None:
        self.lags = lags
        self.period = period
        self.smoothing = smoothing

    def errors(self, series: PreparedSeries) -> np.ndarray:
        """Absolute one-step forecast errors (0 for the first points with no history)."""
        x = series.values
        n = len(x)
        period = estimate_period(series) if self.period is None else self.period
        lags = list(range(1, min(self.lags, max(1, n // 4)) + 1))
        if period and period > lags[-1] and period * 2 < n:
            lags += [period, period + 1]
        start = max(lags)
        if n - start < len(lags) + 2:
            return np.abs(x - np.median(x))
        scale = float(np.std(x)) or 1.0
        xs = (x - x.mean()) / scale
        design = np.column_stack([xs[start - lag: n - lag] for lag in lags] + [np.ones(n - start)])
        target = xs[start:]
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        err = np.zeros(n)
        err[start:] = np.abs(target - design @ coef) * scale
        return err

    def score(self, series: PreparedSeries) -> np.ndarray:
        err = self.errors(series)
        span = max(1, int(round(len(err) * self.smoothing)))
        return robust_z(smooth(err, span), two_sided=False)


class MatrixProfile(Detector):
    """Matrix-profile discords (stumpy): subsequences far from every other one.

    Each window of ``m`` points gets the distance to its nearest non-overlapping
    neighbour; a point's score is the largest distance of the windows centred near
    it. Catches unusual *shapes* even when every single value is in range. The cost
    grows with the square of the length: on a long series a progress line shows on
    stderr when it is a terminal (see ``_progress``).

    Args:
        m: subsequence length (default: a quarter of the seasonal period, 8-100).
    """

    name = "matrix-profile"
    floor_scale = 1 / 6

    def __init__(self, m: int | None = None) -> None:
        self.m = m

    def _m(self, series: PreparedSeries) -> int:
        if self.m:
            return int(self.m)
        period = estimate_period(series)
        base = period // 4 if period else len(series) // 50
        return int(min(max(base, 8), 100))

    def score(self, series: PreparedSeries) -> np.ndarray:
        import stumpy

        x = series.values
        m = min(self._m(series), max(3, len(x) // 4))
        if len(x) < 2 * m + 2:
            return RollingMAD().score(series)
        with working("matrix profile", len(x)):
            profile = stumpy.stump(x, m)[:, 0].astype("float64")
        profile[~np.isfinite(profile)] = 0.0
        centred = np.zeros(len(x))
        centred[m // 2: m // 2 + len(profile)] = profile
        return robust_z(centred, two_sided=False)


class FlatLine(Detector):
    """Stretches where a signal that normally moves stops moving.

    A point scores when the rolling standard deviation around it is below
    ``ratio`` of the series' typical rolling deviation, for at least ``window``
    points; the score grows with the length of the flat run. Series that are flat
    most of the time (counters, step signals) are left alone.

    Args:
        window: run length in points that counts as flat (default: 1% of the
            series or a tenth of the period, at least 8).
        ratio: how still "flat" is, relative to typical movement.
    """

    name = "flatline"

    def __init__(self, window: int | None = None, ratio: float = 0.02) -> None:
        self.window = window
        self.ratio = ratio

    def score(self, series: PreparedSeries) -> np.ndarray:
        x = series.values
        n = len(x)
        period = estimate_period(series)
        w = self.window or max(8, (period // 10) if period else n // 100)
        if n < 3 * w:
            return np.zeros(n)
        rstd = pd.Series(x).rolling(w, min_periods=w).std().to_numpy()
        typical = float(np.nanmedian(rstd))
        if not typical > 0:
            return np.zeros(n)
        still = np.nan_to_num(rstd, nan=np.inf) <= self.ratio * typical
        if still.mean() > 0.3:  # mostly flat by nature
            return np.zeros(n)
        flat = np.zeros(n, dtype=bool)
        for end in np.flatnonzero(still):
            flat[end - w + 1: end + 1] = True
        scores = np.zeros(n)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(int), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            scores[a:b] = 6.0 + 6.0 * min(1.0, (b - a) / (4 * w))
        return scores
