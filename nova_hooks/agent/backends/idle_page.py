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
from typing import Optional

import numpy as np

from nova_hooks.agent.backends import pagemap
from nova_hooks.core.types import Observation


class IdlePageBackend(pagemap.PagemapBackend):
    name = "idle_page"
    during_postcopy = True

    @property
    def bitmap(self) -> str:
        return os.path.join(self.host.sys_root, "kernel", "mm", "page_idle",
                            "bitmap")

    def probe(self, guest) -> Optional[str]:
        if not os.path.exists(self.bitmap):
            return (f"no {self.bitmap}: the kernel is built without "
                    "CONFIG_IDLE_PAGE_TRACKING")
        if not os.access(self.bitmap, os.R_OK | os.W_OK):
            return f"{self.bitmap} is not readable and writable (root?)"
        return self._probe_mapping(guest)

    def sample(self, guest) -> Observation:
        _pid, plan, entries = self._entries(guest)
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
        probed = np.maximum(usable.sum(axis=1), 1)
        accessed = (usable & ~idle).sum(axis=1) / probed
        return self._observe(guest, plan, accessed, None, covers_all=True)
