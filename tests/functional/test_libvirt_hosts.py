"""A real libvirt post-copy live migration between the two local libvirt
"hosts" of ``tools/services/30-libvirt-hosts.sh`` (tiny TCG guest)."""
from __future__ import annotations

import uuid

import pytest

from tests.functional import libvirt_hosts as lh

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@pytest.fixture(scope="module")
def hosts(libvirt_hosts_env):
    return libvirt_hosts_env


@pytest.fixture
def guest(hosts):
    name = f"wa-test-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        lh.remove_guest(hosts, name)


@pytest.mark.timeout(600)
def test_postcopy_live_migration_keeps_the_guest_running(hosts, guest):
    import libvirt

    lh.start_guest(hosts, guest, "A")
    assert lh.active_domains(hosts, "A") == [guest]
    # a couple of heartbeats on A first: the workload is running
    before = lh.wait_heartbeats(hosts, "A", guest, count=2)

    tl = lh.postcopy_migrate(hosts, guest, "A", "B", bandwidth_mib=8,
                             postcopy_bandwidth_mib=16, switch_after_s=3)

    assert tl["ok"], tl
    assert tl["postcopy_requested"] is not None, tl
    seen = {(e["host"], e["event"], e["detail"]) for e in tl["events"]}
    # the guest ran on B while its memory was still being pulled from A
    assert ("B", "RESUMED", "POSTCOPY") in seen, tl["events"]
    assert ("B", "RESUMED", "MIGRATED") in seen, tl["events"]
    assert ("A", "STOPPED", "MIGRATED") in seen, tl["events"]
    assert tl["postcopy_requested"] <= tl["postcopy_on_dst"] \
        <= tl["resumed_on_dst"], tl

    # running on B, gone from A (undefined there: UNDEFINE_SOURCE)
    assert lh.domain_state(hosts, "B", guest)[0] == \
        libvirt.VIR_DOMAIN_RUNNING
    assert lh.active_domains(hosts, "B") == [guest]
    assert lh.active_domains(hosts, "A") == []
    assert lh.domain_state(hosts, "A", guest) is None

    # the same guest carries on: B's serial log continues A's counter
    last_on_a = max(lh.heartbeats(hosts, "A", guest))
    assert last_on_a >= before[-1]
    beats_b = lh.wait_heartbeats(hosts, "B", guest, above=last_on_a,
                                 count=2, timeout_s=120)
    assert beats_b == sorted(beats_b)
    assert all(b > last_on_a for b in beats_b), (last_on_a, beats_b)
