"""Feature construction: values on hand-made series, no look-ahead."""
import numpy as np
import pytest

from watcher_adaptive.core import features as F


def test_features_use_only_the_past():
    rng = np.random.default_rng(1)
    series = rng.random((5, 80))
    origins = np.arange(10, 60)
    rows = np.repeat(np.arange(5), origins.size)
    orig = np.tile(origins, 5)
    before = F.features_at(F.series_stats(series), rows, orig)
    for t in (10, 30, 50):
        changed = series.copy()
        changed[:, t + 1:] = rng.random((5, 80 - t - 1)) * 50
        after = F.features_at(F.series_stats(changed), rows, orig)
        upto = orig <= t
        np.testing.assert_array_equal(before[upto], after[upto])
        # and the test can fail: later origins do see the change
        assert not np.array_equal(before[~upto], after[~upto])


def test_values_on_a_ramp():
    ramp = np.arange(40, dtype=float)[None, :]
    st = F.series_stats(ramp)
    x = F.features_at(st, np.array([0]), np.array([20]))[0]
    names = F.feature_names("")
    got = dict(zip(names, x, strict=True))
    assert got["lag0"] == 20 and got["lag1"] == 19 and got["lag12"] == 8
    assert got["mean6"] == pytest.approx(np.mean(np.arange(15, 21)))
    assert got["max12"] == 20
    assert got["trend"] == pytest.approx(1.0)
    assert got["longmean"] == pytest.approx(10.0)
    assert np.isnan(F.features_at(st, np.array([0]), np.array([2]))[0][
        names.index("lag3")])


def test_future_peak_target():
    s = np.array([[0.1, 0.5, 0.2, 0.9, 0.3]])
    peak = F.future_peak(s, np.array([0, 0, 0]), np.array([0, 1, 3]), 2)
    assert peak[0] == 0.5 and peak[1] == 0.9
    assert np.isnan(peak[2])  # horizon runs past the end


def test_nan_gaps_are_skipped_not_propagated():
    s = np.array([[0.2, np.nan, 0.4, np.nan, 0.6]])
    st = F.series_stats(s)
    x = dict(zip(F.feature_names(""),
                 F.features_at(st, np.array([0]), np.array([4]))[0],
                 strict=True))
    assert x["mean6"] == pytest.approx(0.4)
    assert x["max6"] == 0.6
    assert np.isnan(x["lag1"])
    assert x["ewma"] == pytest.approx(0.3 * 0.6 + 0.7 * (0.3 * 0.4
                                                         + 0.7 * 0.2))
    peak = F.future_peak(s, np.array([0]), np.array([0]), 2)
    assert peak[0] == 0.4


def test_time_features():
    tod = F.time_features(np.array([0, 72]), 288, None, 300.0)
    assert tod[0, 0] == pytest.approx(0.0) and tod[0, 1] == pytest.approx(1)
    assert tod[1, 0] == pytest.approx(1.0)  # 06:00
    assert np.isnan(tod[0, 2])
    dated = F.time_features(np.array([0]), 288, 0.0, 300.0)
    assert np.isfinite(dated[0, 2])


def test_rolling_mean_matches_series_stats():
    rng = np.random.default_rng(2)
    s = rng.random((3, 50))
    s[1, 10:14] = np.nan
    np.testing.assert_allclose(F.rolling_mean(s, 12),
                               F.series_stats(s).means[12])
