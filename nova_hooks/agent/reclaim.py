"""Cold-page reclaim and pre-paging on a destination QEMU: the thin
adapter around :mod:`nova_hooks.core.reclaim` and
:mod:`nova_hooks.core.prepage`.

Reads what the decisions need (the guest-RAM mapping in
``/proc/<pid>/maps``, the present and swapped bits of its pages in
``/proc/<pid>/pagemap``, which also give its resident size, ``MemFree`` in
``/proc/meminfo``) and carries the plans out with ``process_madvise``
(Linux >= 5.10 for ``MADV_COLD``/``MADV_PAGEOUT``/``MADV_WILLNEED``
on another process, through a pidfd): ``MADV_PAGEOUT`` needs swap or
zswap on the host for anonymous guest RAM (file-backed guest RAM,
Nova's ``[libvirt] file_backed_memory``, is written back to its file
instead; see the docs for which is supported).

Every round is journaled before the call (``intent``: the ranges, the
bounds in force) and after it (``done`` with the bytes the kernel took,
or ``failed``); :meth:`Reclaimer.undo` asks for every paged-out range
back (``MADV_WILLNEED``) and journals it, on a failed or cancelled
migration.
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import Callable
from typing import Optional
from typing import Sequence

import numpy as np

from nova_hooks.core import prepage
from nova_hooks.core import reclaim as core
from nova_hooks.core.types import PAGE_SIZE
from nova_hooks.exceptions import MadviseError
from nova_hooks.exceptions import QemuNotFound

SYS_PIDFD_OPEN = 434
SYS_PROCESS_MADVISE = 440
MADV_WILLNEED = 3
MADV_COLD = 20
MADV_PAGEOUT = 21
IOV_MAX = 1024
# pages per process_vm_readv of a parallel pre-paging read
TOUCH_BATCH = 4
PRESENT = 1 << 63
SWAPPED = 1 << 62

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.process_vm_readv.restype = ctypes.c_ssize_t


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def pidfd_open(pid: int) -> int:
    fd = _libc.syscall(SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_uint(0))
    if fd < 0:
        e = ctypes.get_errno()
        raise MadviseError(e, f"pidfd_open({pid}): {os.strerror(e)}")
    return int(fd)


def process_madvise(pidfd: int, base: int,
                    ranges: Sequence[core.Range], advice: int) -> int:
    """Advise ``ranges`` (offsets from ``base`` in the target's address
    space); bytes the kernel advised.  Split into IOV_MAX vectors."""
    done = 0
    for i in range(0, len(ranges), IOV_MAX):
        chunk = ranges[i:i + IOV_MAX]
        vec = (_Iovec * len(chunk))(*[_Iovec(base + s, n) for s, n in chunk])
        r = _libc.syscall(SYS_PROCESS_MADVISE, ctypes.c_int(pidfd), vec,
                          ctypes.c_size_t(len(chunk)), ctypes.c_int(advice),
                          ctypes.c_uint(0))
        if r < 0:
            e = ctypes.get_errno()
            raise MadviseError(e, f"process_madvise({advice}): "
                               f"{os.strerror(e)}")
        done += int(r)
    return done


@dataclasses.dataclass(frozen=True)
class RamMapping:
    """QEMU's guest-RAM mapping: start address and size."""

    start: int
    size: int


def guest_ram(pid: int, guest_bytes: int) -> RamMapping:
    """The private writable mapping whose size is closest to the guest's
    memory (QEMU's ``pc.ram``; it may be rounded up for alignment)."""
    best: Optional[RamMapping] = None
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if not parts[1].startswith("rw") or hi - lo < guest_bytes // 2:
                continue
            m = RamMapping(lo, hi - lo)
            if best is None or abs(m.size - guest_bytes) < \
                    abs(best.size - guest_bytes):
                best = m
    if best is None:
        raise QemuNotFound(f"no guest-RAM mapping of ~{guest_bytes >> 20} "
                          f"MiB in QEMU {pid}")
    return best


def page_flags(pid: int, ram: RamMapping, offset: int = 0,
               length: Optional[int] = None) -> "np.ndarray":
    """The pagemap entry of every page of ``[offset, offset+length)`` of
    the mapping (bit 63 present, bit 62 swapped), as ``uint64``."""
    length = ram.size - offset if length is None else length
    first = (ram.start + offset) // PAGE_SIZE
    n = length // PAGE_SIZE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(first * 8)
        raw = f.read(n * 8)
    return np.frombuffer(raw, dtype=np.uint64)


def present_ranges(flags: "np.ndarray", offset: int = 0
                   ) -> tuple[core.Range, ...]:
    """Runs of present pages (pagemap bit 63), as byte ranges from
    ``offset``."""
    present = (np.asarray(flags, dtype=np.uint64) >> np.uint64(63)
               ).astype(np.int8)
    return core.runs(present, PAGE_SIZE, offset)


def free_pct(meminfo: str = "/proc/meminfo") -> float:
    vals = {}
    with open(meminfo) as f:
        for line in f:
            k, v = line.split(":", 1)
            vals[k] = int(v.split()[0])
    return 100.0 * vals["MemFree"] / vals["MemTotal"]


def reading(pid: int, ram: RamMapping, guest_bytes: int,
            now: float) -> core.RamReading:
    """What a reclaim round reads of a QEMU's guest RAM: its present runs
    (their total is the mapping's resident size, its Rss) and the host's
    free memory."""
    return core.RamReading(
        guest_bytes=min(guest_bytes, ram.size),
        present=present_ranges(page_flags(pid, ram)),
        free_pct=free_pct(), now=now)


def advise(pid: int, ram: RamMapping, ranges: Sequence[core.Range],
           advice: int) -> int:
    """``process_madvise`` of ``ranges`` (offsets into guest RAM) in QEMU
    ``pid``; bytes the kernel advised."""
    pidfd = pidfd_open(pid)
    try:
        return process_madvise(pidfd, ram.start, tuple(ranges), advice)
    finally:
        os.close(pidfd)


class ReclaimJournal:
    """JSON lines, each fsync'ed: what was paged out, with the bounds in
    force, before and after the call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"ts": time.time(), "kind": kind, **fields},
                          sort_keys=True) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)


class Reclaimer:
    """One destination QEMU: each :meth:`round` plans with the core and
    pages the plan out; :meth:`undo` brings every paged range back."""

    def __init__(self, pid: int, guest_bytes: int,
                 policy: core.ReclaimPolicy, journal: ReclaimJournal,
                 advice: int = MADV_PAGEOUT, vm: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.guest_bytes, self.policy = pid, guest_bytes, policy
        self.journal, self.advice, self.vm, self.clock = \
            journal, advice, vm, clock
        self.ram = guest_ram(pid, guest_bytes)
        self.pidfd = pidfd_open(pid)
        self.state = core.ReclaimState()
        self.paged_total = 0
        self.rounds = 0

    def view(self, hot: Sequence[core.Range], warm: Sequence[core.Range],
             cold: Optional[Sequence[core.Range]]) -> core.ReclaimView:
        v = core.view_of(reading(self.pid, self.ram, self.guest_bytes,
                                 self.clock()), hot, warm)
        return v if cold is None else dataclasses.replace(v,
                                                          cold=tuple(cold))

    def round(self, hot: Sequence[core.Range], warm: Sequence[core.Range],
              cold: Optional[Sequence[core.Range]] = None,
              hot_bytes: Optional[int] = None,
              warm_bytes: Optional[int] = None) -> core.ReclaimPlan:
        v = self.view(hot, warm, cold)
        p = core.plan(v, self.state, self.policy, hot_bytes, warm_bytes)
        self.rounds += 1
        if not p.ranges:
            self.state = p.state
            return p
        # the agent's page_out records carry the same value
        self.journal.write("intent", vm=self.vm, action="reclaim",
                           advice=self.advice, reason=p.reason,
                           **core.round_record(p, v, self.policy))
        try:
            n = process_madvise(self.pidfd, self.ram.start, p.ranges,
                                self.advice)
        except MadviseError as e:
            self.journal.write("failed", vm=self.vm, action="reclaim",
                               error=str(e))
            raise
        self.journal.write("done", vm=self.vm, action="reclaim", bytes=n)
        self.state = p.state
        self.paged_total += p.bytes
        return p

    def undo(self, why: str) -> int:
        """Ask for every paged-out range back (``MADV_WILLNEED``)."""
        ranges = core.undo(self.state)
        if not ranges:
            return 0
        self.journal.write("intent", vm=self.vm, action="reclaim_undo",
                           ranges=list(ranges), bytes=core.total(ranges),
                           reason=why)
        try:
            n = process_madvise(self.pidfd, self.ram.start, ranges,
                                MADV_WILLNEED)
        except MadviseError as e:
            # the process is gone (destination killed): nothing of it
            # survives on the host, its swap slots are freed with it
            self.journal.write("failed", vm=self.vm, action="reclaim_undo",
                               error=str(e))
            return 0
        self.journal.write("done", vm=self.vm, action="reclaim_undo",
                           bytes=n)
        self.state = core.ReclaimState()
        return n

    def close(self) -> None:
        os.close(self.pidfd)


def _read_pages(pid: int, pages: Sequence[int]) -> int:
    """One byte of each page address in ``pages`` (one vector, one
    syscall; the kernel faults them in turn); pages read."""
    buf = ctypes.create_string_buffer(len(pages))
    local = (_Iovec * 1)(_Iovec(ctypes.addressof(buf), len(pages)))
    remote = (_Iovec * len(pages))(*[_Iovec(a, 1) for a in pages])
    r = _libc.process_vm_readv(ctypes.c_int(pid), local, ctypes.c_ulong(1),
                               remote, ctypes.c_ulong(len(pages)),
                               ctypes.c_ulong(0))
    if r < 0:
        e = ctypes.get_errno()
        raise MadviseError(e, f"process_vm_readv: {os.strerror(e)}")
    return int(r)


def touch_pages(pid: int, ram: RamMapping, ranges: Sequence[core.Range],
                stop: Optional[threading.Event] = None,
                pool: Optional[ThreadPoolExecutor] = None,
                batch: Optional[int] = None) -> int:
    """Read one byte of every page of ``ranges`` with
    ``process_vm_readv``: a page not yet on the destination faults into
    QEMU's userfaultfd, whose fault thread requests it from the source
    like a guest access (the read waits until the page is placed).
    ``/proc/<pid>/mem`` does not serve: its reads cannot wait for a
    userfault and fail with EIO.

    One reader has one request in flight: each missing page costs a
    round trip to the source, behind the background stream already in
    the socket.  With ``pool``, ``batch``-page vectors (default
    :data:`TOUCH_BATCH`) are read by the pool's threads at once, in
    ranking order, so that as many requests as the pool has threads are
    queued at the source (which serves queued pages before its
    background scan); without, one reader goes through vectors of
    :data:`IOV_MAX` pages.  Pages read."""
    if batch is None:
        batch = IOV_MAX if pool is None else TOUCH_BATCH
    pages = [ram.start + off for s, length in ranges
             for off in range(s, s + length, PAGE_SIZE)]
    chunks = [pages[i:i + batch] for i in range(0, len(pages), batch)]

    def read(chunk: list[int]) -> int:
        if stop is not None and stop.is_set():
            return 0
        return _read_pages(pid, chunk)

    if pool is None:
        n = 0
        for chunk in chunks:
            got = read(chunk)
            n += got
            if got < len(chunk):
                break
        return n
    return sum(pool.map(read, chunks))


class Prepager:
    """One destination QEMU as post-copy starts: each :meth:`round`
    plans with :func:`nova_hooks.core.prepage.plan` and reads the pages
    (journaled before and after, like reclaim)."""

    def __init__(self, pid: int, guest_bytes: int,
                 policy: "prepage.PrepagePolicy", journal: ReclaimJournal,
                 vm: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.policy, self.journal, self.vm, self.clock = \
            pid, policy, journal, vm, clock
        self.ram = guest_ram(pid, guest_bytes)
        self.state = prepage.PrepageState()
        self.touched = 0
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(
            max_workers=policy.in_flight,
            thread_name_prefix="prepage") if policy.in_flight > 1 else None

    def round(self, ranking: Sequence[core.Range],
              faults: Sequence[int]) -> "prepage.PrepagePlan":
        present = present_ranges(page_flags(self.pid, self.ram))
        was = self.state.stopped
        p = prepage.plan(ranking, present, faults, self.clock(), self.state,
                         self.policy)
        self.state = p.state
        if p.state.stopped and not was:
            self.journal.write("stop", vm=self.vm, action="prepage",
                               reason=p.state.stopped,
                               requested_bytes=p.state.requested_bytes)
        if not p.ranges:
            return p
        self.journal.write("intent", vm=self.vm, action="prepage",
                           ranges=list(p.ranges), bytes=p.bytes,
                           pages_per_s=self.policy.pages_per_s)
        try:
            n = touch_pages(self.pid, self.ram, p.ranges, self.stop,
                            self.pool)
        except OSError as e:
            self.journal.write("failed", vm=self.vm, action="prepage",
                               error=str(e))
            raise
        self.touched += n
        self.journal.write("done", vm=self.vm, action="prepage",
                           pages=n)
        return p

    def close(self) -> None:
        """Stop reading; the pool's threads end once their reads are
        answered (or QEMU is gone)."""
        self.stop.set()
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
