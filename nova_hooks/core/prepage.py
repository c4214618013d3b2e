"""Pre-paging on the destination as post-copy starts: which pages of the
predicted hot set to ask the source for this round, and when to stop.

Pure.  The ranking is a list of guest-RAM ranges, most likely to be
touched first (the hot-set predictor's output: the slices the guest
missed most in the post-copy trace so far, the hint's working set).
Each round asks for up to ``pages_per_s`` x elapsed of the ranked pages
not yet on the destination (the adapter reads them through the
guest-RAM mapping, so QEMU's userfaultfd thread requests them from the
source like a guest fault, at a pace that leaves the background stream
its share).

The ranking *misses* when the guest's own demand faults land outside
it: a round's faults are counted as hits (inside a ranked range) or
misses; once ``min_faults`` faults were seen and the miss share of the
last ``window`` rounds exceeds ``max_miss_share``, pre-paging stops for
the session (it would only compete with the guest's real faults for the
link).  While every ranked page is on the destination it waits for
the ranking to grow.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable
from typing import Optional
from typing import Sequence

from nova_hooks.core.reclaim import Range
from nova_hooks.core.reclaim import intersect
from nova_hooks.core.reclaim import merge
from nova_hooks.core.reclaim import page_align
from nova_hooks.core.reclaim import page_cover
from nova_hooks.core.reclaim import subtract
from nova_hooks.core.reclaim import total
from nova_hooks.core.types import PAGE_SIZE


@dataclasses.dataclass(frozen=True)
class PrepagePolicy:
    """:param pages_per_s: pace of the requests.
    :param max_miss_share: stop once more than this share of the guest's
        faults fell outside the ranking.
    :param min_faults: judge the ranking only after this many faults.
    :param window: rounds the miss share is computed over.
    :param in_flight: requests outstanding at once (1: one page at a
        time, each a round trip to the source)."""

    pages_per_s: int = 512
    max_miss_share: float = 0.5
    min_faults: int = 32
    window: int = 5
    in_flight: int = 1

    def __post_init__(self) -> None:
        if min(self.pages_per_s, self.min_faults, self.window,
               self.in_flight) < 1:
            raise ValueError("pre-paging pace, min_faults, window and "
                             "in_flight must be >= 1")
        if not 0.0 <= self.max_miss_share <= 1.0:
            raise ValueError("max_miss_share must be within 0..1")


@dataclasses.dataclass(frozen=True)
class PrepageState:
    last: Optional[float] = None
    requested: tuple[Range, ...] = ()
    hits: tuple[int, ...] = ()
    misses: tuple[int, ...] = ()
    stopped: str = ""

    @property
    def requested_bytes(self) -> int:
        return total(self.requested)

    @property
    def miss_share(self) -> Optional[float]:
        n = sum(self.hits) + sum(self.misses)
        return None if n == 0 else sum(self.misses) / n


@dataclasses.dataclass(frozen=True)
class PrepagePlan:
    ranges: tuple[Range, ...]
    state: PrepageState
    reason: str

    @property
    def bytes(self) -> int:
        return total(self.ranges)


def score(ranking: Sequence[Range], faults: Iterable[int]
          ) -> tuple[int, int]:
    """(hits, misses): faulting offsets inside / outside the ranking."""
    hits = misses = 0
    rs = sorted(ranking)
    for off in faults:
        if any(s <= off < s + n for s, n in rs):
            hits += 1
        else:
            misses += 1
    return hits, misses


def plan(ranking: Sequence[Range], present: Optional[Sequence[Range]],
         faults: Sequence[int], now: float, state: PrepageState,
         policy: PrepagePolicy) -> PrepagePlan:
    """This round's requests.  ``present``: ranges already on the
    destination (None: unknown); ``faults``: the demand-fault offsets
    since the last round (those in ranges pre-paging asked for itself
    are left out)."""
    if state.stopped:
        return PrepagePlan((), state, state.stopped)
    # the requests pre-paging made itself fault like the guest's: they
    # are not the guest's demand
    own = sorted(state.requested)
    faults = [f for f in faults
              if not any(s <= f < s + n for s, n in own)]
    h, m = score(ranking, faults)
    hits = (state.hits + (h,))[-policy.window:]
    misses = (state.misses + (m,))[-policy.window:]
    state = dataclasses.replace(state, hits=hits, misses=misses)
    seen = sum(hits) + sum(misses)
    if seen >= policy.min_faults and \
            sum(misses) / seen > policy.max_miss_share:
        why = (f"ranking misses: {sum(misses)} of the last {seen} faults "
               f"outside it (> {policy.max_miss_share:.0%})")
        return PrepagePlan((), dataclasses.replace(state, stopped=why,
                                                   last=now), why)
    elapsed = 1.0 if state.last is None else max(0.0, now - state.last)
    budget = int(policy.pages_per_s * min(elapsed, 2.0)) * PAGE_SIZE
    state = dataclasses.replace(state, last=now)
    if not ranking:
        return PrepagePlan((), state, "nothing ranked yet")
    todo = subtract(page_cover(ranking), state.requested)
    if present is not None:
        todo = subtract(todo, present)
    if not todo:
        # for now: the ranking grows as the guest faults on
        return PrepagePlan((), state, "ranking exhausted")
    picked: list[Range] = []
    left = budget
    # in ranking order, not address order
    for r in ranking:
        for s, n in intersect([r], todo):
            if left < PAGE_SIZE:
                break
            take = min(n, left)
            picked.append((s, take))
            left -= take
    picked_t = page_align(picked)
    new = dataclasses.replace(
        state, requested=merge(state.requested + picked_t))
    return PrepagePlan(picked_t, new, "paced")

