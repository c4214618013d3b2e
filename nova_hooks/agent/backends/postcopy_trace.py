"""``postcopy_trace``: which pages the guest asked for before they
arrived, from QEMU's own trace events on the destination.

With ``-trace postcopy_ram_fault_thread_request -trace
postcopy_place_page`` (added through ``<qemu:commandline>``), QEMU logs
every page the guest touched before it arrived (a miss) and every page
placed.  The backend reads the log incrementally (at most
``trace_read_max_kib`` per round, never the same bytes twice), counts
misses and placements, and bins the missed offsets into regions: the
pages the guest needed first are its hot set.  No libvirt call: it works
while post-copy runs.
"""
from __future__ import annotations

import os
import re
from typing import Optional

from nova_hooks.agent.backends import Backend
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Region

_REQUEST = re.compile(
    r"postcopy_ram_fault_thread_request .*?rb=(\S+) offset=0x([0-9a-f]+)")
_PLACE = re.compile(r"postcopy_place_page(?:_zero)? ")


def parse(text: str) -> tuple[int, int, dict[str, list[int]]]:
    """``(misses, placed, {ramblock: [missed offsets]})`` in ``text``."""
    misses = placed = 0
    offsets: dict[str, list[int]] = {}
    for line in text.splitlines():
        m = _REQUEST.search(line)
        if m:
            misses += 1
            offsets.setdefault(m.group(1), []).append(int(m.group(2), 16))
        elif _PLACE.search(line):
            placed += 1
    return misses, placed, offsets


def bin_counts(offsets: list[int], guest_bytes: int,
               n_regions: int) -> dict[int, int]:
    """Misses per equal slice of guest memory."""
    counts: dict[int, int] = {}
    if guest_bytes <= 0 or n_regions <= 0:
        return counts
    size = -(-guest_bytes // n_regions)
    for off in offsets:
        if 0 <= off < guest_bytes:
            counts[off // size] = counts.get(off // size, 0) + 1
    return counts


def regions(offsets: list[int], guest_bytes: int, n_regions: int,
            counts: dict[int, int] | None = None) -> tuple[Region, ...]:
    """The slices the guest missed pages in; a slice's access rate is
    its share of the misses relative to the busiest slice.  Slices with
    no miss are left out: the trace does not say they are cold (their
    pages may have come in pre-copy or by background streaming)."""
    if counts is None:
        counts = bin_counts(offsets, guest_bytes, n_regions)
    if not counts or guest_bytes <= 0 or n_regions <= 0:
        return ()
    size = -(-guest_bytes // n_regions)
    top = max(counts.values())
    return tuple(Region(start=i * size,
                        size=min(size, guest_bytes - i * size),
                        access_rate=counts[i] / top)
                 for i in sorted(counts) if i * size < guest_bytes)


class PostcopyTraceBackend(Backend):
    name = "postcopy_trace"
    during_postcopy = True

    def __init__(self, host, conf=None) -> None:
        super().__init__(host, conf)
        self.log_dir = "/var/log/libvirt/qemu"
        self.max_bytes = 8192 * 1024
        self.n_regions = 64
        if conf is not None:
            self.log_dir = conf.agent.qemu_log_dir
            self.max_bytes = conf.page_sampling.trace_read_max_kib * 1024
            self.n_regions = min(conf.page_sampling.max_regions, 1024)
        self.offsets: dict[str, int] = {}
        #: per guest, misses per slice and the fault / placement totals
        #: since the session began: the hot set is what the guest asked
        #: for first, so rounds add up rather than replace each other
        self.counts: dict[str, dict[int, int]] = {}
        self.totals: dict[str, list[int]] = {}

    def _path(self, guest) -> str:
        return os.path.join(self.log_dir, f"{guest.name}.log")

    def probe(self, guest) -> Optional[str]:
        try:
            with open(self._path(guest), "rb") as f:
                head = f.read(256 * 1024)
        except OSError as exc:
            return f"QEMU log not readable: {exc}"
        if b"postcopy_ram_fault_thread_request" not in head:
            return ("QEMU is not tracing post-copy faults for this guest "
                    "(add -trace postcopy_ram_fault_thread_request -trace "
                    "postcopy_place_page to its <qemu:commandline>)")
        return None

    def sample(self, guest) -> Observation:
        path = self._path(guest)
        start = self.offsets.get(guest.uuid, 0)
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(self.max_bytes)
        # only whole lines; the rest is read next round
        cut = data.rfind(b"\n") + 1
        self.offsets[guest.uuid] = start + cut
        misses, placed, offsets = parse(data[:cut].decode("utf-8",
                                                          "replace"))
        ram = max(offsets.values(), key=len) if offsets else []
        guest_bytes = guest.maximum_kib * 1024
        counts = self.counts.setdefault(guest.uuid, {})
        for i, n in bin_counts(ram, guest_bytes, self.n_regions).items():
            counts[i] = counts.get(i, 0) + n
        totals = self.totals.setdefault(guest.uuid, [0, 0])
        totals[0] += misses
        totals[1] += placed
        return Observation(backend=self.name, faults=totals[0],
                           placed=totals[1],
                           regions=regions([], guest_bytes, self.n_regions,
                                           counts))
