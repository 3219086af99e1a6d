"""Compose detectors, and the one-call entry point :func:`detect`.

An :class:`Ensemble` averages the robust scores of its members, so a point must
look odd to several views of the series (value, season, forecast, shape) before
it is reported: agreement removes most false alarms of any single detector.
``rules`` are detectors that need no agreement (a flat line is invisible to the
others), their scores are combined with ``max``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._input import PreparedSeries, load_series
from .detectors import (
    Detector,
    FlatLine,
    ForecastError,
    GlobalMAD,
    MatrixProfile,
    RollingMAD,
    STLResidual,
    run_detector,
)
from .result import AnomalyReport
from .threshold import ThresholdConfig

__all__ = ["Ensemble", "METHODS", "make_detector", "config_for", "detect", "auto_ensemble"]


class Ensemble(Detector):
    """Several detectors as one.

    Args:
        members: detectors whose scores are combined.
        combine: ``"mean"`` (default), ``"median"`` or ``"max"``.
        weights: one weight per member for ``"mean"``.
        rules: detectors whose scores are max-ed with the combined score.
    """

    def __init__(self, members: Sequence[Detector], *, combine: str = "mean",
                 weights: Sequence[float] | None = None, rules: Sequence[Detector] = ()) -> None:
        if not members:
            raise ValueError("An Ensemble needs at least one member detector.")
        if combine not in ("mean", "median", "max"):
            raise ValueError(f"combine must be 'mean', 'median' or 'max', not {combine!r}.")
        if weights is not None and len(weights) != len(members):
            raise ValueError(f"Got {len(weights)} weights for {len(members)} members.")
        self.members = list(members)
        self.combine = combine
        self.weights = list(weights) if weights is not None else None
        self.rules = list(rules)

    @property
    def name(self) -> str:  # type: ignore[override]
        names = "+".join(m.name for m in self.members)
        rules = "".join(f"|{r.name}" for r in self.rules)
        return f"ensemble({names}{rules})"

    def score(self, series: PreparedSeries) -> np.ndarray:
        stack = np.vstack([m.score(series) for m in self.members])
        if self.combine == "median":
            combined = np.median(stack, axis=0)
        elif self.combine == "max":
            combined = stack.max(axis=0)
        else:
            combined = np.average(stack, axis=0, weights=self.weights)
        for rule in self.rules:
            combined = np.maximum(combined, rule.score(series))
        return combined

    def __repr__(self) -> str:
        return f"Ensemble({self.members!r}, combine={self.combine!r}, rules={self.rules!r})"


def auto_ensemble() -> Ensemble:
    """The default: the configuration used for the NAB benchmark (no per-series tuning)."""
    return Ensemble([RollingMAD(), STLResidual(), ForecastError()], rules=[FlatLine()])


#: Method names accepted by :func:`detect` and the tool.
METHODS: dict[str, Any] = {
    "auto": auto_ensemble,
    "mad": RollingMAD,
    "stl": STLResidual,
    "forecast": ForecastError,
    "matrix-profile": MatrixProfile,
    "flatline": FlatLine,
    "global-mad": GlobalMAD,
}
LLM_METHODS = ("llm-prompter", "llm-detector")


def make_detector(method: str, llm: Any = None) -> Any:
    """A detector by name (``auto``, ``mad``, ``stl``, ``forecast``, ``matrix-profile``,
    ``flatline``, ``llm-prompter``, ``llm-detector``)."""
    key = method.strip().lower().replace("_", "-")
    if key in ("matrixprofile", "mp"):
        key = "matrix-profile"
    if key in ("prompter", "detector-llm", "llm-detector", "detector", "llm-prompter"):
        from .llm_methods import LLMDetector, LLMPrompter

        if llm is None:
            raise ValueError(
                f"Method {method!r} needs an LLM: pass llm=... (an LLM object or a spec such "
                "as 'llamacpp:default')."
            )
        return LLMPrompter(llm) if "prompter" in key else LLMDetector(llm)
    if key not in METHODS:
        known = ", ".join(list(METHODS) + list(LLM_METHODS))
        raise ValueError(f"Unknown method {method!r}. Known methods: {known}.")
    return METHODS[key]()


def config_for(sensitivity: float = 0.5) -> ThresholdConfig:
    """Threshold settings for a sensitivity in [0, 1] (0.5 is the benchmarked default).

    Higher sensitivity lowers the score floor and allows more intervals.
    """
    if not 0.0 <= sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be between 0 and 1, got {sensitivity}.")
    return ThresholdConfig(
        min_score=round(8.0 - 4.0 * sensitivity, 3),
        max_intervals=int(round(1 + 4 * sensitivity)),
        min_percent=round(0.2 - 0.2 * sensitivity, 3),
    )


def detect(data: Any, *, method: str = "auto", sensitivity: float = 0.5, llm: Any = None,
           config: ThresholdConfig | None = None, **load_kwargs: Any) -> AnomalyReport:
    """Check one series for anomalies.

    Args:
        data: values, a pandas Series/DataFrame, or a CSV path (see ``load_series``).
        method: ``auto`` (ensemble) or a detector name, see :func:`make_detector`.
        sensitivity: 0 (only glaring anomalies) to 1 (anything odd); default 0.5.
        llm: the LLM for ``llm-prompter``/``llm-detector``.
        config: explicit threshold settings (overrides ``sensitivity``).
        **load_kwargs: ``timestamps``, ``column``, ``time_column``, ``name``.
    """
    series = load_series(data, **load_kwargs)
    detector = make_detector(method, llm)
    cfg = config or config_for(sensitivity)
    if hasattr(detector, "detect_series"):
        return detector.detect_series(series, config=cfg)
    return run_detector(detector, series, cfg)
