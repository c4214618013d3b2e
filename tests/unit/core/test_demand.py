"""Reactive and model-based demand forecasts."""
from __future__ import annotations

import warnings

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


def test_row_nanquantile_is_numpys_to_the_last_bit():
    rng = np.random.default_rng(5)
    values = rng.random((400, 12))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:5] = np.nan                     # rows with no sample
    values[5:10, :] = 0.25                  # constant rows
    values[10:20, 1:] = np.nan              # one sample
    for q in (0.5, 0.7, 0.9, 0.95):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanquantile(values, q, axis=1)
        np.testing.assert_array_equal(demand.row_nanquantile(values, q),
                                      expected)
