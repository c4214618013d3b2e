"""The verdict: adaptive ÷ each other strategy, and whether it dominates."""
from __future__ import annotations

import pytest

from watcher_adaptive.replay import results
from watcher_adaptive.replay import verdict


def _m(energy: float, slav: float, migrations: int) -> results.Metrics:
    return results.Metrics(energy_kwh=energy, migrations=migrations,
                           slatah=0.0, pdm=0.0, slav=slav,
                           esv=energy * slav, host_shutdowns=0)


def _run(name: str, metrics) -> results.StrategyRun:
    return results.StrategyRun(name, f"{name} desc", metrics, None, 1.0,
                               300.0, error=None if metrics else "boom")


@pytest.mark.parametrize("ours, theirs, ratios, dominates", [
    # better everywhere
    (_m(8.0, 1e-6, 10), _m(10.0, 4e-6, 100), (0.8, 0.25, 0.1), True),
    # equal everywhere still dominates (each <=)
    (_m(10.0, 2e-6, 5), _m(10.0, 2e-6, 5), (1.0, 1.0, 1.0), True),
    # cheaper but more migrations: not dominating
    (_m(8.0, 1e-6, 30), _m(10.0, 4e-6, 20), (0.8, 0.25, 1.5), False),
    # worse SLAV only
    (_m(8.0, 5e-6, 10), _m(10.0, 4e-6, 20), (0.8, 1.25, 0.5), False),
    # a baseline with no migrations and no SLAV (dvfs): ratios null;
    # ours at 0 too still dominates
    (_m(8.0, 0.0, 0), _m(10.0, 0.0, 0), (0.8, None, None), True),
    # ... but not when ours migrated and the baseline did not
    (_m(8.0, 1e-7, 4), _m(10.0, 0.0, 0), (0.8, None, None), False),
])
def test_compare_ratios_and_dominance(ours, theirs, ratios, dominates):
    c = verdict.compare(ours, "base", theirs)
    got = (c.energy_ratio, c.slav_ratio, c.migrations_ratio)
    assert got == pytest.approx(ratios)
    assert c.dominates is dominates
    assert c.as_dict() == {"energy_ratio": got[0], "slav_ratio": got[1],
                           "migrations_ratio": got[2],
                           "dominates": dominates}


def test_verdict_is_keyed_by_every_other_strategy_in_order():
    runs = [_run("dvfs", _m(20.0, 0.0, 0)),
            _run("adaptive", _m(10.0, 1e-6, 5)),
            _run("lr-mmt", _m(12.0, 1e-5, 50)),
            _run("watcher:basic", None)]
    out = verdict.verdict(runs)
    assert [c.baseline for c in out] == ["dvfs", "lr-mmt"]
    lr = out[1]
    assert lr.energy_ratio == pytest.approx(10.0 / 12.0)
    assert lr.dominates


@pytest.mark.parametrize("runs", [
    [_run("lr-mmt", _m(1.0, 0.0, 0))],             # adaptive not run
    [_run("adaptive", None), _run("lr-mmt", _m(1.0, 0.0, 0))],  # failed
])
def test_no_verdict_without_a_working_adaptive_run(runs):
    assert verdict.verdict(runs) is None


def test_console_lines_say_better_worse_and_equal():
    comps = [verdict.compare(_m(8.0, 1e-6, 30), "lr-mmt",
                             _m(10.0, 4e-6, 20)),
             verdict.compare(_m(8.0, 0.0, 0), "dvfs", _m(10.0, 0.0, 0))]
    head, lr, dvfs = verdict.console_lines(comps)
    assert "below 1 x is better" in head
    assert "energy 0.8 x" in lr and "migrations 1.5 x" in lr
    assert ("better on energy, better on SLA, worse on migrations"
            in lr)
    assert "dominates" not in lr
    assert "SLAV n/a (baseline 0)" in dvfs
    assert "equal on SLA, equal on migrations; dominates" in dvfs


def test_outcomes_tell_better_from_equal():
    c = verdict.compare(_m(8.0, 2e-6, 5), "x", _m(10.0, 2e-6, 4))
    assert c.outcomes == (("energy", "better"), ("SLA", "equal"),
                          ("migrations", "worse"))
    assert c.ratio_of("migrations") == pytest.approx(1.25)
