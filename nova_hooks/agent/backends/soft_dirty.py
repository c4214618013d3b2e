"""``soft_dirty``: which guest pages were written since the last round,
from the kernel's soft-dirty bits.

Each round reads bit 55 of the probed pages' ``/proc/<pid>/pagemap``
entries (written since the bits were cleared) and clears the bits of
QEMU's whole process (``echo 4 > /proc/<pid>/clear_refs``).  Clearing
write-protects QEMU's pages, so the next write to each costs a minor
fault: steady state only (never while post-copy's userfaultfd owns the
memory), and only on kernels with ``CONFIG_MEM_SOFT_DIRTY`` — the probe
checks that on a page of the agent's own.
"""
from __future__ import annotations

import mmap
import os
import time
from typing import Optional

import numpy as np

from nova_hooks.agent.backends import pagemap
from nova_hooks.core.types import Observation


def kernel_tracks_soft_dirty() -> Optional[str]:
    """``None`` when a write to a page of this process sets its
    soft-dirty bit after ``clear_refs``; else why not."""
    import ctypes

    buf = mmap.mmap(-1, pagemap.PAGE)
    try:
        buf[0:1] = b"a"
        addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("4")
            buf[0:1] = b"b"
            with open("/proc/self/pagemap", "rb") as f:
                f.seek(addr // pagemap.PAGE * 8)
                entry = int.from_bytes(f.read(8), "little")
        except OSError as exc:
            return f"soft-dirty bits not readable: {exc}"
        finally:
            del addr
        if not entry >> 55 & 1:
            return ("the kernel does not track soft-dirty pages "
                    "(CONFIG_MEM_SOFT_DIRTY off: a written page kept bit "
                    "55 clear)")
        return None
    finally:
        try:
            buf.close()
        except BufferError:
            pass


class SoftDirtyBackend(pagemap.PagemapBackend):
    name = "soft_dirty"
    during_postcopy = False

    def __init__(self, host, conf=None, clock=time.monotonic,
                 kernel_check=kernel_tracks_soft_dirty) -> None:
        super().__init__(host, conf, clock)
        self.kernel_check = kernel_check

    def probe(self, guest) -> Optional[str]:
        return self.kernel_check() or self._probe_mapping(guest)

    def sample(self, guest) -> Observation:
        pid, plan, entries = self._entries(guest)
        with open(os.path.join(self.host.proc_root, str(pid), "clear_refs"),
                  "w") as f:
            f.write("4")
        present = (entries & pagemap.PRESENT) != 0
        dirty = (entries & pagemap.SOFT_DIRTY) != 0
        probed = np.maximum(present.sum(axis=1), 1)
        written = (present & dirty).sum(axis=1) / probed
        # a write is an access; reads are not seen by this backend
        return self._observe(guest, plan, written, written,
                             covers_all=False)
