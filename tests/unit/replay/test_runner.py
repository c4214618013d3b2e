"""The runner says when a strategy audits less often than the others."""
from __future__ import annotations

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import engine
from watcher_adaptive.replay import power
from watcher_adaptive.replay import runner
from watcher_adaptive.replay import worlds


class _Idle(api.ReplayStrategy):
    """Never moves anything; audits every ``every`` seconds."""

    def __init__(self, name: str, every: float) -> None:
        self.name = name
        self.audit_interval_s = every

    def decide(self, view: api.ClusterView) -> api.Decision:
        return api.Decision(moves=())


def _scenario() -> runner.Scenario:
    hosts = api.HostTable(
        names=("h0", "h1"), pes=np.array([2, 2]),
        mips_per_pe=np.array([1860.0, 1860.0]),
        ram_mb=np.array([4096.0, 4096.0]), bw_mbps=np.array([1000.0] * 2),
        power_w=np.array([power.HP_ML110_G4_W] * 2), model=("m",) * 2)
    vms = api.VmTable(names=("v0", "v1"), mips=np.array([500.0, 500.0]),
                      pes=np.array([1, 1]), ram_mb=np.array([512.0] * 2),
                      bw_mbps=np.array([10.0, 10.0]))
    cpu = np.full((2, 24), 0.3, dtype=np.float32)
    eng = engine.ReplayEngine(hosts, vms, cpu, trace_interval_s=300.0,
                              limits=worlds.REALISTIC.limits(hosts))
    return runner.Scenario("test", eng, ("scenario note",))


def test_a_strategy_auditing_less_often_than_the_replay_gets_a_note():
    runs = runner.run_all(None, [_Idle("every-frame", 300.0),
                                 _Idle("slow-peer", 1800.0)],
                          scenario=_scenario())
    by_name = {r.name: r for r in runs}
    assert by_name["every-frame"].notes == ("scenario note",)
    slow = [n for n in by_name["slow-peer"].notes if "audits every" in n]
    assert len(slow) == 1
    assert "every 1800 s, not every 300 s" in slow[0]
    assert "slow-peer@SECONDS" in slow[0]
    assert by_name["slow-peer"].audits == 24 * 300 // 1800
