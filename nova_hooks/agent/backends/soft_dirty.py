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

from nova_hooks.agent import qemu
from nova_hooks.agent.backends import Backend
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


class SoftDirtyBackend(Backend):
    name = "soft_dirty"
    during_postcopy = False

    def __init__(self, host, conf=None, clock=time.monotonic,
                 kernel_check=kernel_tracks_soft_dirty) -> None:
        super().__init__(host, conf)
        self.clock = clock
        self.kernel_check = kernel_check
        self.max_ranges, self.pages_per_range = 1000, 64
        if conf is not None:
            self.max_ranges = conf.page_sampling.max_regions
            self.pages_per_range = conf.page_sampling.pages_per_region
        self.histories: dict[str, pagemap.RegionHistory] = {}

    def _pid(self, guest) -> int:
        return qemu.qemu_pid(self.host.run_dir, guest.name)

    def probe(self, guest) -> Optional[str]:
        reason = self.kernel_check()
        if reason is not None:
            return reason
        try:
            pid = self._pid(guest)
            if pagemap.ram_mapping(self.host.proc_root, pid,
                                   guest.maximum_kib * 1024) is None:
                return "no mapping of QEMU looks like the guest's RAM"
        except (qemu.QemuNotFound, OSError) as exc:
            return f"QEMU's mappings not readable: {exc}"
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
        with open(os.path.join(proc, str(pid), "clear_refs"), "w") as f:
            f.write("4")
        present = (entries & pagemap.PRESENT) != 0
        dirty = (entries & pagemap.SOFT_DIRTY) != 0
        probed = np.maximum(present.sum(axis=1), 1)
        history = self.histories.setdefault(guest.uuid,
                                            pagemap.RegionHistory())
        now = self.clock()
        first = history.rate is None
        written = (present & dirty).sum(axis=1) / probed
        # a write is an access; reads are not seen by this backend
        history.update(now, written if not first else np.zeros(plan.n),
                       written if not first else np.zeros(plan.n))
        if first:
            return Observation(backend=self.name)
        return Observation(backend=self.name, covers_all=False,
                           regions=history.regions(plan, now))
