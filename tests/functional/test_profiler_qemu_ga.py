"""The collector's default channel for real: the guest keeps its records
in a file, qemu-ga (inside the tiny TCG guest, on the virtio-serial
channel libvirt creates) serves it, the collector reads it through
libvirt's qemuAgentCommand and the profiles land in the real Gnocchi."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.functional import libvirt_hosts as lh
from tests.functional.collector_process import Collector
from tests.functional.collector_process import landed
from tests.functional.collector_process import make_instances

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@pytest.fixture
def guest(libvirt_hosts_env):
    name = f"wa-qga-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        lh.remove_guest(libvirt_hosts_env, name)


def _agent_answers(hosts, name, timeout_s=120.0) -> bool:
    import libvirt
    import libvirt_qemu

    deadline = time.monotonic() + timeout_s
    with lh.connection(hosts, "A") as conn:
        dom = conn.lookupByName(name)
        while time.monotonic() < deadline:
            try:
                libvirt_qemu.qemuAgentCommand(
                    dom, '{"execute": "guest-ping"}', 5, 0)
                return True
            except libvirt.libvirtError:
                time.sleep(1)
    return False


@pytest.mark.timeout(600)
def test_records_read_through_qemu_guest_agent_land_in_gnocchi(
        tmp_path, libvirt_hosts_env, gnocchi_client, gnocchi_instances,
        gnocchi_endpoint, profile_policy, guest):
    hosts = libvirt_hosts_env
    lh.start_guest(hosts, guest, "A")
    assert _agent_answers(hosts, guest), "qemu-ga never answered"
    with lh.connection(hosts, "A") as conn:
        instance = conn.lookupByName(guest).UUIDString()
    make_instances(gnocchi_client, gnocchi_instances, instance)
    col = Collector(tmp_path, gnocchi_endpoint, [], channel="qemu-ga",
                    guest_discovery="libvirt",
                    libvirt_uri=hosts["hosts"]["A"]["uri"],
                    guest_file_path="/var/lib/watcher-adaptive/"
                                    "profile.jsonl",
                    poll_interval=1, agent_timeout=5)
    try:
        st = col.wait(lambda s: s["guests"].get(instance, {}).get(
            "accepted", 0) >= 4 and s["pushed"] >= 4, timeout_s=120)
    finally:
        assert col.stop() == 0
    counters = st["guests"][instance]
    # the file holds the newest four records: each poll sees old ones
    # again, skipped as duplicates, not refused
    assert counters.get("duplicate", 0) > 0
    assert not set(counters) - {"accepted", "duplicate", "busy"}
    assert landed(gnocchi_client, instance, expect=4,
                  metric="adaptive.mem.total_mb") >= 4
