"""``idle_page``: which guest pages QEMU's process touched since the last
round, from the kernel's idle page tracking.

Each round translates the probed pages of the guest-RAM mapping to page
frames (``/proc/<pid>/pagemap``), reads their idle bits in
``/sys/kernel/mm/page_idle/bitmap`` (a frame still idle was not
accessed since it was marked) and marks them idle again.  Reads only:
nothing of the guest changes.  Needs ``CONFIG_IDLE_PAGE_TRACKING`` and
root (frame numbers are hidden otherwise); works while post-copy runs.
"""
from __future__ import annotations

import os
import time
from typing import Optional

import numpy as np

from nova_hooks.agent import qemu
from nova_hooks.agent.backends import Backend
from nova_hooks.agent.backends import pagemap
from nova_hooks.core.types import Observation


class IdlePageBackend(Backend):
    name = "idle_page"
    during_postcopy = True

    def __init__(self, host, conf=None, clock=time.monotonic) -> None:
        super().__init__(host, conf)
        self.clock = clock
        self.max_ranges, self.pages_per_range = 1000, 64
        if conf is not None:
            self.max_ranges = conf.page_sampling.max_regions
            self.pages_per_range = conf.page_sampling.pages_per_region
        self.histories: dict[str, pagemap.RegionHistory] = {}

    @property
    def bitmap(self) -> str:
        return os.path.join(self.host.sys_root, "kernel", "mm", "page_idle",
                            "bitmap")

    def _pid(self, guest) -> int:
        return qemu.qemu_pid(self.host.run_dir, guest.name)

    def probe(self, guest) -> Optional[str]:
        if not os.path.exists(self.bitmap):
            return (f"no {self.bitmap}: the kernel is built without "
                    "CONFIG_IDLE_PAGE_TRACKING")
        if not os.access(self.bitmap, os.R_OK | os.W_OK):
            return f"{self.bitmap} is not readable and writable (root?)"
        try:
            pid = self._pid(guest)
            mapping = pagemap.ram_mapping(self.host.proc_root, pid,
                                          guest.maximum_kib * 1024)
        except (qemu.QemuNotFound, OSError) as exc:
            return f"QEMU's mappings not readable: {exc}"
        if mapping is None:
            return "no mapping of QEMU looks like the guest's RAM"
        return None

    def sample(self, guest) -> Observation:
        pid = self._pid(guest)
        proc = self.host.proc_root
        mapping = pagemap.ram_mapping(proc, pid, guest.maximum_kib * 1024)
        if mapping is None:
            raise qemu.QemuNotFound("guest RAM mapping is gone")
        plan = pagemap.plan_ranges(mapping, self.max_ranges,
                                   self.pages_per_range)
        entries = pagemap.read_entries(proc, pid, plan)
        present = (entries & pagemap.PRESENT) != 0
        pfns = (entries & pagemap.PFN_MASK).astype(np.int64)
        usable = present & (pfns > 0)
        frames = pfns[usable]
        words = np.unique(frames // 64)
        bits = np.left_shift(np.uint64(1), (frames % 64).astype(np.uint64))
        idle = np.zeros(pfns.shape, dtype=bool)
        fd = os.open(self.bitmap, os.O_RDWR)
        try:
            current = np.array(
                [int.from_bytes(os.pread(fd, 8, w * 8).ljust(8, b"\0"),
                                "little") for w in words.tolist()],
                dtype=np.uint64)
            at = np.searchsorted(words, frames // 64)
            idle[usable] = (current[at] & bits) != 0
            # mark every probed frame idle again for the next round
            marks = np.zeros(words.shape, dtype=np.uint64)
            np.bitwise_or.at(marks, at, bits)
            for w, value in zip(words.tolist(), marks.tolist(),
                                strict=True):
                os.pwrite(fd, int(value).to_bytes(8, "little"), w * 8)
        finally:
            os.close(fd)
        history = self.histories.setdefault(guest.uuid,
                                            pagemap.RegionHistory())
        now = self.clock()
        first = history.rate is None
        probed = np.maximum(usable.sum(axis=1), 1)
        accessed = ((usable & ~idle).sum(axis=1) / probed) if not first \
            else np.zeros(plan.n)   # nothing was marked before round one
        history.update(now, accessed)
        if first:
            return Observation(backend=self.name)
        return Observation(backend=self.name, covers_all=True,
                           regions=history.regions(plan, now))
