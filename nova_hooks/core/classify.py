"""Hot / warm / cold classification and per-VM memory figures.

Two inputs: DAMON-like :class:`~nova_hooks.core.types.Region` lists (the
steady-state path; cost grows with the region count, not the memory
size) and per-page :class:`~nova_hooks.core.types.PageSamples` (the
vectorised path, integer arithmetic in cache-sized chunks: 16.7 M pages,
64 GiB of guest memory, in tens of milliseconds).  :func:`combine` folds
what each backend saw into one :class:`~nova_hooks.core.types.VmFigures`.
"""
from __future__ import annotations

import math
from typing import Iterable
from typing import Optional
from typing import Sequence

import numpy as np

from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.reclaim import Range
from nova_hooks.core.reclaim import merge
from nova_hooks.core.reclaim import runs
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Classification
from nova_hooks.core.types import Observation
from nova_hooks.core.types import PageClass
from nova_hooks.core.types import PageSamples
from nova_hooks.core.types import Region
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures

#: pages per chunk of the vectorised path (keeps temporaries in cache)
CHUNK_PAGES = 1 << 16
_SCALE = 4  # fixed-point scale of the page score (write weight in 1/4)


def classify_region(region: Region, thresholds: Thresholds) -> PageClass:
    """The class of one region."""
    score = region.access_rate + thresholds.write_weight * region.write_rate
    if score >= thresholds.hot_access_rate and score > 0:
        return PageClass.HOT
    if (score >= thresholds.warm_access_rate and score > 0) \
            or region.idle_s < thresholds.cold_min_idle_s:
        return PageClass.WARM
    return PageClass.COLD


def classify_regions(regions: Iterable[Region], thresholds: Thresholds,
                     interval_s: float = 1.0) -> Classification:
    """Bytes per class over ``regions`` and the hot bytes per node.

    ``read_rate``/``write_rate`` are pages accessed / written per
    ``interval_s``-long sampling interval, scaled to per second.
    """
    sizes = [0, 0, 0]
    by_node: dict[int, int] = {}
    reads = writes = 0.0
    for region in regions:
        cls = classify_region(region, thresholds)
        sizes[cls] += region.size
        if cls is PageClass.HOT and region.node >= 0:
            by_node[region.node] = by_node.get(region.node, 0) + region.size
        pages = region.size / 4096.0
        reads += region.access_rate * pages
        writes += region.write_rate * pages
    return Classification(
        hot_bytes=sizes[PageClass.HOT], warm_bytes=sizes[PageClass.WARM],
        cold_bytes=sizes[PageClass.COLD],
        hot_bytes_by_node=tuple(sorted(by_node.items())),
        read_rate=reads / interval_s, write_rate=writes / interval_s)


def _score_thresholds(samples: PageSamples,
                      thresholds: Thresholds) -> tuple[int, int, int, int]:
    n = samples.intervals
    hot = math.ceil(_SCALE * thresholds.hot_access_rate * n - 1e-9)
    warm = math.ceil(_SCALE * thresholds.warm_access_rate * n - 1e-9)
    # a page never accessed (score 0) is not hot / warm by rate alone
    hot, warm = max(hot, 1), max(warm, 1)
    weight = int(round(_SCALE * thresholds.write_weight))
    idle = min(int(math.ceil(thresholds.cold_min_idle_s)), 65535)
    return hot, warm, weight, idle


def classify_pages(samples: PageSamples,
                   thresholds: Thresholds) -> Classification:
    """Vectorised classification of per-page samples.

    Score = 4 x accesses + round(4 x write_weight) x writes in uint16;
    compared with the thresholds scaled the same way, so no float array
    is ever built.  Works chunk by chunk.
    """
    hot_thr, warm_thr, weight, idle_thr = _score_thresholds(
        samples, thresholds)
    total = samples.pages
    n_hot = n_warm_or_hot = 0
    reads = writes = 0
    acc, wr, idle, node = (samples.accesses, samples.writes,
                           samples.idle_s, samples.node)
    # host NUMA node ids are small (0..max); -1 (unknown) is not counted
    node_ids = (range(int(node.max()) + 1)
                if node is not None and total else range(0))
    node_hot = {k: 0 for k in node_ids}
    score = np.empty(CHUNK_PAGES, dtype=np.uint16)
    tmp = np.empty(CHUNK_PAGES, dtype=np.uint16)
    hot = np.empty(CHUNK_PAGES, dtype=bool)
    keep = np.empty(CHUNK_PAGES, dtype=bool)
    recent = np.empty(CHUNK_PAGES, dtype=bool)
    for lo in range(0, total, CHUNK_PAGES):
        hi = min(lo + CHUNK_PAGES, total)
        m = hi - lo
        s, t, h, k, r = score[:m], tmp[:m], hot[:m], keep[:m], recent[:m]
        a, w = acc[lo:hi], wr[lo:hi]
        np.multiply(a, _SCALE, out=s, dtype=np.uint16)
        np.multiply(w, weight, out=t, dtype=np.uint16)
        np.add(s, t, out=s)
        np.greater_equal(s, hot_thr, out=h)
        np.greater_equal(s, warm_thr, out=k)
        np.less(idle[lo:hi], idle_thr, out=r)
        np.logical_or(k, r, out=k)
        n_hot += int(np.count_nonzero(h))
        n_warm_or_hot += int(np.count_nonzero(k))
        reads += int(a.sum(dtype=np.uint64))
        writes += int(w.sum(dtype=np.uint64))
        if node is not None:
            nd = node[lo:hi]
            for nid in node_ids:
                np.equal(nd, nid, out=r)
                np.logical_and(r, h, out=r)
                node_hot[nid] += int(np.count_nonzero(r))
    ps = samples.page_size
    window = samples.intervals * samples.interval_s
    return Classification(
        hot_bytes=n_hot * ps,
        warm_bytes=(n_warm_or_hot - n_hot) * ps,
        cold_bytes=(total - n_warm_or_hot) * ps,
        hot_bytes_by_node=tuple(
            (k, v * ps) for k, v in sorted(node_hot.items()) if v),
        read_rate=reads / window, write_rate=writes / window)


def page_classes(samples: PageSamples,
                 thresholds: Thresholds) -> np.ndarray:
    """The class of every page (uint8 array of :class:`PageClass`).

    The reference for :func:`classify_pages`, which only counts; handy
    for tests and for tracing single pages.
    """
    hot_thr, warm_thr, weight, idle_thr = _score_thresholds(
        samples, thresholds)
    score = (samples.accesses.astype(np.uint16) * _SCALE
             + samples.writes.astype(np.uint16) * weight)
    out = np.full(samples.pages, PageClass.COLD, dtype=np.uint8)
    out[(score >= warm_thr) | (samples.idle_s < idle_thr)] = PageClass.WARM
    out[score >= hot_thr] = PageClass.HOT
    return out


def _spread(total: int, weights: Sequence[tuple[int, int]]
            ) -> tuple[tuple[int, int], ...]:
    """Split ``total`` bytes over nodes in proportion to ``weights``."""
    known = [(n, b) for n, b in weights if n >= 0 and b > 0]
    whole = sum(b for _, b in known)
    if not total or not whole:
        return ()
    return tuple(sorted((n, total * b // whole) for n, b in known))


def _first(values: Iterable[Optional[float]]) -> Optional[float]:
    return next((v for v in values if v is not None), None)


def combine(observations: Sequence[Observation], thresholds: Thresholds,
            guest_bytes: int) -> VmFigures:
    """Fold the backends' observations into one VM's figures.

    Precedence (first match wins, in ``observations`` order within a
    kind): per-page samples, then regions.  Memory outside the sampled
    pages/regions is cold when the source covers all of the guest, else
    it is split into cold (the guest's free memory from balloon stats,
    or what a later source covering the whole guest — the forecast —
    calls cold, whichever is more) and warm (the rest: unknown, so
    kept).  With neither pages nor
    regions, the dirty rate over ``dirty_window_s`` is the hot set and
    the guest's used memory the warm set.  Node placement of the hot set
    comes from the samples, else from the node distribution of the guest
    memory (``numa_maps``).
    """
    sources = tuple(o.backend for o in observations)
    balloon: Optional[BalloonStats] = next(
        (o.balloon for o in observations if o.balloon is not None), None)
    dirty = _first(o.dirty_rate_bps for o in observations)
    node_bytes = next((o.node_bytes for o in observations if o.node_bytes),
                      ())
    faults = sum(o.faults or 0 for o in observations)
    placed = sum(o.placed or 0 for o in observations)
    miss_ratio = (min(1.0, faults / placed) if placed
                  else (None if not faults else 1.0))

    cls: Optional[Classification] = None
    covers_all = False
    chosen: Optional[Observation] = None
    for obs in observations:
        if obs.pages is not None:
            cls, covers_all = classify_pages(obs.pages, thresholds), \
                obs.covers_all
            chosen = obs
            break
    if cls is None:
        for obs in observations:
            if obs.regions:
                cls, covers_all = classify_regions(obs.regions, thresholds), \
                    obs.covers_all
                chosen = obs
                break
    # a later source that covers the whole guest (e.g. the forecast)
    # tells how much of what the chosen one did not see is cold
    fuller_cold = 0
    if cls is not None and not covers_all:
        fuller = next((o for o in observations if o is not chosen
                       and o.covers_all and o.regions), None)
        if fuller is not None:
            fuller_cold = classify_regions(fuller.regions,
                                           thresholds).cold_bytes

    free = (balloon.unused_kib * 1024
            if balloon is not None and balloon.unused_kib is not None
            else 0)
    if balloon is not None and balloon.available_kib is not None:
        # memory the balloon already holds is neither hot nor warm
        free += max(0, guest_bytes - balloon.available_kib * 1024)
    free = min(free, guest_bytes)

    if cls is not None:
        hot, warm, cold = cls.hot_bytes, cls.warm_bytes, cls.cold_bytes
        rest = max(0, guest_bytes - cls.total_bytes)
        if covers_all:
            cold += rest
        else:
            extra_cold = min(rest, max(0, max(free, fuller_cold) - cold))
            cold += extra_cold
            warm += rest - extra_cold
        read_rate, write_rate = cls.read_rate, cls.write_rate
        by_node = cls.hot_bytes_by_node
    else:
        used = guest_bytes - free
        hot = int(min(used, (dirty or 0.0) * thresholds.dirty_window_s))
        warm = used - hot
        cold = free
        read_rate = write_rate = None
        by_node = ()
    if not by_node and hot:
        by_node = _spread(hot, node_bytes)
    total = hot + warm + cold
    if total > guest_bytes and total:
        # never report more than the guest has: trim cold, then warm
        over = total - guest_bytes
        cut = min(over, cold)
        cold, over = cold - cut, over - cut
        warm -= min(over, warm)
    return VmFigures(
        guest_bytes=guest_bytes, hot_bytes=hot, warm_bytes=warm,
        cold_bytes=cold, hot_bytes_by_node=by_node, miss_ratio=miss_ratio,
        read_rate=read_rate, write_rate=write_rate, dirty_rate_bps=dirty,
        guest_need_kib=balloon.need_kib if balloon is not None else None,
        sources=sources)


def located(observations: Sequence[Observation], thresholds: Thresholds
            ) -> Optional[tuple[tuple[Range, ...], tuple[Range, ...]]]:
    """Where the hot and the warm pages are: ``(hot, warm)`` byte ranges
    into guest RAM, from the source :func:`combine` chose (per-page
    samples, else regions); ``None`` when only the forecast (which
    knows sizes, not places) or nothing located them."""
    sampled = [o for o in observations if o.backend != HINT_SOURCE]
    for obs in sampled:
        if obs.pages is not None:
            return _page_runs(obs.pages, thresholds)
    for obs in sampled:
        if obs.regions:
            hot, warm = [], []
            for r in obs.regions:
                c = classify_region(r, thresholds)
                if c is PageClass.HOT:
                    hot.append((r.start, r.size))
                elif c is PageClass.WARM:
                    warm.append((r.start, r.size))
            return merge(hot), merge(warm)
    return None


def _page_runs(samples: PageSamples, thresholds: Thresholds
               ) -> tuple[tuple[Range, ...], tuple[Range, ...]]:
    classes = page_classes(samples, thresholds)
    return (runs(classes == PageClass.HOT, samples.page_size),
            runs(classes == PageClass.WARM, samples.page_size))


def resolve_thresholds(default: Thresholds,
                       by_vm_type: dict[str, Thresholds],
                       by_profile: dict[str, Thresholds],
                       vm_type: Optional[str], profile_id: Optional[str],
                       overrides: Sequence[tuple[str, float]] = ()
                       ) -> Thresholds:
    """Thresholds for one VM: profile beats VM type beats the default;
    the hint's explicit overrides beat all three."""
    chosen = default
    if vm_type is not None and vm_type in by_vm_type:
        chosen = by_vm_type[vm_type]
    if profile_id is not None and profile_id in by_profile:
        chosen = by_profile[profile_id]
    return chosen.replace(dict(overrides)) if overrides else chosen


#: the source name of the figures the hint stands in for
HINT_SOURCE = "hint"


def hint_observation(hint: Optional[MigrationHint],
                     guest_bytes: int) -> Optional[Observation]:
    """The hint's expected working set as one hot region covering the
    guest (the rest cold), or ``None`` without a working set."""
    if hint is None or not hint.expected_hot_kib or guest_bytes <= 0:
        return None
    hot = min(guest_bytes, hint.expected_hot_kib * 1024)
    regions = [Region(start=0, size=hot, access_rate=1.0)]
    if guest_bytes > hot:
        # cold needs an idle age: the forecast says it is not touched
        regions.append(Region(start=hot, size=guest_bytes - hot,
                              access_rate=0.0, idle_s=float("inf")))
    return Observation(backend=HINT_SOURCE, regions=tuple(regions),
                       covers_all=True,
                       dirty_rate_bps=hint.dirty_rate_bps)
