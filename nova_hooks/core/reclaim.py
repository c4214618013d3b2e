"""Cold-page reclaim on the destination while post-copy runs: which
guest-RAM ranges to page out this round, bounded the way DAMOS bounds
its schemes.

Pure: the adapter (:mod:`nova_hooks.agent.reclaim`) reads the host (the
guest-RAM mapping's resident size, host free memory, which pages are
present) and carries the plan out with ``process_madvise``; the plan and
the state it leaves are values the journal records.

Bounds, all enforced here:

* **never hot or warm**: a range is a candidate only when it lies in the
  cold set and outside every hot or warm range (the protected ranges
  win where the classes overlap); ranges already paged out are not
  paged out again;
* **floor**: the guest-RAM mapping keeps at least hot + warm + headroom
  bytes resident;
* **quota**: at most ``quota_bytes_per_s`` bytes per one-second charge
  window (requests, present or not, are charged);
* **watermarks**: nothing while host free memory is above
  ``free_high_pct`` (no pressure to relieve, when the operator wants
  it so) or below ``free_low_pct`` (the kernel's own reclaim is at work;
  adding to it thrashes).

Offsets are bytes into the guest-RAM mapping (guest physical addresses
of the main RAM block), page-aligned.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Iterable
from typing import Optional
from typing import Sequence

import numpy as np

from nova_hooks.core.types import PAGE_SIZE

Range = tuple[int, int]
"""``(start, length)`` in bytes."""


def merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sorted, non-overlapping, adjacent ranges joined; empty dropped."""
    out: list[list[int]] = []
    for start, length in sorted(r for r in ranges if r[1] > 0):
        if out and start <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], start + length - out[-1][0])
        else:
            out.append([start, length])
    return tuple((s, n) for s, n in out)


def subtract(ranges: Iterable[Range], minus: Iterable[Range]
             ) -> tuple[Range, ...]:
    """``ranges`` without any byte of ``minus``.  One sweep over both,
    sorted: a round plans against hundreds of present runs."""
    cut = merge(minus)
    out: list[Range] = []
    j = 0
    for start, length in merge(ranges):
        pos, end = start, start + length
        # cuts that end before this range cannot touch a later one
        while j < len(cut) and cut[j][0] + cut[j][1] <= pos:
            j += 1
        k = j
        while k < len(cut) and cut[k][0] < end:
            cs, cn = cut[k]
            if cs > pos:
                out.append((pos, cs - pos))
            pos = max(pos, cs + cn)
            if pos >= end:
                break
            k += 1
        if pos < end:
            out.append((pos, end - pos))
    return tuple(out)


def intersect(ranges: Iterable[Range], within: Iterable[Range]
              ) -> tuple[Range, ...]:
    """The bytes of ``ranges`` that lie in ``within`` (one sweep)."""
    a, w = merge(ranges), merge(within)
    out: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(w):
        a_end, w_end = a[i][0] + a[i][1], w[j][0] + w[j][1]
        lo, hi = max(a[i][0], w[j][0]), min(a_end, w_end)
        if lo < hi:
            out.append((lo, hi - lo))
        # the one that ends first has no more overlap to give
        if a_end <= w_end:
            i += 1
        else:
            j += 1
    return tuple(out)


def total(ranges: Iterable[Range]) -> int:
    return sum(n for _, n in ranges)


def runs(mask: "np.ndarray", page: int = PAGE_SIZE, offset: int = 0
         ) -> tuple[Range, ...]:
    """The runs of set entries of a per-page ``mask`` (bool, or 0/1 of
    any integer type), as byte ranges from ``offset`` (found with numpy:
    a 256 MiB guest has 65,536 pages, read every round)."""
    edges = np.diff(np.concatenate(
        ([0], np.asarray(mask).astype(np.int8, copy=False), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple((offset + int(s) * page, int(e - s) * page)
                 for s, e in zip(starts, ends, strict=True))


def page_align(ranges: Iterable[Range], page: int = PAGE_SIZE
               ) -> tuple[Range, ...]:
    """Shrink each range to whole pages (never grow it: a protected byte
    must not end up in a candidate page)."""
    out = []
    for start, length in ranges:
        lo = -(-start // page) * page
        hi = (start + length) // page * page
        if hi > lo:
            out.append((lo, hi - lo))
    return merge(out)


def page_cover(ranges: Iterable[Range], page: int = PAGE_SIZE
               ) -> tuple[Range, ...]:
    """Grow each range to whole pages (for protected ranges: a page with
    one protected byte is protected)."""
    out = []
    for start, length in ranges:
        lo = start // page * page
        hi = -(-(start + length) // page) * page
        out.append((lo, hi - lo))
    return merge(out)


@dataclasses.dataclass(frozen=True)
class ReclaimPolicy:
    """The bounds of cold-page reclaim.

    :param quota_bytes_per_s: at most this many bytes paged out per
        one-second charge window.
    :param headroom_bytes: kept resident on top of hot + warm.
    :param free_high_pct: no reclaim while host free memory is above
        this share of host memory (100: always allowed).
    :param free_low_pct: no reclaim while host free memory is below it.
    :param max_ranges: at most this many ranges per round (one
        ``process_madvise`` vector).
    """

    quota_bytes_per_s: int = 32 << 20
    headroom_bytes: int = 16 << 20
    free_high_pct: float = 100.0
    free_low_pct: float = 5.0
    max_ranges: int = 512

    def __post_init__(self) -> None:
        if self.quota_bytes_per_s < 0 or self.headroom_bytes < 0:
            raise ValueError("reclaim quota and headroom must be >= 0")
        if not 0.0 <= self.free_low_pct <= self.free_high_pct <= 100.0:
            raise ValueError("reclaim watermarks need 0 <= low <= high "
                             "<= 100")
        if self.max_ranges < 1:
            raise ValueError("reclaim max_ranges must be >= 1")


@dataclasses.dataclass(frozen=True)
class ReclaimState:
    """What reclaim did so far in one session (the fold of its journal
    records): the current charge window, where the next round starts,
    the ranges paged out."""

    window_start: float = 0.0
    window_bytes: int = 0
    cursor: int = 0
    paged: tuple[Range, ...] = ()

    @property
    def paged_bytes(self) -> int:
        return total(self.paged)


@dataclasses.dataclass(frozen=True)
class ReclaimView:
    """What the host shows this round.

    :param guest_bytes: size of the guest-RAM mapping.
    :param resident_bytes: its resident part now.
    :param hot: hot ranges; :param warm: warm ranges (both protected).
    :param cold: ranges classed cold; ``None``: every byte outside the
        protected ranges (only when a whole-guest source, or the hint,
        says the rest is cold).
    :param present: ranges known to be resident (pagemap); ``None``:
        unknown, every candidate is asked for.
    :param free_pct: host free memory, % of host memory.
    :param now: seconds (monotonic).
    """

    guest_bytes: int
    resident_bytes: int
    hot: tuple[Range, ...]
    warm: tuple[Range, ...]
    cold: Optional[tuple[Range, ...]]
    free_pct: float
    now: float
    present: Optional[tuple[Range, ...]] = None


@dataclasses.dataclass(frozen=True)
class ReclaimPlan:
    """The ranges to page out now, why this many, and the state once
    they are journaled."""

    ranges: tuple[Range, ...]
    reason: str
    state: ReclaimState
    budget_bytes: int = 0
    floor_bytes: int = 0

    @property
    def bytes(self) -> int:
        return total(self.ranges)


def protected(view: ReclaimView) -> tuple[Range, ...]:
    """Hot and warm, grown to whole pages."""
    return page_cover(tuple(view.hot) + tuple(view.warm))


def candidates(view: ReclaimView, state: ReclaimState
               ) -> tuple[Range, ...]:
    """Cold pages outside every protected page, not yet paged out,
    present where presence is known."""
    whole = ((0, view.guest_bytes),)
    cold = whole if view.cold is None else intersect(view.cold, whole)
    out = subtract(cold, protected(view) + tuple(state.paged))
    if view.present is not None:
        out = intersect(out, view.present)
    return page_align(out)


def _take(ranges: Sequence[Range], cursor: int, budget: int,
          max_ranges: int) -> tuple[tuple[Range, ...], int]:
    """Up to ``budget`` bytes of ``ranges`` starting at ``cursor`` and
    wrapping around; the new cursor."""
    after = [r for r in ranges if r[0] + r[1] > cursor]
    before = [r for r in ranges if r[0] + r[1] <= cursor]
    order = after + before
    if after and after[0][0] < cursor:
        s, n = after[0]
        order[0] = (cursor, s + n - cursor)
        order.append((s, cursor - s))
    picked: list[Range] = []
    left, new_cursor = budget, cursor
    for s, n in order:
        if left < PAGE_SIZE or len(picked) >= max_ranges:
            break
        take = min(n, left // PAGE_SIZE * PAGE_SIZE)
        picked.append((s, take))
        left -= take
        new_cursor = s + take
    return merge(picked), new_cursor


def plan(view: ReclaimView, state: ReclaimState, policy: ReclaimPolicy,
         hot_bytes: Optional[int] = None,
         warm_bytes: Optional[int] = None) -> ReclaimPlan:
    """This round's reclaim.  ``hot_bytes``/``warm_bytes``: the
    classifier's sizes where they exceed the located ranges (the floor
    uses the larger)."""
    if view.now - state.window_start >= 1.0:
        state = dataclasses.replace(state, window_start=view.now,
                                    window_bytes=0)
    prot = protected(view)
    floor = max(total(prot), (hot_bytes or 0) + (warm_bytes or 0)) \
        + policy.headroom_bytes

    def none(reason: str, budget: int = 0) -> ReclaimPlan:
        return ReclaimPlan((), reason, state, budget, floor)

    if view.free_pct > policy.free_high_pct:
        return none(f"free memory {view.free_pct:.1f} % above the high "
                    f"watermark {policy.free_high_pct:g} %")
    if view.free_pct < policy.free_low_pct:
        return none(f"free memory {view.free_pct:.1f} % below the low "
                    f"watermark {policy.free_low_pct:g} %")
    quota_left = policy.quota_bytes_per_s - state.window_bytes
    above_floor = view.resident_bytes - floor
    budget = min(quota_left, above_floor)
    if quota_left < PAGE_SIZE:
        return none("quota of this second used", max(budget, 0))
    if above_floor < PAGE_SIZE:
        return none(f"resident {view.resident_bytes >> 20} MiB at the floor "
                    f"{floor >> 20} MiB (hot + warm + headroom)")
    cand = candidates(view, state)
    if not cand:
        return none("no cold page left to page out", budget)
    ranges, cursor = _take(cand, state.cursor, budget, policy.max_ranges)
    took = total(ranges)
    new = ReclaimState(window_start=state.window_start,
                       window_bytes=state.window_bytes + took,
                       cursor=cursor,
                       paged=merge(tuple(state.paged) + ranges))
    why = "quota" if budget == quota_left else "floor"
    if took < budget:
        why = "cold pages"
    return ReclaimPlan(ranges, f"bounded by {why}", new, budget, floor)


def undo(state: ReclaimState) -> tuple[Range, ...]:
    """What to bring back on failure or cancel: every range paged out
    (they fault back on access anyway; asking for them restores the
    residency the guest had)."""
    return state.paged


def faulted_back(state: ReclaimState, touched: Iterable[Range]
                 ) -> ReclaimState:
    """The state once the guest touched ``touched`` (those pages are
    resident again and may be paged out again later)."""
    return dataclasses.replace(state,
                               paged=subtract(state.paged, touched))


# -- the agent's reclaim rounds: what the journal carries ----------------
@dataclasses.dataclass(frozen=True)
class RamReading:
    """A destination QEMU's guest-RAM mapping as the host shows it now.

    :param guest_bytes: size of the mapping (at most the guest's).
    :param present: its resident runs (pagemap).
    :param free_pct: host free memory, % of host memory.
    :param now: seconds (monotonic).
    """

    guest_bytes: int
    present: tuple[Range, ...]
    free_pct: float
    now: float


def view_of(reading: RamReading, hot: Sequence[Range],
            warm: Sequence[Range]) -> ReclaimView:
    """The round's view: the located hot and warm ranges protected,
    every other present page a candidate (what the sampling backends
    locate during post-copy is what the guest asked for; a page present
    that it never asked for came by pre-copy or the background stream)."""
    return ReclaimView(guest_bytes=reading.guest_bytes,
                       resident_bytes=total(reading.present),
                       hot=tuple(hot), warm=tuple(warm), cold=None,
                       free_pct=reading.free_pct, now=reading.now,
                       present=reading.present)


def round_record(p: ReclaimPlan, view: ReclaimView,
                 policy: ReclaimPolicy) -> dict[str, Any]:
    """A round's journal value (JSON-friendly): the ranges paged out, the
    ranges protected, the state they leave, and the bounds in force."""
    return {"ranges": [list(r) for r in p.ranges], "bytes": p.bytes,
            # what the round kept its hands off: hot and warm, whole pages
            "protected": [list(r) for r in protected(view)],
            "cursor": p.state.cursor,
            "window_start": p.state.window_start,
            "window_bytes": p.state.window_bytes,
            "bounds": {"quota_bytes_per_s": policy.quota_bytes_per_s,
                       "headroom_bytes": policy.headroom_bytes,
                       "free_high_pct": policy.free_high_pct,
                       "free_low_pct": policy.free_low_pct,
                       "floor_bytes": p.floor_bytes,
                       "budget_bytes": p.budget_bytes,
                       "resident_bytes": view.resident_bytes,
                       "free_pct": round(view.free_pct, 2)}}


def ranges_of(value: object) -> tuple[Range, ...]:
    """The ranges a journal value names (``{"ranges": [[s, n], ...]}``);
    none from anything else."""
    raw = value.get("ranges") if isinstance(value, dict) else None
    if not isinstance(raw, list):
        return ()
    return merge((int(r[0]), int(r[1])) for r in raw
                 if isinstance(r, (list, tuple)) and len(r) == 2)


def folded(state: ReclaimState, value: object) -> ReclaimState:
    """The state once a round's journal value is applied: its ranges
    count as paged out (also while in doubt: asking for a page back that
    was never paged out costs nothing), its cursor and window are the
    round's."""
    paged = merge(tuple(state.paged) + ranges_of(value))
    if not isinstance(value, dict):
        return dataclasses.replace(state, paged=paged)
    return ReclaimState(
        window_start=float(value.get("window_start", state.window_start)),
        window_bytes=int(value.get("window_bytes", state.window_bytes)),
        cursor=int(value.get("cursor", state.cursor)), paged=paged)
