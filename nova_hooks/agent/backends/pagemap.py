"""Bounded page sampling of QEMU's guest-RAM mapping through procfs,
shared by the ``idle_page`` and ``soft_dirty`` backends.

The cost of a round is bounded by the number of sampled ranges
(``[page_sampling] max_regions``) times ``pages_per_region``, never by
the guest's size, the way DAMON bounds its own work: the RAM mapping is
cut into equal slices and one run of consecutive pages at the start of
each slice stands for the whole slice.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

import numpy as np

from nova_hooks.agent import qemu
from nova_hooks.agent.backends import Backend
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Region
from nova_hooks.exceptions import QemuNotFound

PAGE = 4096
PRESENT = np.uint64(1 << 63)
SOFT_DIRTY = np.uint64(1 << 55)
PFN_MASK = np.uint64((1 << 55) - 1)


def ram_mapping(proc_root: str, pid: int,
                guest_bytes: int) -> Optional[tuple[int, int]]:
    """``(start, end)`` of the anonymous writable mapping that holds the
    guest's RAM: the largest one at least half the guest's size."""
    best: Optional[tuple[int, int]] = None
    with open(os.path.join(proc_root, str(pid), "maps")) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or not fields[1].startswith("rw"):
                continue
            if len(fields) > 5 and not fields[5].startswith("["):
                continue        # file-backed (unless memfd-like anon)
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi - lo >= guest_bytes // 2 and \
                    (best is None or hi - lo > best[1] - best[0]):
                best = (lo, hi)
    return best


@dataclasses.dataclass(frozen=True)
class SamplePlan:
    """Where to look: ``n`` slices of ``slice_bytes`` from ``start``,
    ``pages`` consecutive pages probed at the start of each."""

    start: int
    slice_bytes: int
    n: int
    pages: int


def plan_ranges(mapping: tuple[int, int], max_ranges: int,
                pages_per_range: int) -> SamplePlan:
    lo, hi = mapping
    total_pages = max(1, (hi - lo) // PAGE)
    n = max(1, min(max_ranges, total_pages // max(1, pages_per_range)))
    slice_pages = total_pages // n
    return SamplePlan(lo, slice_pages * PAGE, n,
                      max(1, min(pages_per_range, slice_pages)))


def read_entries(proc_root: str, pid: int, plan: SamplePlan) -> np.ndarray:
    """The pagemap entries of every probed page, shape (n, pages)."""
    out = np.zeros((plan.n, plan.pages), dtype=np.uint64)
    fd = os.open(os.path.join(proc_root, str(pid), "pagemap"), os.O_RDONLY)
    try:
        for i in range(plan.n):
            vaddr = plan.start + i * plan.slice_bytes
            raw = os.pread(fd, plan.pages * 8, (vaddr // PAGE) * 8)
            got = np.frombuffer(raw, dtype=np.uint64)
            out[i, :got.shape[0]] = got
    finally:
        os.close(fd)
    return out


class RegionHistory:
    """Per-slice access history across rounds: the rate is the share of
    probed pages seen accessed in the last round, smoothed; the idle
    time counts from the last round a page of the slice was seen."""

    def __init__(self, smoothing: float = 0.5) -> None:
        self.smoothing = smoothing
        self.rate: Optional[np.ndarray] = None
        self.write: Optional[np.ndarray] = None
        self.last_seen: Optional[np.ndarray] = None
        self.started = 0.0

    def update(self, now: float, accessed: np.ndarray,
               written: Optional[np.ndarray] = None) -> None:
        """``accessed``/``written``: share of probed pages per slice."""
        a = self.smoothing
        if self.rate is None or self.rate.shape != accessed.shape:
            self.rate = accessed.astype(float)
            self.write = (written.astype(float) if written is not None
                          else np.zeros_like(self.rate))
            self.last_seen = np.full(accessed.shape, now)
            self.started = now
        else:
            self.rate = a * accessed + (1 - a) * self.rate
            if written is not None:
                self.write = a * written + (1 - a) * self.write
        self.last_seen[accessed > 0] = now

    def regions(self, plan: SamplePlan, now: float) -> tuple[Region, ...]:
        if self.rate is None:
            return ()
        return tuple(
            Region(start=i * plan.slice_bytes, size=plan.slice_bytes,
                   access_rate=float(min(1.0, self.rate[i])),
                   write_rate=float(min(1.0, self.write[i])),
                   idle_s=float(now - self.last_seen[i]))
            for i in range(plan.n))


class PagemapBackend(Backend):
    """What ``idle_page`` and ``soft_dirty`` share: the bounded sample of
    QEMU's guest-RAM mapping, its pagemap entries, and the per-guest
    history that turns rounds into regions."""

    def __init__(self, host, conf=None, clock=time.monotonic) -> None:
        super().__init__(host, conf)
        self.clock = clock
        self.max_ranges, self.pages_per_range = 1000, 64
        if conf is not None:
            self.max_ranges = conf.page_sampling.max_regions
            self.pages_per_range = conf.page_sampling.pages_per_region
        self.histories: dict[str, RegionHistory] = {}

    def _pid(self, guest) -> int:
        return qemu.qemu_pid(self.host.run_dir, guest.name)

    def _probe_mapping(self, guest) -> Optional[str]:
        """``None`` when QEMU's guest-RAM mapping can be read, else why."""
        try:
            if ram_mapping(self.host.proc_root, self._pid(guest),
                           guest.maximum_kib * 1024) is None:
                return "no mapping of QEMU looks like the guest's RAM"
        except (QemuNotFound, OSError) as exc:
            return f"QEMU's mappings not readable: {exc}"
        return None

    def _entries(self, guest) -> tuple[int, SamplePlan, np.ndarray]:
        """QEMU's pid, the sample plan and its pagemap entries."""
        pid = self._pid(guest)
        mapping = ram_mapping(self.host.proc_root, pid,
                              guest.maximum_kib * 1024)
        if mapping is None:
            raise QemuNotFound("guest RAM mapping is gone")
        plan = plan_ranges(mapping, self.max_ranges, self.pages_per_range)
        return pid, plan, read_entries(self.host.proc_root, pid, plan)

    def _observe(self, guest, plan: SamplePlan, accessed: np.ndarray,
                 written: Optional[np.ndarray],
                 covers_all: bool) -> Observation:
        """One round into the guest's history; the first round only
        marks (nothing was marked before it), so it observes nothing."""
        history = self.histories.setdefault(guest.uuid, RegionHistory())
        now = self.clock()
        if history.rate is None:
            history.update(now, np.zeros(plan.n),
                           None if written is None else np.zeros(plan.n))
            return Observation(backend=self.name)
        history.update(now, accessed, written)
        return Observation(backend=self.name, covers_all=covers_all,
                           regions=history.regions(plan, now))
