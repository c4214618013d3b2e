"""The replay engine on clusters small enough to compute by hand."""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.replay import api
from watcher_adaptive.replay import engine
from watcher_adaptive.replay import power
from watcher_adaptive.replay import worlds

G4 = power.HP_ML110_G4_W


def _hosts(n: int, pes: int = 2, mips: float = 1000.0) -> api.HostTable:
    return api.HostTable(
        names=tuple(f"h{i}" for i in range(n)),
        pes=np.full(n, pes), mips_per_pe=np.full(n, mips),
        ram_mb=np.full(n, 4096.0), bw_mbps=np.full(n, 1000.0),
        power_w=np.array([G4] * n), model=("test",) * n)


def _vms(mips: list[float], ram: list[float]) -> api.VmTable:
    n = len(mips)
    return api.VmTable(names=tuple(f"v{i}" for i in range(n)),
                       mips=np.array(mips), pes=np.ones(n, dtype=int),
                       ram_mb=np.array(ram), bw_mbps=np.full(n, 100.0))


class Fixed(api.ReplayStrategy):
    """Places VMs as told and moves as told at given audit times."""

    name = "fixed"

    def __init__(self, placement, moves=None, fail_at=()):
        self.placement = np.array(placement)
        self.moves = moves or {}
        self.fail_at = fail_at
        self.views: list[api.ClusterView] = []

    def initial_placement(self, hosts, vms, util0, limits=None):
        return self.placement

    def decide(self, view):
        self.views.append(view)
        t = round(view.time_s, 1)
        if t in self.fail_at:
            raise RuntimeError("peer exploded")
        return api.Decision(moves=tuple(
            api.Move(vm, target) for vm, target in self.moves.get(t, ())))


def _engine(hosts, vms, cpu, **kw):
    cpu = np.asarray(cpu, dtype=np.float32)
    return engine.ReplayEngine(hosts, vms, cpu,
                               duration_s=cpu.shape[1] * 300.0, **kw)


def test_energy_of_a_steady_host_is_mean_power_times_frame():
    # one VM at 50 % of 1000 MIPS on a 2 x 1000 MIPS host: 25 % load.
    # Frames at 300.1 and 600.1; the first starts from an idle host (0 J).
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.5, 0.5, 0.5]])
    run = eng.run(Fixed([0]))
    p25 = 92.6 + (96.0 - 92.6) * 0.5
    assert run.metrics.energy_kwh == pytest.approx(p25 * 300.0 / 3.6e6)
    assert run.metrics.migrations == 0
    assert run.metrics.slatah == 0.0


def test_frame_energy_interpolates_between_start_and_end_power():
    # load rises from 10 % to 40 % of the host between 300.1 and 600.1
    eng = _engine(_hosts(1), _vms([1000], [512]),
                  [[0.2, 0.2, 0.8, 0.8]])
    run = eng.run(Fixed([0]))
    u1 = eng.utilization_at(300.1)[0] / 2
    u2 = eng.utilization_at(600.1)[0] / 2
    p = power.power_at(np.array([G4, G4]), np.array([u1, u2]))
    frame2 = (p[0] + p[1]) / 2 * 300.0
    frame3 = power.power_at(np.array([G4]), np.array([0.4]))[0] * 300.0
    assert run.metrics.energy_kwh == pytest.approx(
        (frame2 + frame3) / 3.6e6)


def test_overcommitted_host_counts_as_sla_violation_time():
    # two VMs ask for 1000 MIPS each on a host of 2 x 600 MIPS
    eng = _engine(_hosts(1, mips=600.0), _vms([1000, 1000], [512, 512]),
                  [[1.0] * 3, [1.0] * 3])
    run = eng.run(Fixed([0, 0]))
    assert run.metrics.slatah == pytest.approx(1.0)
    assert run.metrics.pdm == 0.0  # not due to migration
    assert run.timeline.overloaded_hosts.max() == 1


def test_live_migration_degradation_and_timing():
    # VM of 1000 MIPS at 50 %, 625 MB over 1 Gbit/s -> 10 s migration
    eng = _engine(_hosts(2), _vms([1000], [625]), [[0.5] * 3])
    strategy = Fixed([0], moves={300.1: [(0, 1)]})
    run = eng.run(strategy)
    m = run.metrics
    assert m.migrations == 1
    # 10 % of 500 MIPS lost for 10 s, out of 500 MIPS over 300 s
    assert m.pdm == pytest.approx(50.0 * 10.0 / (500.0 * 300.0))
    # destination reserves 10 % only while the copy runs: violated 10 s;
    # active: source 10 s + destination 300 s
    assert m.slatah == pytest.approx(10.0 / 310.0)
    assert m.slav == pytest.approx(m.slatah * m.pdm)
    assert m.host_shutdowns == 1  # the source once the VM has left
    assert strategy.views[-1].vm_host[0] == 1


def test_zero_demand_vm_leaves_the_cloud_as_in_cloudsim():
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.0, 0.0, 0.0]])
    run = eng.run(Fixed([0]))
    assert run.metrics.energy_kwh == 0.0
    kept = _engine(_hosts(1), _vms([1000], [512]), [[0.0, 0.0, 0.0]],
                   remove_idle_vms=False)
    assert kept.run(Fixed([0])).metrics.energy_kwh > 0.0


def test_invalid_moves_are_rejected_not_applied():
    eng = _engine(_hosts(2), _vms([1000, 1000], [625, 3000]),
                  [[0.5] * 3, [0.5] * 3],
                  limits=worlds.REALISTIC.limits(_hosts(2)))
    moves = {300.1: [(0, 0),      # already there
                     (1, 1),      # fits: 3000 into an empty host
                     (0, 7),      # no such host
                     (5, 1)]}     # no such VM
    strategy = Fixed([0, 0], moves=moves)
    run = eng.run(strategy)
    assert run.metrics.migrations == 1
    # the second VM arrived; a 625 MB VM no longer fits in the 96 MB left
    moves2 = Fixed([0, 1], moves={300.1: [(0, 1)]})
    eng2 = _engine(_hosts(2), _vms([1000, 1000], [625, 4000]),
                   [[0.5] * 3, [0.5] * 3],
                   limits=worlds.REALISTIC.limits(_hosts(2)))
    assert eng2.run(moves2).metrics.migrations == 0


def test_a_start_placement_beyond_the_limits_is_an_error():
    eng = _engine(_hosts(2), _vms([1000, 1000], [625, 4000]),
                  [[0.5] * 3, [0.5] * 3],
                  limits=worlds.REALISTIC.limits(_hosts(2)))
    run = eng.run(Fixed([0, 0]))
    assert not run.ok
    assert "RAM or vCPU limit" in run.error


def test_a_failing_strategy_is_recorded_and_the_run_goes_on():
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.5] * 4])
    run = eng.run(Fixed([0], fail_at=(300.1,)))
    assert run.ok
    assert run.failed_audits == 1
    assert run.audits == 3
    assert any("peer exploded" in n for n in run.notes)


def test_audit_interval_is_respected():
    strategy = Fixed([0])
    strategy.audit_interval_s = 900.0
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.5] * 12])
    run = eng.run(strategy)
    times = [round(v.time_s, 1) for v in strategy.views]
    assert times == [300.1, 1200.1, 2100.1, 3000.1]
    assert run.audits == 4


def test_view_history_is_oldest_first_with_nan_padding():
    strategy = Fixed([0])
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.1, 0.2, 0.3, 0.4]])
    eng.run(strategy)
    hist = strategy.views[-1].vm_cpu_history[0]
    assert np.isnan(hist[:-3]).all()
    np.testing.assert_allclose(
        hist[-3:], [eng.utilization_at(t)[0] for t in (300.1, 600.1, 900.1)])


def test_utilization_interpolates_linearly_between_samples():
    eng = _engine(_hosts(1), _vms([1000], [512]), [[0.0, 0.3, 0.6]])
    assert eng.utilization_at(300.0)[0] == pytest.approx(0.3)
    assert eng.utilization_at(450.0)[0] == pytest.approx(0.45)
    # after the last sample CloudSim holds the last value
    assert eng.utilization_at(750.0)[0] == pytest.approx(0.6)


def test_timeline_accumulates_the_energy_and_codes_host_utilisation():
    # host 0 at 25 % (one VM at 50 % of 1000 MIPS on 2 x 1000), host 1
    # never used: off in every heatmap row
    eng = _engine(_hosts(2), _vms([1000], [512]), [[0.5] * 4])
    run = eng.run(Fixed([0]))
    tl = run.timeline
    assert tl.energy_kwh[-1] == pytest.approx(run.metrics.energy_kwh)
    assert np.all(np.diff(tl.energy_kwh) >= 0)
    assert tl.host_util.dtype == np.uint8
    assert tl.host_util.shape == (tl.time_s.size, 2)
    np.testing.assert_array_equal(tl.host_util_time_s, tl.time_s)
    assert np.all(tl.host_util[:, 1] == 0)
    assert np.all(tl.host_util[:, 0] == 1 + round(0.25 * 254))


def test_the_heatmap_matrix_keeps_every_kth_frame_on_large_runs(
        monkeypatch):
    # a cap of 2 cells on 2 hosts: one frame in each kept
    monkeypatch.setattr(engine, "HOST_UTIL_CELLS", 2)
    eng = _engine(_hosts(2), _vms([1000], [512]), [[0.5] * 7])
    tl = eng.run(Fixed([0])).timeline
    n = tl.time_s.size
    assert n >= 4
    assert tl.host_util.shape == (1, 2)
    # more cells allowed: rows every k-th frame, k = ceil(n * 2 / cap)
    monkeypatch.setattr(engine, "HOST_UTIL_CELLS", 2 * 2)
    tl = eng.run(Fixed([0])).timeline
    k = -(-n * 2 // 4)
    np.testing.assert_array_equal(tl.host_util_time_s, tl.time_s[::k])
