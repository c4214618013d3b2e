"""Pareto fronts and dominance over energy, SLAV and migrations.

Pure: plain values in, plain values out, no I/O, so that the sweep's
verdict can be checked on points made by hand.  All three objectives
are minimised.  Two definitions are used, on purpose different:

* ``a`` *covers* ``b`` (:func:`covers`) when it is no worse on every
  objective; equal points cover each other.  That is the issue's
  "dominated by an adaptive point": a baseline that some setting of ours
  matches or beats on all three at once.
* ``b`` is *on the front* of a set (:func:`front`) when no point of the
  set covers it while being strictly better on at least one objective.
  Equal points are therefore all on the front (none beats the other),
  and a point tied with a front point on one objective but worse on
  another is not.

Points of different traces are never compared: every function works per
trace.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterable
from typing import Optional
from typing import Sequence


@dataclasses.dataclass(frozen=True)
class Point:
    """One run's outcome, reduced to what the front compares.

    :param id: unique over the sweep.
    :param strategy: the strategy's family (``adaptive``, ``lr-mmt``...).
    :param trace: runs are compared only within one trace.
    """

    id: str
    strategy: str
    trace: str
    energy_kwh: float
    slav: float
    migrations: float

    @property
    def objectives(self) -> tuple[float, float, float]:
        return (self.energy_kwh, self.slav, self.migrations)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.objectives)


def covers(a: Point, b: Point) -> bool:
    """``a`` is no worse than ``b`` on energy, SLAV and migrations."""
    return all(x <= y for x, y in zip(a.objectives, b.objectives, strict=True))


def strictly_dominates(a: Point, b: Point) -> bool:
    """``a`` covers ``b`` and is better on at least one objective."""
    return covers(a, b) and a.objectives != b.objectives


def front(points: Iterable[Point]) -> list[Point]:
    """The points no other point strictly dominates, in the order given
    (points with a NaN or infinite objective are left out: a run that
    produced no figure is on no front).  Every point must be of one
    trace; :func:`fronts` splits a sweep by trace."""
    pool = [p for p in points if p.finite]
    _one_trace(pool)
    return [p for p in pool
            if not any(strictly_dominates(q, p) for q in pool)]


def fronts(points: Iterable[Point], strategy: str) -> dict[str, list[str]]:
    """Per trace, the ids of ``strategy``'s points on its own front
    (traces in order of first appearance; a trace where ``strategy`` has
    no finite point maps to an empty list)."""
    by_trace = _by_trace(points)
    return {trace: [p.id for p in front(p for p in pts
                                        if p.strategy == strategy)]
            for trace, pts in by_trace.items()}


def dominance(points: Iterable[Point], ours: str,
              baselines: Sequence[str]) -> dict[str, Optional[str]]:
    """For each point of a ``baselines`` strategy, the id of a point of
    ``ours`` on the same trace that covers it, or ``None``.

    Where several cover it the first on ``ours``' front in the order
    given is named (some front point covers it whenever any point does,
    so the answer does not depend on which points are off the front).
    """
    out: dict[str, Optional[str]] = {}
    for pts in _by_trace(points).values():
        ours_front = front(p for p in pts if p.strategy == ours)
        for base in pts:
            if base.strategy not in baselines:
                continue
            out[base.id] = next((p.id for p in ours_front
                                 if base.finite and covers(p, base)), None)
    return out


def _by_trace(points: Iterable[Point]) -> dict[str, list[Point]]:
    by_trace: dict[str, list[Point]] = {}
    seen: set[str] = set()
    for p in points:
        if p.id in seen:
            raise ValueError(f"point id given twice: {p.id!r}")
        seen.add(p.id)
        by_trace.setdefault(p.trace, []).append(p)
    return by_trace


def _one_trace(points: Sequence[Point]) -> None:
    traces = {p.trace for p in points}
    if len(traces) > 1:
        raise ValueError("a front compares points of one trace, got "
                         f"{', '.join(sorted(traces))}")
