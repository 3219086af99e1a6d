"""From per-point anomaly scores to a few anomalous intervals.

The non-parametric dynamic threshold of Hundman et al. (2018, "Telemanom"), the
one Orion's pipelines use: candidate thresholds ``mean + z*std`` of the (smoothed)
scores are tried and the one that removes the most mean and spread per flagged
point and per flagged sequence wins; flagged points are padded into sequences, and
sequences whose peak is not clearly above the next one are pruned. Written here
with numpy over a grid of ``z`` (instead of repeated simplex searches) so one
series of 20,000 points takes a few milliseconds.

Interval-level rules then keep the answer short, because both people and the
overlapping-segment metric punish many small reports: sequences closer than
``merge_gap`` points are merged and at most ``max_intervals`` are kept, the most
severe first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ThresholdConfig",
    "dynamic_threshold",
    "mask_to_intervals",
    "find_intervals",
    "merge_intervals",
]


@dataclass(frozen=True)
class ThresholdConfig:
    """How scores become intervals.

    Attributes:
        z_max: largest ``z`` tried for the threshold ``mean + z*std``.
        min_percent: pruning: a sequence is kept only if its peak exceeds the next
            lower peak (or the highest unflagged score) by this fraction.
        padding: points added on each side of a flagged point (``None``:
            ``padding_fraction`` of the series, 2 to 50 points; Orion pads 50).
        merge_gap: sequences closer than this many points are merged (``None``:
            ``merge_fraction`` of the series).
        max_intervals: at most this many intervals, the most severe first.
        min_score: absolute floor on an interval's peak score (scores are robust
            z-like units), so a clean series yields no interval at all.
        keep_top: keep the strongest sequence even when pruning would drop every
            one (its peak still has to reach ``min_score``): the question was "what
            is unusual here", and the most unusual stretch is the best answer.
        trim: report each interval as the span of its points above the threshold;
            the padding only serves to group nearby points.
    """

    z_max: float = 10.0
    min_percent: float = 0.1
    padding: int | None = None
    merge_gap: int | None = None
    padding_fraction: float = 0.005
    merge_fraction: float = 0.02
    max_intervals: int = 3
    min_score: float = 6.0
    keep_top: bool = True
    trim: bool = True


def dynamic_threshold(scores: np.ndarray, z_max: float = 10.0) -> float:
    """The threshold ``mean + z*std`` that best separates the largest scores.

    Cost (to maximise) for each z: ``(dmean/mean + dstd/std) / (n_above + n_seq**2)``
    where ``dmean``/``dstd`` are how much mean and std drop when the points above are
    removed, ``n_above`` the points above and ``n_seq`` the runs of them.
    """
    s = np.asarray(scores, dtype="float64")
    mean, std = float(s.mean()), float(s.std())
    if std == 0 or not np.isfinite(std):
        return float("inf")
    zs = np.arange(0.0, z_max + 1e-9, 0.1)
    order = np.sort(s)
    csum = np.cumsum(order)
    csq = np.cumsum(order * order)
    best_z, best = zs[-1], -np.inf
    for z in zs:
        eps = mean + z * std
        k = int(np.searchsorted(order, eps, side="right"))  # points <= eps
        if k == 0 or k == len(s):
            continue
        below_mean = csum[k - 1] / k
        below_std = np.sqrt(max(csq[k - 1] / k - below_mean**2, 0.0))
        above_mask = s > eps
        n_above = len(s) - k
        n_seq = int(np.count_nonzero(above_mask[1:] & ~above_mask[:-1]) + above_mask[0])
        gain = ((mean - below_mean) / (mean if mean != 0 else 1.0) + (std - below_std) / std)
        value = gain / (n_above + n_seq**2)
        if value > best:
            best, best_z = value, z
    return mean + best_z * std


def mask_to_intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as inclusive ``(start, end)`` index pairs."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    padded = np.concatenate([[False], m, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def merge_intervals(intervals: list[tuple[int, int, float]], gap: int) -> list[tuple[int, int, float]]:
    """Merge ``(start, end, score)`` intervals closer than ``gap``; a merge keeps the max score."""
    out: list[tuple[int, int, float]] = []
    for start, end, score in sorted(intervals):
        if out and start - out[-1][1] <= gap:
            s0, e0, sc0 = out[-1]
            out[-1] = (s0, max(e0, end), max(sc0, score))
        else:
            out.append((start, end, score))
    return out


def _auto(value: int | None, n: int, fraction: float, low: int, high: int) -> int:
    if value is not None:
        return int(value)
    return int(min(max(round(n * fraction), low), high))


def find_intervals(scores: np.ndarray, config: ThresholdConfig | None = None,
                   ) -> list[tuple[int, int, float]]:
    """Anomalous ``(start, end, peak_score)`` intervals of a score series, most severe first.

    ``scores`` are non-negative anomaly scores in robust-z units (see the detectors).
    """
    cfg = config or ThresholdConfig()
    s = np.nan_to_num(np.asarray(scores, dtype="float64"), nan=0.0, posinf=0.0)
    n = len(s)
    if n == 0 or float(s.max(initial=0.0)) < cfg.min_score:
        return []
    eps = max(dynamic_threshold(s, cfg.z_max), cfg.min_score * 0.5)
    above = s > eps
    if not above.any():
        return []
    pad = _auto(cfg.padding, n, cfg.padding_fraction, 2 if n >= 200 else 0, 50)
    if pad:
        kernel = np.ones(2 * pad + 1, dtype=bool)
        above = np.convolve(above, kernel, mode="same") > 0
    runs = mask_to_intervals(above)
    peaks = [(a, b, float(s[a:b + 1].max())) for a, b in runs]
    max_below = float(s[~above].max()) if (~above).any() else 0.0
    peaks.sort(key=lambda r: -r[2])
    values = [p[2] for p in peaks] + [max_below]
    keep = 0
    for i in range(len(peaks)):
        drop = (values[i] - values[i + 1]) / values[i] if values[i] > 0 else 0.0
        if drop >= cfg.min_percent:
            keep = i + 1
    if keep == 0 and cfg.keep_top and peaks:
        keep = 1
    kept = [p for p in peaks[:keep] if p[2] >= cfg.min_score]
    merged = merge_intervals(kept, _auto(cfg.merge_gap, n, cfg.merge_fraction, 1, 10**9))
    merged.sort(key=lambda r: -r[2])
    merged = merged[: cfg.max_intervals]
    if cfg.trim:
        merged = [_trim(s, a, b, score, eps) for a, b, score in merged]
    return merged


def _trim(s: np.ndarray, start: int, end: int, score: float, eps: float) -> tuple[int, int, float]:
    """Shrink a padded interval to the points whose score is above the threshold."""
    inside = np.flatnonzero(s[start:end + 1] > eps)
    if not len(inside):
        return start, end, score
    return start + int(inside[0]), start + int(inside[-1]), score
