"""The pure planner on small hand-built snapshots."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from watcher_adaptive.core import planner
from watcher_adaptive.core.types import ClusterSnapshot
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import Policy
from watcher_adaptive.exceptions import PlanningError


def snapshot(vm_host, n_hosts=3, capacity=10.0, **over):
    n = len(vm_host)
    fields = dict(
        host_names=tuple(f"h{i}" for i in range(n_hosts)),
        host_cpu_capacity=np.full(n_hosts, capacity),
        host_ram_mb=np.full(n_hosts, np.inf),
        host_disk_gb=np.full(n_hosts, np.inf),
        host_vcpus=np.full(n_hosts, np.inf),
        host_accepts=np.ones(n_hosts, dtype=bool),
        host_zone=("",) * n_hosts,
        vm_names=tuple(f"v{i}" for i in range(n)),
        vm_host=np.array(vm_host), vm_vcpus=np.ones(n),
        vm_ram_mb=np.full(n, 1024.0), vm_disk_gb=np.zeros(n),
        vm_movable=np.ones(n, dtype=bool), vm_zone=("",) * n,
        vm_seconds_since_move=np.full(n, np.inf))
    fields.update(over)
    return ClusterSnapshot(**fields)


def forecast(expected, spread=0.0):
    expected = np.asarray(expected, dtype=float)
    return DemandForecast(expected, expected + spread, 0.9, 1800.0)


POLICY = Policy(overload_threshold=0.9, target_utilization=0.8,
                underload_threshold=0.3, consolidate=False)


def test_overloaded_host_is_relieved_to_the_fullest_safe_host():
    # h0 at 9.5/10, h1 at 5, h2 at 2
    snap = snapshot([0, 0, 0, 1, 2])
    plan = planner.plan(snap, forecast([4.0, 3.5, 2.0, 5.0, 2.0]), POLICY)
    # the biggest relief per byte copied: v0; only h2 stays under 0.8
    assert [(m.vm, m.source, m.target) for m in plan.moves] == [(0, 0, 2)]
    assert plan.hosts_at_risk_before == 1 and plan.hosts_at_risk_after == 0
    assert plan.host_load_after[0] <= 0.8


def test_spreads_add_as_independent():
    # two VMs of 3 +- 3: 6 + sqrt(18) = 10.24 > 9 -> at risk
    snap = snapshot([0, 0], n_hosts=2)
    loads = planner.host_loads(snap, forecast([3.0, 3.0], spread=3.0))
    assert loads[0] == pytest.approx((6 + np.sqrt(18)) / 10)


def test_deterministic():
    rng = np.random.default_rng(3)
    vm_host = rng.integers(0, 20, 300)
    snap = snapshot(vm_host, n_hosts=20)
    fc = forecast(rng.uniform(0, 1.5, 300), spread=0.3)
    policy = dataclasses.replace(POLICY, consolidate=True,
                                 max_migrations_per_audit=500,
                                 max_migrations_per_hour=500,
                                 max_concurrent_per_host=50)
    first = planner.plan(snap, fc, policy)
    second = planner.plan(snap, fc, policy)
    assert first.moves == second.moves and first.moves


@pytest.mark.parametrize("change, skipped", [
    (dict(vm_movable=np.zeros(3, dtype=bool)), "not_movable"),
    (dict(vm_seconds_since_move=np.zeros(3)), "cooldown"),
    (dict(moves_last_hour=1000), "budget"),
    (dict(host_accepts=np.array([True, False, False])), "no_target"),
])
def test_nothing_moves_when_not_allowed(change, skipped):
    snap = snapshot([0, 0, 0], **change)
    plan = planner.plan(snap, forecast([4.0, 3.5, 2.0]), POLICY)
    assert plan.moves == ()
    assert dict(plan.skipped).get(skipped, 0) >= 1
    assert plan.unresolved == (0,)


def test_zone_pinned_vm_only_moves_within_its_zone():
    snap = snapshot([0, 0, 0], host_zone=("az1", "az2", "az1"),
                    vm_zone=("az1",) * 3)
    plan = planner.plan(snap, forecast([4.0, 3.5, 2.0]), POLICY)
    assert {m.target for m in plan.moves} == {2}


def test_ram_and_concurrency_limit_targets():
    snap = snapshot([0, 0, 0, 0], host_ram_mb=np.array([8e3, 1e3, 8e3]),
                    vm_ram_mb=np.full(4, 2048.0))
    plan = planner.plan(snap, forecast([3.2, 3.2, 3.2, 3.2]),
                        dataclasses.replace(POLICY,
                                            max_concurrent_per_host=1))
    # h1 lacks RAM; h2 takes only one per audit; h0 stays at risk
    assert [m.target for m in plan.moves] == [2]
    assert plan.unresolved == (0,)


def test_consolidation_is_all_or_nothing():
    policy = dataclasses.replace(POLICY, consolidate=True)
    # h2 (load 0.2) empties onto h1 (0.5 -> 0.7)
    plan = planner.plan(snapshot([1, 2]), forecast([5.0, 2.0]), policy)
    assert plan.released == (2,) and len(plan.moves) == 1
    assert plan.moves[0].reason == planner.CONSOLIDATION
    # h2's two VMs only fit one at a time: nothing moves
    plan = planner.plan(snapshot([1, 2, 2]), forecast([6.5, 1.0, 1.0]),
                        policy)
    assert plan.moves == () and plan.released == ()


def test_consolidation_empties_the_host_with_fewest_vms_first():
    # h1 holds two small VMs (load 0.2), h2 one larger (load 0.25); h0 has
    # room for either, not both: the host that costs one migration goes
    # first, though it is the more loaded (the same host powered down for
    # half the migrations)
    policy = dataclasses.replace(POLICY, consolidate=True,
                                 underload_threshold=0.3,
                                 target_utilization=0.8)
    snap = snapshot([0, 1, 1, 2], n_hosts=3)
    plan = planner.plan(snap, forecast([5.0, 1.0, 1.0, 2.5]), policy)
    assert plan.released == (2,)
    assert [(m.vm, m.target) for m in plan.moves] == [(3, 0)]


def test_bad_inputs_raise_clear_errors():
    snap = snapshot([0, 0])
    with pytest.raises(PlanningError, match="2 VMs"):
        planner.plan(snap, forecast([1.0]), POLICY)
    with pytest.raises(PlanningError, match="NaN"):
        planner.plan(snap, forecast([1.0, np.nan]), POLICY)


def test_consolidation_waits_after_a_wake():
    policy = dataclasses.replace(POLICY, consolidate=True,
                                 wake_pause_s=3600.0)
    fc = forecast([5.0, 2.0])
    # h2 (load 0.2) would empty onto h1, but a host was woken 10 min ago
    plan = planner.plan(snapshot([1, 2], seconds_since_wake=600.0), fc,
                        policy)
    assert plan.moves == () and plan.released == ()
    assert dict(plan.skipped)["consolidation_paused"] == 1
    # an hour later it goes ahead; with the pause off, at once
    later = planner.plan(snapshot([1, 2], seconds_since_wake=3600.0), fc,
                         policy)
    assert later.released == (2,)
    off = planner.plan(snapshot([1, 2], seconds_since_wake=600.0), fc,
                       dataclasses.replace(policy, wake_pause_s=0.0))
    assert off.released == (2,)


def test_a_consolidation_settles_before_the_next():
    policy = dataclasses.replace(POLICY, consolidate=True,
                                 consolidation_settle_s=86400.0)
    fc = forecast([5.0, 1.0, 1.0, 1.0])
    # h1 (one VM) goes first, then h2 (two); h1's VM came there by a
    # consolidation an hour ago: neither is emptied this audit
    recent = np.array([np.inf, 3600.0, np.inf, np.inf])
    plan = planner.plan(snapshot([0, 1, 2, 2],
                                 vm_seconds_since_consolidation=recent),
                        fc, policy)
    assert plan.moves == () and plan.released == ()
    assert dict(plan.skipped)["consolidation_settling"] == 1
    # a day later, with settling off, or where it is not known: both go
    later = planner.plan(snapshot([0, 1, 2, 2],
                                  vm_seconds_since_consolidation=recent
                                  + 86400.0), fc, policy)
    assert later.released == (1, 2)
    for snap, pol in (
            (snapshot([0, 1, 2, 2], vm_seconds_since_consolidation=recent),
             dataclasses.replace(policy, consolidation_settle_s=0.0)),
            (snapshot([0, 1, 2, 2]), policy)):
        assert planner.plan(snap, fc, pol).released == (1, 2)


def test_a_plan_that_wakes_a_host_says_so_and_does_not_consolidate():
    # h0 at 9.5/10 is overloaded; h1 (7.5) has no room, h2 holds no VM,
    # h3 takes no VM; h3's small VM could otherwise go to h1 (7.9 <= 8)
    policy = dataclasses.replace(POLICY, consolidate=True,
                                 underload_threshold=0.2)
    accepts = np.array([True, True, True, False])
    snap = snapshot([0, 0, 1, 3], n_hosts=4, host_accepts=accepts)
    plan = planner.plan(snap, forecast([5.0, 4.5, 7.5, 0.4]), policy)
    assert [(m.vm, m.target) for m in plan.moves] == [(0, 2)]
    assert plan.woke_host
    assert dict(plan.skipped)["consolidation_paused"] == 1
    calm = planner.plan(snapshot([1, 3], n_hosts=4, host_accepts=accepts),
                        forecast([7.5, 0.4]), policy)
    assert not calm.woke_host and calm.released == (3,)


def test_consolidation_needs_room_through_the_forecast_peak():
    policy = dataclasses.replace(POLICY, consolidate=True)
    short = forecast([5.0, 2.0])
    # over the next half hour h2's VM fits on h1 (0.7); at the peak the
    # forecaster sees coming, h1's VM needs 7 and they would not (0.9)
    peak = dataclasses.replace(short, expected_long=np.array([7.0, 2.0]),
                               upper_long=np.array([7.0, 2.0]))
    assert planner.plan(snapshot([1, 2]), short, policy).released == (2,)
    plan = planner.plan(snapshot([1, 2]), peak, policy)
    assert plan.moves == ()
    # a host busy at the coming peak is no candidate at all
    busy_later = dataclasses.replace(
        short, expected_long=np.array([5.0, 4.0]),
        upper_long=np.array([5.0, 4.0]))
    plan = planner.plan(snapshot([1, 2], n_hosts=3, capacity=10.0),
                        busy_later, policy)
    assert plan.moves == ()
    assert "consolidation_no_room" not in dict(plan.skipped)



def test_a_vm_never_goes_to_a_host_whose_cores_are_slower_than_its_vcpus():
    # h0 at 0.92 sheds v1 (4.0 over 4 vCPUs: 1.0 a vCPU) to an idle host;
    # h1 and h2 are alike but for their cores' speed (1.0 and 2.5)
    def relief_target(**cores):
        snap = snapshot([0, 0, 0], vm_vcpus=np.full(3, 4.0), **cores)
        plan = planner.plan(snap, forecast([1.2, 4.0, 4.0]), POLICY)
        assert [(m.vm, m.source) for m in plan.moves] == [(1, 0)]
        return plan.moves[0].target

    # no core speeds: the first of the equal idle hosts
    assert relief_target() == 1
    # the forecast's 1.0 a vCPU fits h1's cores
    assert relief_target(host_core_capacity=np.array([2.5, 1.0, 2.5])) == 1
    # its flavor lets a vCPU ask 2.0: the first burst above 1.0 would be
    # throttled on h1, so it goes to h2
    assert relief_target(host_core_capacity=np.array([2.5, 1.0, 2.5]),
                         vm_vcpu_capacity=np.full(3, 2.0)) == 2


def test_core_speeds_of_the_wrong_length_are_a_clear_error():
    with pytest.raises(PlanningError, match="host_core_capacity"):
        planner.plan(snapshot([0, 0], host_core_capacity=np.ones(2)),
                     forecast([1.0, 1.0]), POLICY)
    with pytest.raises(PlanningError, match="vm_vcpu_capacity"):
        planner.plan(snapshot([0, 0], vm_vcpu_capacity=np.ones(3)),
                     forecast([1.0, 1.0]), POLICY)
