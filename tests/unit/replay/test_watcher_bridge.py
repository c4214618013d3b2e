"""Watcher 17.0.0's own strategies run in-process on replay views.

The cluster is the one of the reference run recorded on this machine kind
(shared/reference/watcher/run_builtin_strategies.out): three 16-vCPU
hosts, one busy with three VMs, two light.  The expected actions are the
ones Watcher produced there.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("watcher")

from watcher_adaptive.exceptions import PeerError  # noqa: E402
from watcher_adaptive.replay import api  # noqa: E402
from watcher_adaptive.replay import watcher_bridge as wb  # noqa: E402

#: (vcpus, memory MB, cpu % of its vcpus, RAM used MB, host)
VMS = [(4, 8192, 90.0, 7000, 0), (4, 8192, 80.0, 6500, 0),
       (4, 8192, 70.0, 6000, 0), (2, 4096, 10.0, 1500, 1),
       (2, 4096, 5.0, 1000, 1), (2, 4096, 5.0, 1000, 2)]


def _view(migrating=None, enabled=(True, True, True)):
    n = len(VMS)
    hosts = api.HostTable(
        names=("compute-1", "compute-2", "compute-3"),
        pes=np.full(3, 16), mips_per_pe=np.full(3, 1000.0),
        ram_mb=np.full(3, 65536.0), bw_mbps=np.full(3, 1000.0),
        power_w=np.tile(np.linspace(100, 200, 11), (3, 1)),
        model=("test",) * 3)
    vms = api.VmTable(
        names=tuple(f"vm-{i + 1}" for i in range(n)),
        mips=np.full(n, 1000.0), pes=np.array([v[0] for v in VMS]),
        ram_mb=np.array([float(v[1]) for v in VMS]),
        bw_mbps=np.full(n, 100.0))
    util = np.array([v[2] / 100.0 for v in VMS])
    hist = np.tile(util[:, None], (1, 30))
    target = np.full(n, -1)
    if migrating is not None:
        target[migrating[0]] = migrating[1]
    vm_host = np.array([v[4] for v in VMS])
    alloc = np.bincount(vm_host, weights=util * vms.total_mips, minlength=3)
    return api.ClusterView(
        time_s=7200.1, interval_s=300.0, hosts=hosts, vms=vms,
        vm_host=vm_host, vm_migration_target=target, vm_cpu_util=util,
        vm_cpu_history=hist, host_enabled=np.array(enabled),
        host_allocated_mips=alloc,
        vm_memory_used_mb=np.array([float(v[3]) for v in VMS]))


def _moves(decision):
    return [(m.vm, m.target) for m in decision.moves]


def test_workload_stabilization_moves_the_busiest_vm_to_the_idlest_host():
    peer = wb.WatcherPeer("workload_stabilization", {
        "metrics": ["instance_cpu_usage", "instance_ram_usage"],
        "host_choice": "fullsearch"})
    assert _moves(peer.decide(_view())) == [(0, 2)]


def test_workload_balance_moves_vm1_off_the_hot_host():
    peer = wb.WatcherPeer("workload_balance",
                          {"metrics": "instance_cpu_usage",
                           "threshold": 25.0})
    assert _moves(peer.decide(_view())) == [(0, 2)]


def test_vm_workload_consolidation_packs_and_disables():
    decision = wb.WatcherPeer("vm_workload_consolidation").decide(_view())
    assert _moves(decision) == [(5, 0), (3, 0)]
    assert decision.disable_hosts == (2,)


def test_basic_consolidation_packs_and_disables():
    decision = wb.WatcherPeer("basic").decide(_view())
    assert (5, 0) in _moves(decision) and (3, 0) in _moves(decision)
    assert 2 in decision.disable_hosts


def test_calm_balanced_cluster_gives_no_migrations():
    view = _view()
    calm = api.ClusterView(**{
        **view.__dict__,
        "vm_host": np.array([0, 1, 2, 0, 1, 2]),
        "vm_cpu_util": np.full(6, 0.3),
        "vm_cpu_history": np.full((6, 30), 0.3)})
    for name in ("workload_stabilization", "workload_balance"):
        assert _moves(wb.WatcherPeer(name).decide(calm)) == [], name


def test_vm_in_migration_is_never_moved():
    # vm-1 is on its way to compute-2: the busiest VM is then vm-2
    decision = wb.WatcherPeer("workload_balance", {
        "metrics": "instance_cpu_usage", "threshold": 25.0}).decide(
            _view(migrating=(0, 1)))
    assert all(vm != 0 for vm, _ in _moves(decision))


def test_disabled_host_receives_nothing():
    # compute-3 (the idle one) is disabled: vm-1 must go elsewhere
    decision = wb.WatcherPeer("workload_balance", {
        "metrics": "instance_cpu_usage", "threshold": 25.0}).decide(
            _view(enabled=(True, True, False)))
    assert _moves(decision) and all(t != 2 for _, t in _moves(decision))


def test_watcher_crash_on_a_disabled_busy_host_is_a_peer_error():
    # Watcher 17.0.0's vm_workload_consolidation re-enables a disabled
    # host that still holds VMs and then fails on its own efficacy
    # indicator (released nodes = -1); the replay records such audits.
    with pytest.raises(PeerError, match="released_compute_nodes_count"):
        wb.WatcherPeer("vm_workload_consolidation").decide(
            _view(enabled=(False, True, True)))


def test_unknown_strategy_lists_watchers():
    with pytest.raises(ValueError, match="vm_workload_consolidation"):
        wb.WatcherPeer("nope")
    with pytest.raises(ValueError, match="strategy name"):
        wb.WatcherPeer.from_spec(None)


def test_a_raising_peer_becomes_a_peer_error(monkeypatch):
    peer = wb.WatcherPeer("workload_balance")
    from watcher.decision_engine.strategy.strategies import workload_balance

    def explode(self, audit=None):
        raise KeyError("boom")

    monkeypatch.setattr(workload_balance.WorkloadBalance, "do_execute",
                        explode)
    with pytest.raises(PeerError, match="watcher:workload_balance"):
        peer.decide(_view())


def test_same_view_same_decision():
    view = _view()
    peer = wb.WatcherPeer("vm_workload_consolidation")
    assert peer.decide(view) == peer.decide(view)
