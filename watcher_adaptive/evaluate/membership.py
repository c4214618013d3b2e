"""The host membership of an LR-MMT replay, for the predictor's host rows.

The backtest and the training ask each host the question LR-MMT's own
detector answers (will it overload within the horizon?) for the VMs an
LR-MMT replay of the same trace put on it at each frame.  This module
runs that replay and hands the result to
:mod:`watcher_adaptive.predict` as a plain
:class:`~watcher_adaptive.predict.dataset.Membership`.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from watcher_adaptive.predict import dataset
from watcher_adaptive.replay import cloudsim_policies
from watcher_adaptive.replay import runner
from watcher_adaptive.replay import worlds
from watcher_adaptive.traces.model import TraceSet


def lr_mmt_membership(trace: TraceSet, world: worlds.World | str
                      ) -> dataset.Membership:
    """Replay ``trace`` under LR-MMT 1.2 in ``world`` and keep where each
    VM was after each frame; the sizes are those of the trace's cluster
    model (the same in every world)."""
    sizes = runner.build_scenario(trace).engine
    times, vm_host, _ = runner.record_placements(
        trace, cloudsim_policies.LrMmt(), world=world)
    return dataset.Membership(
        times_s=times, vm_host=vm_host,
        vm_mips=sizes.vms.total_mips.astype(np.float64),
        host_mips=sizes.hosts.total_mips.astype(np.float64),
        start_offset_s=sizes.start_offset_s)


class LrMmtMembership:
    """``membership(trace)`` for
    :func:`~watcher_adaptive.predict.backtest.backtest_horizon` and
    :func:`~watcher_adaptive.predict.training.fit_predictor`: each
    trace's LR-MMT replay runs once (traces are told apart by name) and
    serves every horizon and the final fit.

    :param world: the replay world whose LR-MMT run gives the membership
        (``None``: ``cloudsim`` for PlanetLab days, as CloudSim ran them,
        else ``realistic``).
    """

    def __init__(self, world: Optional[str] = None) -> None:
        self.world = world
        self._done: dict[str, dataset.Membership] = {}

    def world_of(self, trace: TraceSet) -> worlds.World:
        """The world whose replay gives ``trace``'s membership."""
        if self.world is not None:
            return worlds.get(self.world)
        return runner.membership_world(trace)

    def __call__(self, trace: TraceSet) -> dataset.Membership:
        if trace.name not in self._done:
            self._done[trace.name] = lr_mmt_membership(
                trace, self.world_of(trace))
        return self._done[trace.name]
