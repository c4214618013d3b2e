"""The libvirt adapter and the manager against libvirt's own
``test:///default`` driver (real libvirt API, an in-process fake
hypervisor; it has no migration, so lifecycle signals are given)."""
from __future__ import annotations

import pytest

from nova_hooks.agent.host import LibvirtHost
from nova_hooks.agent.journal import Journal
from nova_hooks.agent.manager import Manager
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import BalloonPolicy

libvirt = pytest.importorskip(
    "libvirt", reason="libvirt-python (the host-agent extra) not installed")
MIB = 1024
#: the namespace of Nova's instance metadata (Nova's libvirt driver)
NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"


@pytest.fixture
def conn():
    c = libvirt.open("test:///default")
    yield c
    c.close()


@pytest.fixture
def dom(conn):
    """The test driver's domain, as Nova defines its instances: with
    Nova's instance metadata (taken off again: ``test:///default`` is
    one state for the whole process)."""
    d = conn.lookupByName("test")
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                  "<instance><name>test</name></instance>", "nova",
                  NOVA_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    yield d
    d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None,
                  NOVA_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def test_a_nova_instance_is_told_by_its_metadata(conn, dom, tmp_path):
    host = LibvirtHost(conn, str(tmp_path))
    guest = host.guest(dom.UUIDString())
    assert host.nova_instance(guest)
    dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None,
                    NOVA_NS, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert not host.nova_instance(guest)
    # and a guest that is not Nova's is left alone
    manager = Manager(host, Journal(str(tmp_path / "journal.jsonl")),
                      AgentPolicy(pinning_enabled=False, stats_period_s=2))
    manager.signal(guest.uuid, Signal.INCOMING)
    manager.signal(guest.uuid, Signal.COMPLETED)
    assert manager.journal.load() == []
    assert host.stats_period(guest) == 0


def test_guest_figures_come_from_nowait_stats(conn, dom, tmp_path):
    host = LibvirtHost(conn, str(tmp_path))
    guest = host.guest(dom.UUIDString())
    assert guest.name == "test"
    assert guest.maximum_kib == dom.maxMemory()
    assert guest.current_kib == dom.info()[2]


def test_the_balloon_goes_through_libvirt(conn, dom, tmp_path):
    # (pinning is tested on real QEMU in tests/functional: the test
    # driver refuses VIR_DOMAIN_AFFECT_LIVE on pinVcpuFlags)
    host = LibvirtHost(conn, str(tmp_path))
    guest = host.guest(dom.UUIDString())
    host.set_balloon(guest, guest.maximum_kib // 2)
    assert dom.info()[2] == guest.maximum_kib // 2


def test_manager_balloons_at_completion_and_lets_a_stopped_guest_go(
        conn, dom, tmp_path):
    host = LibvirtHost(conn, str(tmp_path))
    uuid = dom.UUIDString()
    maximum = dom.maxMemory()
    original = dom.info()[2]
    manager = Manager(host, Journal(str(tmp_path / "journal.jsonl")),
                      AgentPolicy(balloon=BalloonPolicy(
                          floor_kib=64 * MIB, headroom_kib=0,
                          headroom_ratio=0.0, max_step_kib=maximum,
                          require_guest_need=False),
                          pinning_enabled=False))
    manager.prepare(MigrationHint(uuid, expected_hot_kib=maximum // 8))
    manager.signal(uuid, Signal.INCOMING)
    manager.signal(uuid, Signal.COMPLETED)
    shaped = max(maximum // 8, 64 * MIB)
    assert dom.info()[2] == shaped < original
    # after completion a failure message is stale: nothing changes
    manager.signal(uuid, Signal.FAILED)
    assert dom.info()[2] == shaped and uuid in manager.sessions
    # the guest stopped (Nova deleted it): the session ends, and no
    # restore is tried on what is gone
    manager.signal(uuid, Signal.STOPPED)
    assert dom.info()[2] == shaped and uuid not in manager.sessions
    assert manager.journal.load()[-1].detail == \
        "guest stopped after completion"


def test_stats_period_is_raised_while_managed_and_put_back(
        conn, dom, tmp_path):
    host = LibvirtHost(conn, str(tmp_path))
    uuid = dom.UUIDString()
    guest = host.guest(uuid)
    before = host.stats_period(guest)
    manager = Manager(host, Journal(str(tmp_path / "journal.jsonl")),
                      AgentPolicy(pinning_enabled=False, stats_period_s=2))
    manager.signal(uuid, Signal.INCOMING)
    manager.signal(uuid, Signal.COMPLETED)
    assert host.stats_period(guest) == 2
    manager.release(uuid)
    assert host.stats_period(guest) == before
    kinds = [(r.kind.value, r.action.value if r.action else None)
             for r in manager.journal.load()]
    assert kinds.count(("done", "stats_period")) == 2


def test_a_reclaim_round_reads_the_guest_ram_mapping_once_per_qemu(
        conn, tmp_path, monkeypatch):
    import subprocess
    import sys

    from nova_hooks.agent import reclaim
    from nova_hooks.core.types import Guest
    from tests.unit.nova_hooks.agent.test_reclaim_adapter import _CHILD

    host = LibvirtHost(conn, str(tmp_path))
    reads = []
    real = reclaim.guest_ram

    def counted(pid, size):
        reads.append(pid)
        return real(pid, size)

    monkeypatch.setattr(reclaim, "guest_ram", counted)
    guest = Guest("u-1", "g1", 1, 24 * MIB, 24 * MIB)
    children = []
    try:
        for _ in range(2):              # a QEMU, then the next one
            child = subprocess.Popen([sys.executable, "-c", _CHILD],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
            children.append(child)
            assert child.stdout is not None
            assert int(child.stdout.readline()) > 0   # its mapping, ready
            (tmp_path / "g1.pid").write_text(f"{child.pid}\n")
            reading = host.ram(guest)
            # every other MiB resident, as the child made it
            assert sum(n for _, n in reading.present) == 12 << 20
            # MADV_COLD of what is present: the kernel takes it all
            assert host._advise(guest, reading.present,
                                reclaim.MADV_COLD) == 12 << 20
            assert host.ram(guest).guest_bytes == 24 << 20
        assert reads == [c.pid for c in children]
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(10)
