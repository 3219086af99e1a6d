"""Input handling: every supported form, repairs that are explained, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sapient import SapientError
from sapient.plugins.anomaly import AnomalyInputError, detect, load_series


def test_list_array_series_and_pairs_agree():
    values = [1.0, 2.0, 3.0, 4.0]
    a = load_series(values)
    b = load_series(np.array(values))
    c = load_series(pd.Series(values, index=pd.date_range("2026-01-01", periods=4, freq="h")))
    d = load_series([("2026-01-01 00:00", 1), ("2026-01-01 01:00", 2),
                     ("2026-01-01 02:00", 3), ("2026-01-01 03:00", 4)])
    for s in (a, b, c, d):
        assert s.values.tolist() == values
    assert a.timestamps is None
    assert c.label(1) == "2026-01-01T01:00:00" == d.label(1)


def test_csv_picks_the_only_numeric_column_and_time_column(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame({"time": ["2026-01-01 00:00", "2026-01-01 00:05"], "cpu": [1.5, 2.5]}).to_csv(
        path, index=False)
    s = load_series(path)
    assert s.values.tolist() == [1.5, 2.5]
    assert s.label(1) == "2026-01-01T00:05:00"


def test_dataframe_column_and_unix_timestamps():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [5.0, 6.0, 7.0]})
    s = load_series(frame, column="b", timestamps=[1_700_000_000, 1_700_000_060, 1_700_000_120])
    assert s.values.tolist() == [5.0, 6.0, 7.0]
    assert s.label(0).startswith("2023-11-14")


@pytest.mark.parametrize(
    ("data", "kwargs", "fragment"),
    [
        ([], {}, "empty"),
        ([1, "high", 3], {}, "not numbers"),
        ({"a": 1}, {}, "dict"),
        (np.zeros((3, 2)), {}, "1-D"),
        ([None, float("nan")], {}, "missing"),
        ([1, 2, 3], {"timestamps": ["2026-01-01"]}, "timestamps"),
        ([1, 2], {"timestamps": ["yesterday-ish", "never"]}, "timestamps"),
        (object(), {}, "Cannot use"),
    ],
)
def test_bad_inputs_raise_clear_errors(data, kwargs, fragment):
    with pytest.raises(AnomalyInputError) as info:
        load_series(data, **kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, SapientError)


def test_bad_files_and_columns(tmp_path):
    with pytest.raises(AnomalyInputError, match="No file"):
        load_series(tmp_path / "missing.csv")
    path = tmp_path / "two.csv"
    pd.DataFrame({"x": [1, 2], "y": [3, 4]}).to_csv(path, index=False)
    with pytest.raises(AnomalyInputError, match="column=") as info:
        load_series(path)
    assert "Columns: x, y" in str(info.value)
    with pytest.raises(AnomalyInputError, match="Columns there: x, y"):
        load_series(path, column="z")
    with pytest.raises(AnomalyInputError, match="folder"):
        load_series(tmp_path)


def test_nans_are_interpolated_and_explained():
    values = [1.0, 2.0, None, float("nan"), 5.0, float("inf")] + [5.0] * 10
    s = load_series(values)
    assert np.isfinite(s.values).all()
    assert s.values[2] == pytest.approx(3.0)
    assert s.missing.sum() == 3
    assert any("3 missing value(s)" in n for n in s.notes)


def test_unsorted_duplicate_gapped_irregular_timestamps_are_explained():
    ts = ["2026-01-01 00:10", "2026-01-01 00:00", "2026-01-01 00:05", "2026-01-01 00:05",
          "2026-01-01 03:00", "2026-01-01 03:05", "2026-01-01 03:10"]
    s = load_series([3, 1, 2, 4, 5, 6, 7], timestamps=ts)
    assert s.values.tolist() == [1, 3, 3, 5, 6, 7]  # sorted, duplicates averaged
    text = " ".join(s.notes)
    assert "out of order" in text and "duplicate" in text and "gap" in text


def test_constant_and_very_short_series_never_crash():
    constant = detect([4.2] * 200)
    assert constant.intervals == []
    assert "constant" in constant.summary
    short = detect([1.0, 1.1, 0.9, 1.0, 50.0])
    assert [(i.start, i.end) for i in short.intervals] == [(4, 4)]
    assert "too short" in short.summary
    single = detect([3.0])
    assert single.intervals == [] and single.n_points == 1


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_extreme_magnitudes_give_the_same_answer(scale, synth, recwarn):
    x = synth.spike(at=900) * scale
    report = detect(x)
    assert [(i.start, i.end) for i in report.intervals] == [(900, 900)]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
