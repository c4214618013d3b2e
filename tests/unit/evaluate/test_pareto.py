"""The sweep's front and dominance on points made by hand."""
from __future__ import annotations

import math

import pytest

from watcher_adaptive.evaluate import pareto


def _p(id_, energy, slav, migrations, strategy="adaptive", trace="t1"):
    return pareto.Point(id=id_, strategy=strategy, trace=trace,
                        energy_kwh=energy, slav=slav, migrations=migrations)


@pytest.mark.parametrize("a, b, covers, strict", [
    ((1, 1, 1), (2, 2, 2), True, True),
    ((1, 1, 1), (1, 1, 1), True, False),      # equal points
    ((1, 1, 2), (1, 1, 1), False, False),     # worse on one
    ((1, 1, 1), (1, 1, 2), True, True),       # tied on two, better on one
    ((1, 3, 1), (2, 2, 2), False, False),     # a trade-off
])
def test_covers_and_strict_dominance(a, b, covers, strict):
    pa, pb = _p("a", *a), _p("b", *b)
    assert pareto.covers(pa, pb) is covers
    assert pareto.strictly_dominates(pa, pb) is strict


def test_front_keeps_trade_offs_and_equal_points_drops_the_beaten():
    points = [_p("low-energy", 1, 5, 10), _p("low-slav", 5, 1, 10),
              _p("twin-1", 3, 3, 3), _p("twin-2", 3, 3, 3),
              _p("beaten", 3, 3, 4),          # tied with the twins on two
              _p("far", 9, 9, 9)]
    assert [p.id for p in pareto.front(points)] == [
        "low-energy", "low-slav", "twin-1", "twin-2"]


def test_front_leaves_out_runs_without_figures():
    points = [_p("ok", 2, 2, 2), _p("failed", math.nan, math.nan, math.nan),
              _p("inf", 1, math.inf, 1)]
    assert [p.id for p in pareto.front(points)] == ["ok"]


def test_front_refuses_several_traces():
    with pytest.raises(ValueError, match="one trace"):
        pareto.front([_p("a", 1, 1, 1), _p("b", 1, 1, 1, trace="t2")])


def test_fronts_are_per_trace_and_per_strategy():
    points = [_p("a1", 1, 2, 1), _p("a2", 2, 1, 1), _p("a3", 2, 2, 2),
              # t2's adaptive point would dominate all of t1's
              _p("b1", 0, 0, 0, trace="t2"),
              _p("b2", 1, 1, 1, trace="t2"),
              # a baseline that beats every adaptive point is not on
              # adaptive's front
              _p("lr", 0, 0, 0, strategy="lr-mmt"),
              _p("lr2", 0, 0, 0, strategy="lr-mmt", trace="t3")]
    assert pareto.fronts(points, "adaptive") == {
        "t1": ["a1", "a2"], "t2": ["b1"], "t3": []}


def test_dominance_names_a_covering_front_point_or_none():
    points = [_p("a-cheap", 1, 5, 5), _p("a-safe", 5, 1, 1),
              _p("a-off-front", 6, 2, 2),
              _p("lr-1.0", 2, 6, 6, strategy="lr-mmt"),
              # equal to a-safe: covered (no worse on all three)
              _p("lr-1.4", 5, 1, 1, strategy="lr-mmt"),
              # only an off-front point and a front point cover it: the
              # front point is named
              _p("thr-0.9", 7, 3, 3, strategy="thr-mmt"),
              # better than us on SLAV: not covered
              _p("thr-0.7", 3, 0.5, 9, strategy="thr-mmt"),
              _p("lr-failed", math.nan, math.nan, math.nan,
                 strategy="lr-mmt"),
              _p("dvfs", 9, 0, 0, strategy="dvfs"),
              # another trace: t1's adaptive points do not count there
              _p("lr-t2", 9, 9, 9, strategy="lr-mmt", trace="t2")]
    got = pareto.dominance(points, "adaptive", ("lr-mmt", "thr-mmt"))
    assert got == {"lr-1.0": "a-cheap", "lr-1.4": "a-safe",
                   "thr-0.9": "a-safe", "thr-0.7": None,
                   "lr-failed": None, "lr-t2": None}


def test_dominance_picks_the_first_covering_point_in_the_order_given():
    points = [_p("a1", 1, 1, 1), _p("a2", 1, 1, 1),
              _p("lr", 2, 2, 2, strategy="lr-mmt")]
    assert pareto.dominance(points, "adaptive", ("lr-mmt",)) == {
        "lr": "a1"}
    assert pareto.dominance(points[::-1], "adaptive", ("lr-mmt",)) == {
        "lr": "a2"}


def test_ids_must_be_unique():
    with pytest.raises(ValueError, match="twice"):
        pareto.fronts([_p("a", 1, 1, 1), _p("a", 2, 2, 2)], "adaptive")
