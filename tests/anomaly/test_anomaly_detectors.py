"""Detectors on synthetic series with known anomalies, and the threshold rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sapient.plugins.anomaly import (
    Ensemble,
    FlatLine,
    ForecastError,
    MatrixProfile,
    RollingMAD,
    STLResidual,
    ThresholdConfig,
    detect,
)
from sapient.plugins.anomaly.ensemble import config_for, make_detector
from sapient.plugins.anomaly.threshold import (
    dynamic_threshold,
    find_intervals,
    mask_to_intervals,
    merge_intervals,
)


def _hits(report, lo, hi):
    return any(i.start <= hi and lo <= i.end for i in report.intervals)


@pytest.mark.parametrize("detector", [RollingMAD(), STLResidual(period=96), ForecastError(),
                                      Ensemble([RollingMAD(), STLResidual(), ForecastError()])])
def test_spike_is_found_and_nothing_else(synth, detector):
    report = detector.detect(synth.spike(at=900, height=6.0))
    assert report.intervals, report.summary
    top = report.intervals[0]
    assert top.start <= 900 <= top.end
    assert top.peak_index == pytest.approx(900, abs=20)
    assert top.direction == "above"
    assert len(report.intervals) <= 3


def test_level_shift_is_found_at_the_shift(synth):
    report = detect(synth.level_shift(at=1000, delta=4.0))
    assert _hits(report, 990, 1010), report.summary


def test_seasonal_break_needs_the_season(synth):
    x = synth.seasonal_break(start=1000, length=30, period=96)
    assert (x.min(), x.max()) == pytest.approx((7.8, 12.2), abs=0.3)  # values stay in range
    report = STLResidual(period=96).detect(x)
    assert _hits(report, 1000, 1030), report.summary
    assert detect(x).intervals and _hits(detect(x), 1000, 1030)


def test_flat_line_is_found(synth):
    x = synth.flat(start=700, length=80)
    report = FlatLine().detect(x)
    assert _hits(report, 700, 780)
    auto = detect(x)
    assert _hits(auto, 700, 780), auto.summary
    assert any(i.direction == "flat" for i in auto.intervals)


_MP_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from conftest import Synth
from sapient.plugins.anomaly import MatrixProfile
x = Synth().base(n=400, period=50, noise=0.02)
x[200:225] = 10 + np.linspace(-2, 2, 25)  # a ramp where a sine bump should be
report = MatrixProfile(m=25).detect(x)
print(json.dumps([[i.start, i.end] for i in report.intervals]))
"""


def test_matrix_profile_finds_an_odd_shape():
    # stumpy compiles its kernels with numba on first use (about a minute on two
    # cores); the same stumpy code runs interpreted in a child process instead.
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", _MP_SCRIPT, str(Path(__file__).parent)],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    intervals = json.loads(out.stdout.strip().splitlines()[-1])
    assert intervals and any(a <= 225 and b >= 195 for a, b in intervals), intervals


def test_clean_series_has_no_anomalies(synth):
    report = detect(synth.base(n=2000, seed=7))
    assert report.intervals == [], report.summary
    assert "No anomalies found" in report.summary


def test_timestamps_label_intervals_and_summary(synth):
    x = synth.spike(at=900)
    report = detect(x, timestamps=synth.timestamps(len(x)))
    top = report.intervals[0]
    assert top.start_time <= "2026-01-14T09:00:00" <= top.end_time  # point 900, 15-min steps
    assert "2026-01-14T0" in report.summary
    assert top.severity in report.summary
    assert report.to_dict()["anomalies"][0]["start"] == top.start


def test_sensitivity_changes_what_is_reported(synth):
    x = synth.base(n=1500, seed=2)
    x[300] += 0.5  # a blip, ~10 noise sigmas
    x[900] += 6.0
    low = detect(x, sensitivity=0.0)
    high = detect(x, sensitivity=1.0)
    assert len(low.intervals) <= len(high.intervals)
    with pytest.raises(ValueError, match="between 0 and 1"):
        config_for(1.5)


def test_method_names_and_errors():
    assert isinstance(make_detector("MAD"), RollingMAD)
    assert isinstance(make_detector("matrix_profile"), MatrixProfile)
    with pytest.raises(ValueError, match="Known methods"):
        make_detector("magic")
    with pytest.raises(ValueError, match="needs an LLM"):
        make_detector("llm-prompter")
    with pytest.raises(ValueError):
        Ensemble([])


# --- threshold rules ------------------------------------------------------------------


def test_mask_to_intervals_and_merge():
    mask = np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    assert mask_to_intervals(mask) == [(1, 2), (5, 5), (7, 7)]
    assert mask_to_intervals(np.zeros(4, dtype=bool)) == []
    merged = merge_intervals([(5, 5, 2.0), (1, 2, 3.0), (7, 7, 9.0)], gap=2)
    assert merged == [(1, 2, 3.0), (5, 7, 9.0)]


def test_dynamic_threshold_separates_outliers():
    rng = np.random.default_rng(0)
    s = np.abs(rng.normal(0, 1, 2000))
    s[[500, 1500]] = 30.0
    eps = dynamic_threshold(s)
    assert s[s <= 30.0 - 1e-9].max() < eps < 30.0
    assert dynamic_threshold(np.ones(10)) == float("inf")


def test_find_intervals_caps_prunes_and_floors():
    s = np.zeros(1000)
    for at, height in [(100, 20.0), (300, 19.0), (500, 18.0), (700, 17.0), (900, 3.0)]:
        s[at] = height
    found = find_intervals(s, ThresholdConfig(max_intervals=2, min_percent=0.0, padding=0,
                                              min_score=4.0))
    assert [(a, b) for a, b, _ in found] == [(100, 100), (300, 300)]  # most severe first
    assert find_intervals(np.full(100, 3.0)) == []  # below the score floor
    assert find_intervals(s, ThresholdConfig(min_score=50.0)) == []
