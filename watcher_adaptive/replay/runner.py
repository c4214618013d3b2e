"""Run a set of strategies over one trace on the matching cluster model.

PlanetLab traces run on CloudSim's 800-host model (so the figures compare
with CloudSim's own); every other trace runs on the modern two-socket
model of :mod:`~watcher_adaptive.replay.cluster`, sized from the load.
"""
from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import cluster
from watcher_adaptive.replay import engine
from watcher_adaptive.replay import results
from watcher_adaptive.replay import worlds
from watcher_adaptive.traces.model import TraceSet

#: ``progress(strategy_name, fraction_done)``
Progress = Callable[[str, float], None]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """The simulated cloud a trace is replayed on, in one world."""

    model: str
    engine: engine.ReplayEngine
    notes: tuple[str, ...]
    world: worlds.World = worlds.REALISTIC


def is_planetlab(trace: TraceSet) -> bool:
    """PlanetLab traces get CloudSim's model; the loaders mark them."""
    return (trace.report.source.startswith("planetlab")
            or trace.name.startswith(("planetlab:", "embedded:planetlab")))


def membership_world(trace: TraceSet) -> worlds.World:
    """The world whose LR-MMT replay gives the predictor's host membership
    by default: ``cloudsim`` for PlanetLab days (as CloudSim ran them),
    ``realistic`` for every other trace."""
    return worlds.CLOUDSIM if is_planetlab(trace) else worlds.REALISTIC


def build_scenario(trace: TraceSet, n_hosts: Optional[int] = None,
                   world: worlds.World | str = worlds.DEFAULT) -> Scenario:
    """The cluster model and engine for ``trace`` in ``world``."""
    if isinstance(world, str):
        world = worlds.get(world)
    duration = trace.n_samples * trace.interval_s
    if is_planetlab(trace):
        hosts, vms = cluster.cloudsim_planetlab_cluster(
            trace, n_hosts or cluster.CLOUDSIM_HOSTS)
        leave = world.idle_vms_leave_planetlab
        eng = engine.ReplayEngine(
            hosts, vms, trace.cpu, trace_interval_s=trace.interval_s,
            duration_s=duration, remove_idle_vms=leave,
            limits=world.limits(hosts))
        notes = (f"CloudSim 3.0.3 PlanetLab model: {hosts.n} hosts "
                 "(HP ML110 G4/G5 alternating), 4 VM types"
                 + ("; VMs whose demand drops to exactly 0 % leave, as "
                    "in CloudSim." if leave else "; idle VMs stay."),
                 world.header())
        return Scenario("cloudsim-planetlab", eng, notes, world)
    hosts, vms, sizing = cluster.modern_cluster(trace, n_hosts)
    eng = engine.ReplayEngine(
        hosts, vms, trace.cpu, trace_interval_s=trace.interval_s,
        duration_s=duration, remove_idle_vms=False,
        limits=world.limits(hosts), memory_used_mb=trace.memory_mb)
    notes = (f"Modern model: {hosts.n} x {hosts.model[0]} "
             f"({int(hosts.pes[0])} cores x {hosts.mips_per_pe[0]:.0f} MHz, "
             f"{hosts.ram_mb[0] / 1024:.0f} GB), host count "
             f"{'given' if n_hosts else 'sized from the load'}. "
             "There is no CloudSim reference for this model.",
             world.header(), *sizing)
    return Scenario("modern", eng, notes, world)


def run_all(trace: TraceSet, strategies: Sequence[api.ReplayStrategy],
            n_hosts: Optional[int] = None,
            progress: Optional[Progress] = None,
            world: worlds.World | str = worlds.DEFAULT,
            scenario: Optional[Scenario] = None,
            ) -> list[results.StrategyRun]:
    """Replay ``trace`` once per strategy, all in the same world; a
    failing one is recorded."""
    if scenario is None:
        scenario = build_scenario(trace, n_hosts, world)
    runs = []
    for strategy in strategies:
        def report(fraction: float, _name: str = strategy.name) -> None:
            if progress is not None:
                progress(_name, fraction)

        run = scenario.engine.run(strategy, report)
        runs.append(dataclasses.replace(
            run, notes=run.notes + _audit_note(run, scenario)
            + scenario.notes))
        if progress is not None:
            progress(strategy.name, 1.0)
    return runs


def _audit_note(run: results.StrategyRun,
                scenario: Scenario) -> tuple[str, ...]:
    """Say so when a strategy audits less often than the replay's
    scheduling interval (a Watcher peer whose audits are too slow for
    the default run's time budget), with what one audit cost here."""
    every = scenario.engine.scheduling_interval_s
    if run.audit_interval_s <= every or not run.audits:
        return ()
    return (f"{run.name} audits every {run.audit_interval_s:g} s, not "
            f"every {every:g} s like the others: one of its audits took "
            f"{run.wall_s / run.audits:.1f} s here, and more frequent "
            "audits would not fit the default run's 3-minute budget "
            f"(give another interval with {run.name}@SECONDS)",)


def record_placements(trace: TraceSet, strategy: api.ReplayStrategy,
                      n_hosts: Optional[int] = None,
                      world: worlds.World | str = worlds.DEFAULT,
                      ) -> tuple[np.ndarray, np.ndarray, results.StrategyRun]:
    """Replay ``trace`` under ``strategy`` and keep where VMs were.

    :returns: ``(frame_times_s, vm_host, run)`` with ``vm_host`` of shape
        ``(n_frames, n_vms)``: the host of each VM after each scheduling
        frame, -1 once it has left.
    """
    scenario = build_scenario(trace, n_hosts, world)
    frames: list[np.ndarray] = []
    run = scenario.engine.run(strategy, placements=frames)
    if run.timeline is None:
        raise RuntimeError(f"{strategy.name} failed: {run.error}")
    return run.timeline.time_s, np.array(frames), run
