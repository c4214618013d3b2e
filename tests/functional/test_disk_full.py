"""A full disk for real (a small tmpfs, filled to the last byte) under
the destination agent's journal and the profile collector's spool: the
agent refuses every change it cannot journal and leaves the guest as it
was; the collector keeps reading, counts what it could not spool, and
spools again once there is room."""
from __future__ import annotations

import contextlib
import os
import subprocess
import uuid

import pytest

from nova_hooks.agent import qemu
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.manager import Manager
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import PinningPolicy
from tests.unit.nova_hooks.agent.test_manager import ThisProcessHost

pytestmark = [pytest.mark.functional]
CPUS = sorted(os.sched_getaffinity(0))


@contextlib.contextmanager
def small_disk(path, size_kib: int):
    """A tmpfs of ``size_kib`` mounted at ``path``."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o",
                           f"size={size_kib}k", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path) -> None:
    """Take every free byte of the filesystem under ``path``."""
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue        # ENOSPC: smaller pieces for the rest
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0


def affinity(host):
    vcpus, _ = host.threads(None)
    return [qemu.get_affinity(vcpus[i]) for i in sorted(vcpus)]


@pytest.mark.hardening("disk-full-journal")
def test_the_agent_changes_nothing_it_cannot_journal(
        tmp_path, guest_process, hardening):
    if len(CPUS) < 2:
        pytest.skip("needs 2 CPUs to show an affinity change")
    host = ThisProcessHost(str(tmp_path))
    with small_disk(tmp_path / "disk", 64) as disk:
        manager = Manager(host, Journal(str(disk / "journal.jsonl")),
                          AgentPolicy(
                              pinning=PinningPolicy(
                                  guest_cpus=frozenset(CPUS[-1:])),
                              balloon=BalloonPolicy(
                                  require_guest_need=False)))
        fill(disk)
        first = str(uuid.uuid4())
        manager.signal(first, Signal.INCOMING)
        manager.signal(first, Signal.POSTCOPY)
        assert affinity(host) == [CPUS, CPUS]     # nothing was changed
        assert first not in manager.sessions
        assert host.libvirt_calls == []
        # room again: the next incoming guest is shaped as usual
        (disk / "filler").unlink()
        second = str(uuid.uuid4())
        manager.signal(second, Signal.INCOMING)
        manager.signal(second, Signal.POSTCOPY)
        assert affinity(host) == [CPUS[-1:], CPUS[-1:]]
        manager.signal(second, Signal.FAILED)
        assert affinity(host) == [CPUS, CPUS]
    hardening.record(
        happened="a 64 KiB tmpfs under the journal filled to the last "
        "byte: an incoming guest reached post-copy and the agent changed "
        "nothing (no affinity, no libvirt call, no session) and logged "
        "why; with room again the next guest was pinned, and restored "
        "when its migration failed",
        lost="nothing of the guest; the shaping of that one migration")


@pytest.mark.hardening("disk-full-spool")
def test_the_collector_counts_what_a_full_spool_refused(tmp_path,
                                                        hardening):
    from tests.unit.profiler import records
    from watcher_adaptive.profiler import collector as C
    from watcher_adaptive.profiler import gate as G
    from watcher_adaptive.profiler.spool import Spool

    clock = [records.NOW]
    with small_disk(tmp_path / "disk", 256) as disk:
        spool = Spool(str(disk / "spool.db"), 100_000)
        coll = C.Collector(spool, G.GatePolicy(records_per_minute=6000,
                                               burst=1000),
                           clock=lambda: clock[0])
        assert coll.offer("guest-1", [records.line(1)]) == 1
        fill(disk)
        refused = 0
        for seq in range(2, 400):
            clock[0] += 1
            coll.offer("guest-1", [records.line(seq, ts=clock[0])])
        refused = coll.spool_refused
        assert refused > 0
        doc = C.status(coll, None)
        assert doc["lost_spool_refused"] == refused
        assert not C.write_status(str(disk / "status.json"), doc)
        # room again: records spool again, nothing else was lost
        (disk / "filler").unlink()
        clock[0] += 1
        depth = spool.depth()
        assert coll.offer("guest-1", [records.line(1000, ts=clock[0])]) == 1
        assert spool.depth() == depth + 1
        assert coll.spool_refused == refused
        assert spool.lost == 0
        spool.close()
    hardening.record(
        happened=f"a 256 KiB tmpfs under the spool filled to the last "
        f"byte: the collector kept admitting, counted {refused} record(s) "
        f"the spool refused (lost_spool_refused), its status file could "
        f"not be written and said so in the log; with room again it "
        f"spooled again", lost=f"the {refused} refused records, counted")
