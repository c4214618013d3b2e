"""The online forecasters' state: kept as arrays, rebuilt to the bit,
following the VMs by row, and the sample times a store gives placed on
the selector's steps."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.core import online
from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.exceptions import StaleForecasterState


def daily(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    t = np.arange(steps)
    cycle = 0.4 + 0.3 * np.sin(2 * np.pi * t / 288) ** 3
    return np.clip(cycle + rng.normal(0, 0.02, (n, steps)), 0, 1)


def run(selector: online.Selector, series: np.ndarray,
        group: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for k in range(series.shape[1]):
        selector.observe(series[:, k], group)
        expected, upper, _ = selector.forecast(0.9, 6, group)
        out.append((expected, upper))
    return out


@pytest.mark.parametrize("mode", ["auto", "fleet"])
def test_a_selector_rebuilt_from_its_state_forecasts_exactly_the_same(mode):
    rng = np.random.default_rng(11)
    series = daily(rng, 12, 700)
    group = np.array([0] * 6 + [1] * 6)
    live = online.Selector(12, 288, forecaster=mode)
    run(live, series[:, :600], group)
    state = live.state()
    # nothing that needs pickle: the strategy saves it with numpy alone
    assert all(v.dtype != object for v in state.values())
    rebuilt = online.Selector.from_state(
        {k: np.array(v) for k, v in state.items()})
    ahead_live = run(live, series[:, 600:], group)
    ahead_rebuilt = run(rebuilt, series[:, 600:], group)
    for (e1, u1), (e2, u2) in zip(ahead_live, ahead_rebuilt, strict=True):
        np.testing.assert_array_equal(e1, e2)
        np.testing.assert_array_equal(u1, u2)
    assert rebuilt.choose(0) == live.choose(0)


def test_a_state_of_other_members_is_refused():
    state = online.Selector(3, 288).state()
    state["members"] = np.asarray(["reactive", "oracle"])
    with pytest.raises(ValueError, match="members"):
        online.Selector.from_state(state)
    state = online.Selector(3, 288).state()
    del state["step"]
    with pytest.raises(ValueError, match="lacks"):
        online.Selector.from_state(state)


def test_reindex_follows_the_vms_and_a_new_vm_starts_afresh():
    rng = np.random.default_rng(5)
    series = daily(rng, 6, 400)
    group = np.zeros(6, dtype=int)
    selector = online.Selector(6, 288)
    run(selector, series, group)
    expected, upper, _ = selector.forecast(0.9, 6, group)
    # VM 4 leaves, the others are listed in another order, one joins
    rows = np.array([3, 0, -1, 5, 1, 2])
    selector.reindex(rows)
    e2, u2, chosen = selector.forecast(0.9, 6, group)
    kept = rows >= 0
    np.testing.assert_allclose(e2[kept], expected[rows[kept]])
    np.testing.assert_allclose(u2[kept], upper[rows[kept]])
    # the newcomer has nothing yet: the caller's fallback speaks for it
    assert np.isnan(upper[2]) or np.isnan(u2[2])
    # its recent samples reach the reactive rule
    selector.backfill(~kept, np.full((6, 12), 0.5))
    reactive = selector.members["reactive"]
    e3, u3 = reactive.forecast(0.9, 6)
    assert e3[2] == pytest.approx(0.5) and u3[2] == pytest.approx(0.5)
    # the next sample is scored for every row without an error
    selector.observe(series[:, -1], group)


def test_steps_to_feed_places_samples_on_steps_and_waits_for_late_ones():
    t = 1_000_000.0 + 300.0 * np.arange(6)
    done = np.ones(6, dtype=bool)
    # nothing seen yet: every column in turn
    assert online.steps_to_feed(t, done, None, 300.0) == list(range(6))
    # seen up to column 3: the two after it
    assert online.steps_to_feed(t, done, t[3], 300.0) == [4, 5]
    # a hole in the grid is a step without a sample
    holed = np.delete(t, 2)
    assert online.steps_to_feed(holed, np.ones(5, bool), t[0],
                                300.0) == [1, None, 2, 3, 4]
    # the last column not yet written waits; an earlier thin one does not
    late = done.copy()
    late[[1, 5]] = False
    assert online.steps_to_feed(t, late, t[2], 300.0) == [3, 4]
    # nothing new
    assert online.steps_to_feed(t, done, t[5], 300.0) == []


def test_steps_to_feed_refuses_disorder_and_a_stale_state():
    t = 1_000_000.0 + 300.0 * np.arange(4)
    with pytest.raises(ValueError, match="increase"):
        online.steps_to_feed(t[::-1], np.ones(4, bool), None, 300.0)
    with pytest.raises(StaleForecasterState):
        online.steps_to_feed(t + 8 * 86400, np.ones(4, bool), t[0], 300.0)


def test_demand_forecast_names_who_spoke_and_fills_from_the_rule():
    rng = np.random.default_rng(2)
    series = daily(rng, 4, 50)
    group = np.zeros(4, dtype=int)
    selector = online.Selector(4, 288)
    for k in range(series.shape[1]):
        selector.observe(series[:, k], group)
    size = np.array([2.0, 2.0, 4.0, 4.0])
    forecast = online.demand_forecast(selector, series, size, group,
                                      ForecastSettings(), 300.0)
    assert list(forecast.forecaster) == ["reactive"] * 4
    assert forecast.source == "reactive"
    np.testing.assert_array_less(forecast.expected, forecast.upper + 1e-12)
    np.testing.assert_array_less(forecast.upper, forecast.upper_long + 1e-12)
    assert np.all(forecast.upper <= size)
