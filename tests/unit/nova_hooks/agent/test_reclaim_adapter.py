"""The reclaim adapter's reading of a process (nova_hooks.agent.reclaim):
present runs and resident size from pagemap, on any flags and on a real
process's mapping, and a round carried out with ``MADV_COLD`` (which
needs no swap), journaled before and after."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.agent import reclaim as adapter
from nova_hooks.core import reclaim as core
from nova_hooks.core.types import PAGE_SIZE

PRESENT = adapter.PRESENT
SWAPPED = adapter.SWAPPED


def _runs(bits: list[bool], offset: int) -> tuple[core.Range, ...]:
    """The plain meaning: one range per page, merged."""
    return core.merge((offset + i * PAGE_SIZE, PAGE_SIZE)
                      for i, b in enumerate(bits) if b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0, PRESENT, SWAPPED, PRESENT | 5, 7]),
                max_size=300), st.integers(0, 64).map(lambda p: p * PAGE_SIZE))
def test_present_runs_and_resident_size_follow_bit_63(entries, offset):
    flags = np.array(entries, dtype=np.uint64)
    bits = [bool(e & PRESENT) for e in entries]
    assert adapter.present_ranges(flags, offset) == _runs(bits, offset)
    assert core.total(adapter.present_ranges(flags)) == \
        sum(bits) * PAGE_SIZE


# a process holding a 24 MiB mapping of which every other MiB is
# resident; prints its pid's mapping start once ready
_CHILD = r"""
import ctypes, mmap, sys
size = 24 << 20
ram = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for mib in range(0, 24, 2):
    for page in range(256):
        ram[(mib << 20) + page * 4096] = 1
addr = ctypes.addressof(ctypes.c_char.from_buffer(ram))
print(addr, flush=True)
sys.stdin.read()
"""


def test_a_round_on_a_real_process_pages_out_cold_present_pages_only(
        tmp_path):
    child = subprocess.Popen([sys.executable, "-c", _CHILD],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        start = int(child.stdout.readline())
        guest = 24 << 20
        journal = tmp_path / "reclaim.jsonl"
        policy = core.ReclaimPolicy(quota_bytes_per_s=4 << 20,
                                    headroom_bytes=0)
        r = adapter.Reclaimer(child.pid, guest, policy,
                              adapter.ReclaimJournal(str(journal)),
                              advice=adapter.MADV_COLD, vm="t")
        assert r.ram.start == start and r.ram.size == guest
        flags = adapter.page_flags(child.pid, r.ram)
        # every other MiB resident, as the child made it
        assert core.total(adapter.present_ranges(flags)) == 12 << 20
        assert adapter.present_ranges(flags) == tuple(
            (mib << 20, 1 << 20) for mib in range(0, 24, 2))
        hot = ((0, 1 << 20),)        # the first resident MiB
        p = r.round(hot, (), None)
        # the quota's 4 MiB, of resident pages, none of the hot MiB
        assert p.bytes == 4 << 20
        assert not core.intersect(p.ranges, hot)
        assert core.subtract(p.ranges, adapter.present_ranges(flags)) == ()
        lines = [json.loads(x) for x in journal.read_text().splitlines()]
        assert [x["kind"] for x in lines] == ["intent", "done"]
        assert lines[0]["bytes"] == 4 << 20
        assert lines[0]["bounds"]["resident_bytes"] == 12 << 20
        r.close()
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)


def test_parallel_touch_reads_every_page_and_a_stop_reads_none():
    child = subprocess.Popen([sys.executable, "-c", _CHILD],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    pool = adapter.ThreadPoolExecutor(max_workers=8)
    try:
        assert child.stdout is not None
        start = int(child.stdout.readline())
        ram = adapter.RamMapping(start, 24 << 20)
        odd = tuple((mib << 20, 1 << 20) for mib in range(1, 24, 2))
        stop = adapter.threading.Event()
        stop.set()
        assert adapter.touch_pages(child.pid, ram, odd, stop, pool) == 0
        flags = adapter.page_flags(child.pid, ram)
        assert core.total(adapter.present_ranges(flags)) == 12 << 20
        # one reader: the first absent MiB, in one vector
        assert adapter.touch_pages(child.pid, ram, odd[:1]) == 256
        # the odd MiBs, 3,072 pages, read by eight threads at once
        assert adapter.touch_pages(child.pid, ram, odd, None, pool,
                                   batch=5) == 12 << 20 >> 12
        flags = adapter.page_flags(child.pid, ram)
        assert adapter.present_ranges(flags) == ((0, 24 << 20),)
    finally:
        pool.shutdown()
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)
