"""Sampling backends on real procfs and on QEMU trace output."""
from __future__ import annotations

import os

import pytest

from nova_hooks.agent import host as host_mod
from nova_hooks.agent.backends import load
from nova_hooks.agent.backends import postcopy_trace as pt
from nova_hooks.agent.backends.placement import NumaMapsBackend
from nova_hooks.agent.host import Guest
from nova_hooks.core import classify
from nova_hooks.core.types import Thresholds

GUEST = Guest("0e3c2c5e-8a55-4d0c-9d7b-3b7c1c1f0a01", "guest", 1,
              262144, 262144)
# the log backend's format of QEMU 7.2's trace events
_REQ = ("1234@1700000000.00000{n}:postcopy_ram_fault_thread_request "
        "Request for HVA=0x7f00{off:06x} rb=pc.ram offset=0x{off:x} pid=99\n")
TRACE = (_REQ.format(n=1, off=0x1000)
         + "1234@1700000000.000002:postcopy_place_page host=0x7f00001000\n"
         + _REQ.format(n=3, off=0x2000)
         + "1234@1700000000.000004:postcopy_place_page_zero host=0x7f0\n"
         + _REQ.format(n=5, off=0xF000000))


class ThisProcess:
    """This test process stands in for QEMU (its numa_maps is real)."""

    def node_bytes(self, guest):
        return host_mod.numa_bytes("/proc", os.getpid())


def test_trace_lines_count_misses_and_placements():
    misses, placed, offsets = pt.parse(TRACE + "unrelated line\n")
    assert (misses, placed) == (3, 2)
    assert offsets == {"pc.ram": [0x1000, 0x2000, 0xF000000]}


def test_missed_offsets_become_regions_the_classifier_reads():
    regs = pt.regions([0x1000, 0x2000, 0xF000000], 256 << 20, 16)
    # only the slices the guest missed pages in: the others are unknown
    assert [(r.start >> 24, r.access_rate) for r in regs] == [(0, 1.0),
                                                             (15, 0.5)]
    trace = pt.Observation(backend="postcopy_trace", regions=regs)
    figures = classify.combine([trace], Thresholds(), 256 << 20)
    # both slices have at least half the busiest one's misses: hot; the
    # rest was not seen, so it is kept (warm)
    assert figures.hot_bytes == 2 * (256 << 20) // 16
    assert figures.warm_bytes == 14 * (256 << 20) // 16
    assert figures.cold_bytes == 0
    # with the forecast (64 MiB working set) covering the whole guest,
    # what the trace did not see is split by the forecast's cold share
    from nova_hooks.agent.sampler import hint_observation
    from nova_hooks.core.hint import MigrationHint

    hint = hint_observation(MigrationHint("x", expected_hot_kib=64 << 10),
                            256 << 20)
    figures = classify.combine([trace, hint], Thresholds(), 256 << 20)
    assert figures.hot_bytes == 32 << 20
    assert figures.cold_bytes == 192 << 20
    assert figures.warm_bytes == 32 << 20


def test_the_log_is_read_incrementally_and_by_whole_lines(tmp_path):
    log = tmp_path / "guest.log"
    lines = TRACE.splitlines(keepends=True)
    log.write_text("".join(lines[:3]) + lines[3][:20])    # cut mid-line
    backend = pt.PostcopyTraceBackend(None)
    backend.log_dir = str(tmp_path)
    assert backend.probe(GUEST) is None
    first = backend.sample(GUEST)
    assert (first.faults, first.placed) == (2, 1)
    with open(log, "a") as f:
        f.write(lines[3][20:] + lines[4])
    second = backend.sample(GUEST)
    # the session's totals: the hot set is what the guest asked for first
    assert (second.faults, second.placed) == (3, 2)
    assert backend.sample(GUEST).faults == 3     # nothing new, same view


def test_probe_says_why_when_qemu_does_not_trace(tmp_path):
    (tmp_path / "guest.log").write_text("qemu started\n")
    backend = pt.PostcopyTraceBackend(None)
    backend.log_dir = str(tmp_path)
    assert "not tracing" in backend.probe(GUEST)
    backend.log_dir = str(tmp_path / "missing")
    assert "not readable" in backend.probe(GUEST)


def test_numa_maps_of_a_real_process():
    backend = NumaMapsBackend(ThisProcess())
    if backend.probe(GUEST) is not None:
        pytest.skip(backend.probe(GUEST))
    obs = backend.sample(GUEST)
    assert obs.node_bytes and all(b > 0 for _, b in obs.node_bytes)


def test_backends_load_by_name_and_missing_ones_say_so():
    loaded, missing = load(["numa_maps", "postcopy_trace", "nope"], None)
    assert [b.name for b in loaded] == ["numa_maps", "postcopy_trace"]
    assert missing == {"nope": "not installed"}
