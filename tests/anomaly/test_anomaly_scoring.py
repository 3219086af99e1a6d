"""Overlapping-segment scoring against cases worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from sapient.plugins.anomaly.scoring import Counts, mean_f1, overlap_counts, overlaps


def test_overlap_is_closed_interval():
    assert overlaps((0, 10), (10, 20))  # sharing one point counts (Orion pads ends by 1)
    assert not overlaps((0, 10), (11, 20))
    assert overlaps((5, 6), (0, 100)) and overlaps((0, 100), (5, 6))


def test_hand_computed_series():
    truth = [(10, 20), (50, 60), (90, 95)]
    found = [(0, 5),      # fp: touches nothing
             (15, 18),    # tp for (10, 20)
             (19, 55),    # overlaps (10, 20) and (50, 60): no new fp, makes (50, 60) a tp
             (70, 80)]    # fp
    c = overlap_counts(truth, found)
    assert (c.tp, c.fp, c.fn) == (2, 2, 1)  # (90, 95) missed
    # precision 2/4, recall 2/3 -> F1 = 2*(1/2)(2/3)/(1/2+2/3) = 4/7
    assert c.precision == pytest.approx(0.5)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(4 / 7)


def test_one_long_detection_covering_two_windows():
    c = overlap_counts([(0, 10), (20, 30)], [(5, 25)])
    assert (c.tp, c.fp, c.fn) == (2, 0, 0)


def test_no_truth_and_no_detections():
    assert overlap_counts([], [(1, 2), (5, 6)]) == Counts(0, 2, 0)
    assert overlap_counts([(1, 2)], []) == Counts(0, 0, 1)
    assert Counts().f1 == 0.0 and Counts().precision == 0.0


def test_folder_sums_then_f1_and_mean_over_folders():
    # folder A: series 1 (tp=1, fp=1), series 2 (fn=1) -> tp 1, fp 1, fn 1 -> F1 0.5
    a = overlap_counts([(0, 10)], [(2, 3), (40, 50)]) + overlap_counts([(0, 10)], [])
    assert (a.tp, a.fp, a.fn) == (1, 1, 1) and a.f1 == pytest.approx(0.5)
    # folder B: perfect -> F1 1.0
    b = overlap_counts([(5, 6)], [(6, 9)])
    assert b.f1 == 1.0
    assert mean_f1({"A": a, "B": b}) == pytest.approx(0.75)
    # summing first is not the mean of per-series F1 (which would be (2/3 + 0 + 1)/3)
    assert a.f1 != pytest.approx((2 / 3 + 0.0) / 2)


def test_timestamps_work_too_and_bad_intervals_fail():
    t = pd.Timestamp
    truth = [(t("2014-04-10 07:15"), t("2014-04-11 16:45"))]
    assert overlap_counts(truth, [(t("2014-04-11 16:45"), t("2014-04-11 17:00"))]).tp == 1
    assert overlap_counts(truth, [(t("2014-04-11 16:50"), t("2014-04-11 17:00"))]).fp == 1
    with pytest.raises(ValueError, match="ends before"):
        overlap_counts([(5, 1)], [])
