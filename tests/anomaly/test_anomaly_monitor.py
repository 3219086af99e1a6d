"""The streaming monitor: alerts as they happen, flat lines, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from sapient.plugins.anomaly import AnomalyMonitor


def test_spike_alert_is_reported_once_when_it_starts(synth):
    x = synth.base(n=600, seed=1)
    x[400:404] += 8.0
    monitor = AnomalyMonitor(window=300)
    alerts_at = {}
    for i, value in enumerate(x):
        for alert in monitor.update(value):
            alerts_at[i] = alert
    assert list(alerts_at) == [400]
    alert = alerts_at[400]
    assert alert.kind == "spike" and alert.start == 400 and alert.end == 403
    assert alert.peak_value == pytest.approx(x[400:404].max())
    assert not alert.open  # closed after the quiet points that followed
    assert "spike" in alert.describe()


def test_dip_with_timestamps_and_batches(synth):
    x = synth.base(n=500, seed=2)
    x[450] -= 8.0
    stamps = synth.timestamps(len(x))
    monitor = AnomalyMonitor(window=200)
    first = monitor.update_many(x[:300], stamps[:300])
    second = monitor.update_many(x[300:], stamps[300:])
    assert first == []
    assert [a.kind for a in second] == ["dip"]
    assert second[0].start_time == stamps[450].isoformat()


def test_batches_and_single_points_agree(synth):
    x = synth.spike(at=700)
    a, b = AnomalyMonitor(window=200), AnomalyMonitor(window=200)
    one = [al.start for v in x for al in a.update(v)]
    many = [al.start for al in b.update_many(x)]
    assert one == many == [700]


def test_flat_line_alert(synth):
    x = synth.flat(start=500, length=60)
    stamps = synth.timestamps(len(x))
    monitor = AnomalyMonitor(window=300, flat_run=20)
    alerts = monitor.update_many(x[:700], stamps[:700])
    flats = [a for a in alerts if a.kind == "flat"]
    assert len(flats) == 1
    assert 500 <= flats[0].start <= 502 and flats[0].end >= 555
    assert flats[0].start_time == stamps[flats[0].start].isoformat()


def test_quiet_stream_no_alerts_and_bad_values_skipped(synth):
    monitor = AnomalyMonitor(window=200)
    assert monitor.update_many(synth.base(n=800, seed=5)) == []
    assert monitor.update(float("nan")) == [] and monitor.update("oops") == []
    assert monitor.n_seen == 802
    with pytest.raises(ValueError):
        AnomalyMonitor(window=5)


def test_memory_stays_bounded_on_a_long_stream():
    rng = np.random.default_rng(0)
    monitor = AnomalyMonitor(window=256, max_alerts=20)
    x = rng.normal(0, 1, 30_000)
    x[::1000] += 30  # 30 incidents, more than max_alerts
    for start in range(0, len(x), 5000):
        monitor.update_many(x[start:start + 5000])
    assert monitor.n_seen == 30_000
    assert len(monitor.alerts) == 20  # only the most recent are kept
    assert monitor.alerts[-1].start == 29_000
    assert monitor.memory_items <= 3 * 256 + 20
