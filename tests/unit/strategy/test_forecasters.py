"""The online forecasters across audits (strategy/forecasters.py): the
state file carries what they learnt from one audit to the next, each
sample is seen once, and whatever is wrong with the file only makes them
start afresh."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.strategy import forecasters

STEP = 300.0
#: the end of the recorded usage (epoch seconds, on the 300 s grid)
END = 1_800_000_000.0
DEFAULTS = ForecastSettings()


def daily(seed: int, n: int, steps: int) -> np.ndarray:
    """A daily cycle with little noise: history beyond the last hour
    helps (the seasonal forecasters should win on it)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    cycle = 0.4 + 0.3 * np.sin(2 * np.pi * t / 288) ** 3
    return np.clip(cycle + rng.normal(0, 0.01, (n, steps)), 0, 1)


def audit(path, series: np.ndarray, end_step: int, width: int = 576,
          names=None, settings: ForecastSettings = DEFAULTS):
    """The forecast of an audit whose window holds the ``width`` samples
    up to step ``end_step`` of ``series``."""
    n = series.shape[0]
    names = names or [f"vm-{i}" for i in range(n)]
    cols = np.arange(end_step - width + 1, end_step + 1)
    times = END + STEP * (cols - series.shape[1] + 1)
    return forecasters.forecast(path, names, ["8-cores"] * n,
                                series[:, cols], times, np.full(n, 2.0),
                                settings, STEP)


def test_state_carries_the_evidence_and_each_sample_is_fed_once(tmp_path):
    path = forecasters.state_path(str(tmp_path / "moves.json"))
    assert path.name == "moves.forecasters.npz"
    series = daily(1, 8, 700)
    first = audit(path, series, 575)
    assert first.fed == 576 and first.restarted == "no saved state yet"
    assert first.forecast.source != "reactive"
    assert path.exists()
    # the next audit sees one new sample, and the evidence is kept
    second = audit(path, series, 576)
    assert second.fed == 1 and second.restarted is None
    assert second.forecast.source == first.forecast.source
    # an audit before the next sample feeds nothing and writes nothing
    before = path.stat().st_mtime_ns
    again = audit(path, series, 576)
    assert again.fed == 0 and path.stat().st_mtime_ns == before
    np.testing.assert_array_equal(again.forecast.upper,
                                  second.forecast.upper)
    # ten samples later (audits missed): the ten are fed
    assert audit(path, series, 586).fed == 10


def test_white_noise_leaves_the_reactive_rule_speaking(tmp_path):
    rng = np.random.default_rng(3)
    noise = np.clip(rng.normal(0.3, 0.1, (8, 600)), 0, 1)
    path = tmp_path / "m.forecasters.npz"
    for end in (575, 576, 577):
        outcome = audit(path, noise, end)
    assert list(outcome.forecast.forecaster) == ["reactive"] * 8


def test_instances_are_followed_by_uuid(tmp_path):
    path = tmp_path / "m.forecasters.npz"
    series = daily(2, 6, 700)
    names = [f"vm-{i}" for i in range(6)]
    audit(path, series, 575, names=names)
    kept = audit(path, series, 576, names=names)
    # next audit: vm-5 is gone, the rest come in another order, and a
    # new instance with an hour of usage joins
    order = [3, 0, 1, 4, 2]
    joined = np.vstack([series[order], np.full((1, 700), 0.5)])
    moved = audit(path, joined, 576, names=[names[i] for i in order]
                  + ["vm-new"])
    assert moved.fed == 0
    np.testing.assert_allclose(moved.forecast.upper[:5],
                               kept.forecast.upper[order])
    # the newcomer's forecast is its own usage, not a guess
    assert moved.forecast.upper[5] == pytest.approx(0.5 * 2.0, abs=0.05)


@pytest.mark.parametrize("damage,reason", [
    (lambda p: p.write_bytes(b"not a zip"), "unreadable"),
    (lambda p: None, "the audit's are seasonal"),
])
def test_a_state_that_cannot_be_used_is_replaced(tmp_path, damage, reason):
    path = tmp_path / "m.forecasters.npz"
    series = daily(3, 4, 700)
    audit(path, series, 575)
    damage(path)
    settings = ForecastSettings(forecaster="seasonal") \
        if "seasonal" in reason else DEFAULTS
    outcome = audit(path, series, 576, settings=settings)
    assert reason in outcome.restarted
    assert outcome.fed == 576
    assert np.all(np.isfinite(outcome.forecast.upper))


def test_a_state_a_week_behind_starts_afresh(tmp_path):
    path = tmp_path / "m.forecasters.npz"
    series = daily(4, 4, 3000)
    audit(path, series, 575)
    late = audit(path, series, 2999, width=36)
    assert "without a sample" in late.restarted
    assert late.fed == 36


def test_times_and_samples_that_disagree_are_refused(tmp_path):
    with pytest.raises(ValueError, match="sample times"):
        forecasters.forecast(tmp_path / "x.npz", ["a"], ["g"],
                             np.zeros((1, 3)), np.arange(2.0),
                             np.ones(1), ForecastSettings(), STEP)


def test_a_fresh_state_starts_at_the_windows_first_sample(tmp_path):
    # a 3 h window over instances with an hour of usage: the two empty
    # hours before it are not steps
    series = np.full((3, 36), np.nan)
    series[:, 24:] = 0.3
    outcome = audit(tmp_path / "m.forecasters.npz", series, 35, width=36)
    assert outcome.fed == 12
