"""QEMU threads, NUMA placement and topology from procfs/sysfs; the
affinity calls on real threads named as libvirt's vCPU threads."""
from __future__ import annotations

import os
import threading

import pytest

from nova_hooks.agent import host
from nova_hooks.agent import qemu
from nova_hooks.exceptions import QemuNotFound


def test_cpu_lists():
    assert host.parse_cpu_list("0-3,8,10-11") == {0, 1, 2, 3, 8, 10, 11}
    assert host.parse_cpu_list("") == frozenset()


def test_topology_from_sysfs(tmp_path):
    for node, cpus in ((0, "0-3"), (1, "4-7")):
        d = tmp_path / "devices" / "system" / "node" / f"node{node}"
        d.mkdir(parents=True)
        (d / "cpulist").write_text(cpus + "\n")
    topo = host.host_topology(str(tmp_path))
    assert [(n.id, sorted(n.cpus)) for n in topo.nodes] == [
        (0, [0, 1, 2, 3]), (1, [4, 5, 6, 7])]
    assert host.host_topology(str(tmp_path / "none")).cpus


def test_numa_bytes_from_numa_maps(tmp_path):
    d = tmp_path / "42"
    d.mkdir()
    (d / "numa_maps").write_text(
        "7f00 default anon=10 dirty=10 N0=6 N1=4 kernelpagesize_kB=4\n"
        "7f10 default file=/x mapped=2 N1=2 kernelpagesize_kB=2048\n")
    assert host.numa_bytes(str(tmp_path), 42) == (
        (0, 6 * 4096), (1, 4 * 4096 + 2 * 2048 * 1024))
    assert host.numa_bytes(str(tmp_path), 43) == ()


def test_vcpu_threads_are_found_and_pinned(tmp_path, vcpu_threads):
    (tmp_path / "guest.pid").write_text(f"{os.getpid()}\n")
    pid = qemu.qemu_pid(str(tmp_path), "guest")
    vcpus, emulator = qemu.threads("/proc", pid)
    assert sorted(vcpus.values()) == sorted(vcpu_threads)
    assert threading.get_native_id() in emulator
    cpu = min(os.sched_getaffinity(0))
    qemu.set_affinity(vcpus[0], [cpu])
    assert qemu.get_affinity(vcpus[0]) == [cpu]
    with pytest.raises(QemuNotFound):
        qemu.qemu_pid(str(tmp_path), "missing")
