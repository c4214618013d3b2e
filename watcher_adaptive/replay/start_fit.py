"""Does every VM find a host at the start of a replay?

The engine leaves out a VM that its strategy's start-up placement cannot
put anywhere (and notes it); with too few ``--hosts`` that silently
turns a replay of 1,052 VMs into one of a dozen.  Each strategy's
start-up placement is a single cheap pass over the VMs, so it is run here
for every strategy before any replay starts, and the command refuses or
warns before minutes of work.
"""
from __future__ import annotations

import dataclasses
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import cloudsim_policies


@dataclasses.dataclass(frozen=True)
class StartFit:
    """How many VMs the worst start-up placement leaves without a host."""

    n_vms: int
    n_hosts: int
    unplaced: int
    #: the strategy whose placement leaves the most out ("" when none)
    worst: str
    #: a few of the VMs it leaves out, for the message
    examples: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.unplaced == 0


def check(hosts: api.HostTable, vms: api.VmTable, util0: np.ndarray,
          strategies: Sequence[api.ReplayStrategy],
          limits: Optional[api.Limits] = None) -> StartFit:
    """Run each strategy's start-up placement (the engine's default,
    power-aware best fit, where it has none) within the world's
    ``limits`` and keep the worst."""
    worst = StartFit(vms.n, hosts.n, 0, "", ())
    for strategy in strategies:
        place = getattr(strategy, "initial_placement", None) or \
            cloudsim_policies.pabfd_initial_placement
        placement = np.asarray(place(hosts, vms, util0, limits))
        missing = np.flatnonzero(placement < 0)
        if missing.size > worst.unplaced:
            worst = StartFit(vms.n, hosts.n, int(missing.size),
                             strategy.name,
                             tuple(vms.names[i] for i in missing[:3]))
    return worst
