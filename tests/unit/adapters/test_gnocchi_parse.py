"""Parsing aggregates answers, as recorded from Gnocchi 4.7.1 (no
server)."""
from __future__ import annotations

import datetime

import numpy as np
import pytest

from watcher_adaptive.adapters import gnocchi

UTC = datetime.timezone.utc


def _t(h, m):
    return datetime.datetime(2026, 11, 24, h, m, tzinfo=UTC)


# the shape gnocchiclient returned for
# (metric (cpu rate:mean) (memory.usage mean)) on two instances
RECORDED = {
    "measures": {
        "vm-a": {
            "cpu": {"rate:mean": [(_t(18, 45), 300.0, float("nan")),
                                  (_t(18, 50), 300.0, 150e9),
                                  (_t(18, 55), 300.0, 300e9)]},
            "memory.usage": {"mean": [(_t(18, 50), 300.0, 1000.0)]},
        },
        "vm-b": {"cpu": {"rate:mean": [
            ("2026-11-24T18:50:00+00:00", 300.0, 60e9),
            ("2026-11-24T18:52:00+00:00", 60.0, 1e12)]}},
        "not-asked": {"cpu": {"rate:mean": [(_t(18, 50), 300.0, 1.0)]}},
    },
}


def test_rates_become_cores_and_gaps_stay_nan():
    times = gnocchi.grid(_t(18, 45), _t(19, 0), 300)
    assert [str(t)[11:16] for t in times] == ["18:45", "18:50", "18:55"]
    out = gnocchi.parse_measures(RECORDED, ["vm-a", "vm-b", "vm-c"],
                                 ["cpu_cores", "memory_mb"], times, 300)
    cores = out["cpu_cores"]
    np.testing.assert_allclose(cores[0], [np.nan, 0.5, 1.0])
    # the 60 s point is another granularity: ignored
    np.testing.assert_allclose(cores[1], [np.nan, 0.2, np.nan])
    assert np.all(np.isnan(cores[2]))
    np.testing.assert_allclose(out["memory_mb"][0], [np.nan, 1000.0, np.nan])


def test_garbage_bodies_give_nan_not_errors():
    times = gnocchi.grid(_t(18, 45), _t(19, 0), 300)
    for body in ({}, {"measures": []}, {"measures": {"vm-a": None}}, []):
        out = gnocchi.parse_measures(body, ["vm-a"], ["cpu_cores"], times,
                                     300)
        assert np.all(np.isnan(out["cpu_cores"]))


def test_unknown_metric_key_is_rejected():
    source = gnocchi.GnocchiMetricSource(client=None)
    with pytest.raises(ValueError, match="unknown metric"):
        source.read_usage(["x"], _t(18, 0), _t(19, 0), metrics=["gpu"])
