"""Online forecasters: calibration, selection on evidence, no peeking."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.core import online


def drifting(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Levels that wander, a daily cycle whose amplitude grows, and noise
    whose spread doubles over the run: nothing stationary to fit once."""
    t = np.arange(steps)
    level = 0.2 + np.cumsum(rng.normal(0, 0.004, (n, steps)), axis=1)
    cycle = (0.05 + 0.1 * t / steps) * np.sin(2 * np.pi * t / 288)
    noise = rng.normal(0, 1, (n, steps)) * (0.02 + 0.02 * t / steps)
    return np.clip(level + cycle + noise, 0.0, 1.0)


@pytest.mark.parametrize("member", ["seasonal", "seasonal-fast"])
def test_calibration_holds_the_quantile_on_a_drifting_series(member):
    rng = np.random.default_rng(7)
    series = drifting(rng, 40, 3000)
    selector = online.Selector(40, 288, forecaster=member)
    model = selector.members[member]
    hits = []
    for k in range(series.shape[1] - 1):
        model.observe(series[:, k])
        _, upper = model.forecast(0.9, 1)
        if k >= 1000:  # coverage on data the calibration never saw
            hits.append(series[:, k + 1] <= upper)
    coverage = float(np.mean(hits))
    assert abs(coverage - 0.9) <= 0.03, coverage


def _feed(selector: online.Selector, series: np.ndarray) -> list[str]:
    group = np.zeros(series.shape[0], dtype=int)
    spoke = []
    for k in range(series.shape[1]):
        selector.observe(series[:, k], group)
        _, _, chosen = selector.forecast(0.9, 6, group)
        spoke.append(chosen[0])
    return spoke


def test_selection_falls_back_to_the_reactive_rule_on_white_noise():
    rng = np.random.default_rng(3)
    noise = np.clip(rng.normal(0.3, 0.1, (100, 1500)), 0, 1)
    spoke = _feed(online.Selector(100, 288), noise)
    assert set(spoke[-500:]) == {"reactive"}


def test_selection_lets_a_forecaster_that_clearly_wins_speak():
    # a daily cycle with little noise: history beyond the last hour helps
    rng = np.random.default_rng(4)
    t = np.arange(1500)
    cycle = 0.4 + 0.3 * np.sin(2 * np.pi * t / 288) ** 3
    series = np.clip(cycle + rng.normal(0, 0.01, (60, t.size)), 0, 1)
    spoke = _feed(online.Selector(60, 288), series)
    assert spoke[-1] != "reactive"
    # nothing but the reactive rule before a whole day is seen
    assert spoke[:287] == ["reactive"] * 287


def test_unknown_forecaster_is_refused():
    with pytest.raises(ValueError, match="auto"):
        online.Selector(3, 288, forecaster="oracle")


def test_the_peak_over_a_longer_horizon_sees_the_coming_daily_high():
    # a VM idle at night (10 %) and busy by day (60 %); at night, the
    # half-hour forecast stays low while the 12-hour peak sees the day
    slots = 48
    day = np.where((np.arange(slots) >= 24), 0.6, 0.1)
    seasonal = online.Seasonal(1, slots)
    for _ in range(20):
        for v in day:
            seasonal.observe(np.array([v]))
    # the clock is at slot 0 again: night
    pending = len(seasonal.pending)
    short_expected, short_upper = seasonal.forecast(0.9, 2)
    expected, upper = seasonal.peak(0.9, 26)
    assert short_expected[0] < 0.2 and upper[0] > 0.6
    assert short_upper[0] < upper[0] - 0.3
    assert expected[0] > short_expected[0]
    # read only: nothing more waits for scoring than forecast() added
    assert len(seasonal.pending) == pending + 2
    reactive = online.Reactive(1, 12)
    for v in day[:12]:
        reactive.observe(np.array([v]))
    for got, want in zip(reactive.peak(0.9, 26), reactive.forecast(0.9, 2),
                         strict=True):
        np.testing.assert_array_equal(got, want)


def _moving_fleet(rng: np.random.Generator, n: int, steps: int
                  ) -> np.ndarray:
    """Every VM noise around a level they all share, which wanders
    slowly (a first-order autoregression at 0.98)."""
    common = np.zeros(steps)
    for k in range(1, steps):
        common[k] = 0.98 * common[k - 1] + rng.normal(0, 0.02)
    return np.clip(0.4 + common[None, :] + rng.normal(0, 0.08, (n, steps)),
                   0.0, 1.0)


def test_the_fleet_forecaster_follows_a_fleet_that_moves_together():
    rng = np.random.default_rng(5)
    series = _moving_fleet(rng, 100, 1500)
    fleet, reactive = online.Fleet(100), online.Reactive(100)
    err = {"fleet": [], "reactive": []}
    for k in range(series.shape[1] - 6):
        for model in (fleet, reactive):
            model.observe(series[:, k])
        if k >= 500:
            coming = series[:, k + 1:k + 7].mean(axis=1)
            for name, model in (("fleet", fleet), ("reactive", reactive)):
                expected, _ = model.peak(0.9, 6)
                err[name].append(np.abs(expected - coming).mean())
    assert 0.9 < fleet.persistence() < 1.0
    assert np.mean(err["fleet"]) < 0.9 * np.mean(err["reactive"])


def test_auto_never_lets_an_opt_in_forecaster_speak():
    rng = np.random.default_rng(6)
    spoke = _feed(online.Selector(60, 288), _moving_fleet(rng, 60, 800))
    assert "fleet" not in spoke
    # asked for by name, it speaks
    forced = _feed(online.Selector(60, 288, forecaster="fleet"),
                   _moving_fleet(rng, 60, 50))
    assert set(forced) == {"fleet"}
