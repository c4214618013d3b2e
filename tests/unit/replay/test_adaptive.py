"""The ``adaptive`` replay strategy: spec parsing and small replays."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.core.types import Policy
from watcher_adaptive.exceptions import PolicyError
from watcher_adaptive.replay import adaptive
from watcher_adaptive.replay import api
from watcher_adaptive.replay import engine
from watcher_adaptive.replay import power
from watcher_adaptive.replay import registry


def test_spec_sets_policy_and_a_distinct_name():
    strategy = registry.build_strategies(
        "adaptive:threshold=0.95+target=0.8+cooldown=7200")[0]
    assert strategy.name == "adaptive:threshold=0.95+target=0.8+cooldown=7200"
    assert strategy.policy.overload_threshold == 0.95
    assert strategy.policy.target_utilization == 0.8
    assert strategy.policy.vm_cooldown_s == 7200
    assert registry.build_strategies("adaptive")[0].name == "adaptive"
    assert registry.build_strategies("adaptive:settle=0")[0] \
        .policy.consolidation_settle_s == 0


@pytest.mark.parametrize("spec, error, match", [
    ("adaptive:bogus=1", ValueError, "unknown key"),
    ("adaptive:threshold", ValueError, "key=value"),
    ("adaptive:target=x", ValueError, "number"),
    ("adaptive:threshold=0.8+target=0.9", PolicyError, "target_utilization"),
])
def test_bad_specs_are_rejected(spec, error, match):
    with pytest.raises(error, match=match):
        registry.build_strategies(spec)


class _Placed(adaptive.AdaptiveReplay):
    def __init__(self, placement, **kw):
        super().__init__(**kw)
        self.placement = np.array(placement)
        self.moves_seen: list[api.Move] = []

    def initial_placement(self, hosts, vms, util0, limits=None):
        return self.placement

    def decide(self, view):
        decision = super().decide(view)
        self.moves_seen.extend(decision.moves)
        return decision


def _run(cpu, placement, n_hosts=3, **kw):
    n_vms = cpu.shape[0]
    hosts = api.HostTable(
        names=tuple(f"h{i}" for i in range(n_hosts)),
        pes=np.full(n_hosts, 2), mips_per_pe=np.full(n_hosts, 1000.0),
        ram_mb=np.full(n_hosts, 8192.0), bw_mbps=np.full(n_hosts, 1000.0),
        power_w=np.array([power.HP_ML110_G4_W] * n_hosts),
        model=("test",) * n_hosts)
    vms = api.VmTable(names=tuple(f"v{i}" for i in range(n_vms)),
                      mips=np.full(n_vms, 1000.0),
                      pes=np.ones(n_vms, dtype=int),
                      ram_mb=np.full(n_vms, 512.0),
                      bw_mbps=np.full(n_vms, 100.0))
    eng = engine.ReplayEngine(hosts, vms, cpu.astype(np.float32),
                              duration_s=cpu.shape[1] * 300.0)
    strategy = _Placed(placement, **kw)
    run = eng.run(strategy)
    assert run.error is None
    return strategy, run


def test_rising_host_is_relieved_before_it_saturates():
    t = 24
    rising = np.clip(np.linspace(0.3, 0.95, t), 0, 1)
    cpu = np.vstack([rising, rising, rising, np.full(t, 0.2)])
    strategy, run = _run(cpu, [0, 0, 0, 1])
    overload = [m for m in strategy.moves_seen if m.reason == "overload"]
    assert overload, "three VMs climbing to 95 % of a 2-core host"
    assert all(m.target != 0 for m in overload)
    # it moved before the host's demand passed its capacity (3 x 0.67)
    first_move_frame = np.flatnonzero(run.timeline.migrations)[0]
    assert rising[first_move_frame] * 3 < 2.0


def test_calm_spread_cluster_is_consolidated_once_then_left_alone():
    t = 36
    cpu = np.full((2, t), 0.2)
    strategy, run = _run(cpu, [0, 1])
    assert run.metrics.migrations == 1
    assert [m.reason for m in strategy.moves_seen] == ["consolidation"]



@pytest.mark.parametrize("settle_s, wait", [(None, True), (0.0, False)])
def test_a_host_just_filled_by_a_consolidation_is_not_emptied(settle_s,
                                                               wait):
    """h2's calm VM d goes to h0 at once; six hours later h0 is calm
    too and could go to h1, but d came there by a consolidation: with
    settling (24 h, the default) h0 waits a day, without it not."""
    t, change = 36 * 12, 6 * 12
    busy = np.r_[np.full(change, 0.9), np.full(t - change, 0.6)]
    calm = np.r_[np.full(change, 0.9), np.full(t - change, 0.1)]
    cpu = np.vstack([calm, busy, busy, np.full(t, 0.1)])  # a, b, c, d
    policy = Policy() if settle_s is None else Policy(
        consolidation_settle_s=settle_s)
    strategy, run = _run(cpu, [0, 1, 1, 2], n_hosts=4, policy=policy)
    frames = np.flatnonzero(run.timeline.migrations)
    assert [m.reason for m in strategy.moves_seen] == ["consolidation"] * 3
    first, last = frames[0] * 300.0, frames[-1] * 300.0
    assert first < 3600
    assert bool(last - first >= 24 * 3600) is wait, (first, last)
