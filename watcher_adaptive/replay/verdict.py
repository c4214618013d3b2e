"""The verdict of a replay: ``adaptive`` against every other strategy.

A newcomer opens the report to learn whether ``adaptive`` is better and
by how much; the answer is a ratio per metric (``adaptive`` ÷ the other
strategy, so below 1 is better) and one boolean, ``dominates``: no worse
on energy, SLAV and migrations at once.  Pure: no I/O, no plotting.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional
from typing import Sequence

from watcher_adaptive.replay import results

#: the strategy the verdict speaks for (its entry-point name)
OURS = "adaptive"

#: (key in the verdict, Metrics attribute, the word on the console)
_METRICS = (("energy_ratio", "energy_kwh", "energy"),
            ("slav_ratio", "slav", "SLA"),
            ("migrations_ratio", "migrations", "migrations"))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``adaptive`` against one other strategy.

    A ratio is ``None`` where the other strategy's value is 0 (a ratio
    would be infinite or undefined); ``dominates`` still holds when
    ``adaptive`` is 0 there too.
    """

    baseline: str
    energy_ratio: Optional[float]
    slav_ratio: Optional[float]
    migrations_ratio: Optional[float]
    dominates: bool
    #: per metric, in order (``energy``, ``SLA``, ``migrations``), how
    #: ``adaptive`` did: ``better``, ``equal`` or ``worse``
    outcomes: tuple[tuple[str, str], ...] = ()

    def ratio_of(self, word: str) -> Optional[float]:
        """The ratio of the metric called ``word`` in :attr:`outcomes`."""
        return getattr(self, {w: k for k, _, w in _METRICS}[word])

    def as_dict(self) -> dict[str, Any]:
        """The entry of ``results.json``'s ``verdict`` object."""
        return {"energy_ratio": self.energy_ratio,
                "slav_ratio": self.slav_ratio,
                "migrations_ratio": self.migrations_ratio,
                "dominates": self.dominates}


def _ratio(ours: float, theirs: float) -> Optional[float]:
    return None if theirs == 0 else float(ours) / float(theirs)


def compare(ours: results.Metrics, name: str,
            theirs: results.Metrics) -> Comparison:
    """``ours`` against ``theirs`` (the strategy called ``name``)."""
    ratios: dict[str, Optional[float]] = {}
    outcomes: list[tuple[str, str]] = []
    for key, attr, word in _METRICS:
        a, b = getattr(ours, attr), getattr(theirs, attr)
        ratios[key] = _ratio(a, b)
        outcomes.append((word, "better" if a < b else
                         "equal" if a == b else "worse"))
    return Comparison(baseline=name,
                      dominates=all(o != "worse" for _, o in outcomes),
                      outcomes=tuple(outcomes), **ratios)


def verdict(runs: Sequence[results.StrategyRun],
            ours: str = OURS) -> Optional[list[Comparison]]:
    """``ours`` against every other strategy that produced metrics, in
    the runs' order.

    :returns: ``None`` when ``ours`` was not run or failed (there is no
        verdict to give), else one comparison per other strategy; a
        strategy that failed has none.
    """
    mine = next((r for r in runs if r.name == ours), None)
    if mine is None or mine.metrics is None:
        return None
    return [compare(mine.metrics, r.name, r.metrics) for r in runs
            if r.name != ours and r.metrics is not None]


def _ratio_text(value: Optional[float]) -> str:
    return "n/a (baseline 0)" if value is None else f"{value:.3g} x"


def console_lines(comparisons: Sequence[Comparison],
                  ours: str = OURS) -> list[str]:
    """The closing verdict block of ``watcher-adaptive simulate``: one
    line per baseline, ratios first, then better/worse per metric."""
    lines = [f"verdict ({ours} / baseline; below 1 x is better for "
             f"{ours}):"]
    width = max((len(c.baseline) for c in comparisons), default=0)
    for c in comparisons:
        words = ", ".join(f"{o} on {w}" for w, o in c.outcomes)
        lines.append(
            f"  vs {c.baseline:{width}s}  energy "
            f"{_ratio_text(c.energy_ratio)}, SLAV "
            f"{_ratio_text(c.slav_ratio)}, migrations "
            f"{_ratio_text(c.migrations_ratio)}: {words}"
            + ("; dominates" if c.dominates else ""))
    return lines
