"""Reactive and model-based demand forecasts."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.core import demand


def test_reactive_uses_recent_mean_and_quantile():
    hist = np.array([[0.1] * 6 + [0.2, 0.4] * 3, [np.nan] * 12,
                     [np.nan] * 10 + [0.5, 0.5]])
    fc = demand.reactive_forecast(hist, np.array([2.0, 4.0, 1.0]), 0.9,
                                  1800.0)
    assert fc.expected[0] == pytest.approx(2.0 * np.mean(hist[0]))
    assert fc.upper[0] == pytest.approx(2.0 * np.quantile(hist[0], 0.9))
    # no sample: the VM's full size, never under-reserved
    assert fc.expected[1] == fc.upper[1] == 4.0 and fc.cold_start[1]
    # short history gets the cold spread
    assert fc.upper[2] == pytest.approx(0.5 + demand.COLD_SPREAD)
    assert fc.source == "reactive"


def test_from_quantiles_interpolates_and_checks_range():
    values = np.array([[0.2, 0.4, 0.6]])
    fc = demand.from_quantiles((0.5, 0.8, 0.9), values, np.array([10.0]),
                               0.85, 900.0)
    assert fc.expected[0] == pytest.approx(2.0)
    assert fc.upper[0] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="quantile"):
        demand.from_quantiles((0.5, 0.9), values[:, :2], np.ones(1), 0.95,
                              900.0)
