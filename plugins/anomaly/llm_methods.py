"""LLM anomaly detection after SigLLM (Alnegheimish et al., 2024), on Sapient's LLM protocol.

Both methods work with any connector that implements ``complete`` (the local
llama.cpp model, any OpenAI-compatible server, the scripted test LLM):

PROMPTER
    The series is cut into overlapping windows; each window is rescaled to small
    integers and written as comma-separated digits. The model is asked for the
    positions of anomalous values. A point is anomalous when enough of the windows
    that contain it say so (voting), which damps the model's randomness.

DETECTOR
    The model is used as a forecaster: given a window of past values as digits it
    continues the sequence for ``horizon`` values. Forecast errors are smoothed
    and go through the same dynamic threshold as the statistical detectors.

Answers are requested as JSON through the ``output_schema`` option, which
constrained backends (llama.cpp grammars, OpenAI structured output) enforce; for
backends that ignore it, plain-text answers are parsed for integers. Long series
are first averaged down to ``max_points`` points (SigLLM aggregates too), because
every window costs a model call.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sapient.core.messages import Message

from ._input import PreparedSeries, load_series
from .detectors import RollingMAD, robust_z, smooth
from .result import AnomalyReport, build_report
from .threshold import ThresholdConfig, find_intervals, mask_to_intervals, merge_intervals

__all__ = [
    "LLMPrompter",
    "LLMDetector",
    "LLMStats",
    "to_digits",
    "parse_integers",
    "prompter_schema",
    "forecast_schema",
]

_INT = re.compile(r"-?\d+")


def to_digits(values: np.ndarray, levels: int = 1000) -> np.ndarray:
    """Rescale to integers ``0..levels-1`` (min-max), the text form the model reads."""
    v = np.asarray(values, dtype="float64")
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        return np.zeros(len(v), dtype=int)
    return np.rint((v - lo) / (hi - lo) * (levels - 1)).astype(int)


def parse_integers(text: str | None, key: str) -> list[int]:
    """Integers from a model answer: the JSON field ``key`` if it parses, else every
    integer in the text (so ``"3, 17 and 42"`` and ``{"indices": [3, 17, 42]}`` agree)."""
    if not text:
        return []
    stripped = text.strip()
    match = re.search(r"\{.*\}", stripped, re.S)
    if match:
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get(key), list):
            out = []
            for item in obj[key]:
                if isinstance(item, bool):
                    continue
                if isinstance(item, (int, float)) and np.isfinite(item):
                    out.append(int(round(item)))
                elif isinstance(item, str) and _INT.fullmatch(item.strip()):
                    out.append(int(item.strip()))
            return out
    return [int(m) for m in _INT.findall(stripped)]


def prompter_schema(n: int) -> dict[str, Any]:
    """JSON schema of a PROMPTER answer for a window of ``n`` values."""
    return {
        "type": "object",
        "properties": {"indices": {"type": "array", "maxItems": max(1, n // 4),
                                   "items": {"type": "integer", "minimum": 0,
                                             "maximum": n - 1}}},
        "required": ["indices"],
    }


def forecast_schema(horizon: int) -> dict[str, Any]:
    """JSON schema of a DETECTOR answer: exactly ``horizon`` integers."""
    return {
        "type": "object",
        "properties": {"values": {"type": "array", "minItems": horizon, "maxItems": horizon,
                                  "items": {"type": "integer"}}},
        "required": ["values"],
    }


@dataclass
class LLMStats:
    """What the model calls cost and how usable the answers were."""

    calls: int = 0
    unusable: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _resolve_llm(llm: Any) -> Any:
    """An LLM object as given, or one built from a spec by the built-in connectors
    (pass ``host.llm(spec)`` instead to run on a host's plugins and shared model)."""
    if isinstance(llm, str):
        from sapient.plugins._resolve import resolve_builtin

        return resolve_builtin("llms", llm)
    if llm is None or not hasattr(llm, "complete"):
        raise ValueError(
            "LLM methods need an LLM object with complete(...) or a spec such as "
            "'llamacpp:default' or 'openai:gpt-4o-mini'."
        )
    return llm


def _downsample(values: np.ndarray, max_points: int) -> tuple[np.ndarray, int]:
    """Average consecutive points so at most ``max_points`` remain; returns (values, bin)."""
    n = len(values)
    size = max(1, int(np.ceil(n / max_points)))
    if size == 1:
        return values.copy(), 1
    pad = (-n) % size
    padded = np.concatenate([values, np.full(pad, values[-1])]) if pad else values
    return padded.reshape(-1, size).mean(axis=1), size


def _expand(intervals: list[tuple[int, int, float]], size: int, n: int) -> list[tuple[int, int, float]]:
    return [(a * size, min(n - 1, (b + 1) * size - 1), s) for a, b, s in intervals]


class _LLMMethod:
    name = "llm"

    def __init__(self, llm: Any, *, max_points: int = 500, temperature: float = 0.0,
                 constrain: bool = True, progress: bool = False) -> None:
        self.llm = _resolve_llm(llm)
        self.max_points = max_points
        self.temperature = temperature
        self.constrain = constrain
        self.progress = progress
        self.stats = LLMStats()

    def _ask(self, messages: list[Message], schema: dict[str, Any], max_tokens: int) -> str:
        options: dict[str, Any] = {"temperature": self.temperature, "max_tokens": max_tokens}
        if self.constrain:
            options["output_schema"] = schema
        start = time.perf_counter()
        try:
            response = self.llm.complete(messages, **options)
        except Exception as exc:  # a failed call costs one window, never the whole run
            self.stats.unusable += 1
            self.stats.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return ""
        finally:
            self.stats.calls += 1
            self.stats.seconds += time.perf_counter() - start
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.stats.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.stats.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        return response.text or ""

    def _iter(self, items: list[int], desc: str) -> Any:
        if not self.progress:
            return items
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return items
        return tqdm(items, desc=desc, leave=False)

    def detect(self, data: Any, *, config: ThresholdConfig | None = None,
               **load_kwargs: Any) -> AnomalyReport:
        """Check a series (anything ``load_series`` accepts) with the model."""
        return self.detect_series(load_series(data, **load_kwargs), config=config)

    def detect_series(self, series: PreparedSeries,
                      config: ThresholdConfig | None = None) -> AnomalyReport:  # pragma: no cover
        raise NotImplementedError

    def _too_short(self, series: PreparedSeries, need: int) -> AnomalyReport | None:
        if series.is_constant:
            return build_report(series, [], self.name)
        if len(series) < need:
            return build_report(series, [], self.name, extra_notes=[
                f"{self.name} needs at least {need} points; the series has {len(series)}, "
                "so it was not sent to the model. Use method 'auto' for short series."])
        return None


class LLMPrompter(_LLMMethod):
    """SigLLM PROMPTER: ask the model which values of each window are anomalous.

    Args:
        llm: an LLM object or spec string.
        window: values per prompt (on the downsampled series).
        step: distance between window starts; ``window/step`` windows vote per point.
        vote: fraction of the covering windows that must flag a point.
        levels: values are rescaled to integers ``0..levels-1``.
        max_points: longer series are averaged down to this many points first.
    """

    name = "llm-prompter"

    def __init__(self, llm: Any, *, window: int = 100, step: int = 50, vote: float = 0.5,
                 levels: int = 100, **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)
        self.window, self.step, self.vote, self.levels = window, step, vote, levels

    def messages(self, digits: np.ndarray) -> list[Message]:
        """The prompt for one window (exposed so it can be inspected and tested)."""
        text = ",".join(str(int(d)) for d in digits)
        return [
            Message.system("You are an expert at spotting anomalies in time series. "
                           "Answer only with JSON."),
            Message.user(
                f"Here is a sequence of {len(digits)} values, separated by commas:\n{text}\n"
                "Which values are anomalous: far from the others or breaking the pattern? "
                "Answer with their 0-based positions as {\"indices\": [...]}, or "
                "{\"indices\": []} if none is anomalous."),
        ]

    def detect_series(self, series: PreparedSeries,
                      config: ThresholdConfig | None = None) -> AnomalyReport:
        cfg = config or ThresholdConfig()
        short = self._too_short(series, 8)
        if short is not None:
            return short
        coarse, size = _downsample(series.values, self.max_points)
        n = len(coarse)
        window = min(self.window, n)
        starts = list(range(0, max(1, n - window + 1), max(1, self.step)))
        if starts[-1] + window < n:
            starts.append(n - window)
        unusable0 = self.stats.unusable
        votes = np.zeros(n)
        cover = np.zeros(n)
        for start in self._iter(starts, "llm-prompter windows"):
            chunk = coarse[start:start + window]
            answer = self._ask(self.messages(to_digits(chunk, self.levels)),
                               prompter_schema(len(chunk)), max_tokens=160)
            idx = {i for i in parse_integers(answer, "indices") if 0 <= i < len(chunk)}
            if answer and not idx and "[]" not in answer.replace(" ", ""):
                self.stats.unusable += 1
            if len(idx) > len(chunk) // 4:  # "everything is anomalous" carries no signal
                idx = set()
            cover[start:start + window] += 1
            for i in idx:
                votes[start + i] += 1
        frac = np.divide(votes, cover, out=np.zeros(n), where=cover > 0)
        flagged = frac >= self.vote
        evidence = RollingMAD().score(PreparedSeries(values=coarse))
        runs = [(a, b, float(evidence[a:b + 1].max())) for a, b in mask_to_intervals(flagged)]
        gap = max(1, int(round(n * cfg.merge_fraction)))
        runs = merge_intervals(runs, gap)
        runs.sort(key=lambda r: (-frac[r[0]:r[1] + 1].max(), -r[2]))
        found = _expand(runs[: cfg.max_intervals], size, len(series))
        notes = [f"{len(starts)} model call(s); {self.stats.unusable - unusable0} answer(s) "
                 "unusable."]
        if size > 1:
            notes.append(f"The series was averaged in bins of {size} points before prompting.")
        return build_report(series, found, self.name, extra_notes=notes)


class LLMDetector(_LLMMethod):
    """SigLLM DETECTOR: the model forecasts; large forecast errors are anomalies.

    Args:
        llm: an LLM object or spec string.
        window: past values shown per forecast (on the downsampled series).
        horizon: values forecast per call; calls = (points - window) / horizon.
        levels: values are rescaled to integers ``0..levels-1``.
        max_points: longer series are averaged down to this many points first.
    """

    name = "llm-detector"

    def __init__(self, llm: Any, *, window: int = 100, horizon: int = 10, levels: int = 1000,
                 **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)
        self.window, self.horizon, self.levels = window, horizon, levels

    def messages(self, digits: np.ndarray, horizon: int) -> list[Message]:
        """The prompt for one forecast (exposed so it can be inspected and tested)."""
        text = ",".join(str(int(d)) for d in digits)
        return [
            Message.system("You continue numeric sequences. Answer only with JSON."),
            Message.user(
                f"Continue this sequence with the next {horizon} values, as "
                f"{{\"values\": [...]}}:\n{text}"),
        ]

    def forecast(self, digits: np.ndarray) -> np.ndarray:
        """Forecast ``horizon`` values after ``digits``; missing ones repeat the last value."""
        answer = self._ask(self.messages(digits, self.horizon), forecast_schema(self.horizon),
                           max_tokens=8 * self.horizon + 24)
        values = parse_integers(answer, "values")[: self.horizon]
        if len(values) < self.horizon:
            self.stats.unusable += 1
            values = values + [int(digits[-1])] * (self.horizon - len(values))
        return np.asarray(values, dtype="float64")

    def detect_series(self, series: PreparedSeries,
                      config: ThresholdConfig | None = None) -> AnomalyReport:
        cfg = config or ThresholdConfig()
        coarse, size = _downsample(series.values, self.max_points)
        window = min(self.window, max(4, len(coarse) // 3))
        short = self._too_short(series, 24)
        if short is not None:
            return short
        digits = to_digits(coarse, self.levels)
        n = len(digits)
        errors = np.zeros(n)
        unusable0 = self.stats.unusable
        starts = list(range(window, n, self.horizon))
        for start in self._iter(starts, "llm-detector forecasts"):
            pred = self.forecast(digits[start - window:start])
            actual = digits[start:start + self.horizon]
            errors[start:start + len(actual)] = np.abs(pred[: len(actual)] - actual)
        span = max(1, int(round(n * 0.01)))
        scores = robust_z(smooth(errors, span), two_sided=False)
        scores[:window] = 0.0
        found = _expand(find_intervals(scores, cfg), size, len(series))
        notes = [f"{len(starts)} model call(s); {self.stats.unusable - unusable0} answer(s) "
                 "unusable; the "
                 f"first {window * size} points only serve as context and cannot be flagged."]
        if size > 1:
            notes.append(f"The series was averaged in bins of {size} points before forecasting.")
        full = np.repeat(scores, size)[: len(series)]
        return build_report(series, found, self.name, scores=full, extra_notes=notes)
