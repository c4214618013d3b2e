"""The rules a replay enforces: its *world*.

Every strategy in one comparison runs in the same world, and a result
says which (``results.json`` ``constraints``, the report's header).

``realistic``
    What Nova's scheduler enforces with its default allocation ratios
    (``initial_ram_allocation_ratio`` 1.0, ``initial_cpu_allocation_ratio``
    4.0): at the start and for every live migration, a host's VMs fit in
    its RAM and its vCPUs times 4.  VMs stay when their demand drops to
    zero (an idle server is still a server).  Every strategy sees these
    limits and the engine refuses a move that breaks them.
``cloudsim``
    CloudSim 3.0.3's power-aware model, kept for the validation against
    CloudSim's own output: a VM reserves RAM and bandwidth only when it is
    created, so migrations are limited by CPU alone; on PlanetLab a VM
    whose demand drops to exactly 0 % has finished and leaves.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from watcher_adaptive.replay import api

#: Nova's defaults (``[DEFAULT] initial_*_allocation_ratio``)
NOVA_RAM_ALLOCATION_RATIO = 1.0
NOVA_CPU_ALLOCATION_RATIO = 4.0


@dataclasses.dataclass(frozen=True)
class World:
    """One set of replay rules.

    :param name: the ``--constraints`` value.
    :param enforces_capacity: RAM and vCPUs limit placement and moves.
    :param ram_allocation_ratio: host RAM times this may be allocated.
    :param cpu_allocation_ratio: host cores times this in vCPUs.
    :param idle_vms_leave_planetlab: CloudSim's "zero demand = finished"
        rule, on PlanetLab traces only.
    :param enforces: what the world enforces, for the report.
    :param ignores: what it leaves out, for the report.
    """

    name: str
    enforces_capacity: bool
    ram_allocation_ratio: float
    cpu_allocation_ratio: float
    idle_vms_leave_planetlab: bool
    enforces: str
    ignores: str

    def limits(self, hosts: api.HostTable) -> api.Limits:
        """What each host may allocate to VMs (``inf``: unlimited)."""
        if not self.enforces_capacity:
            unlimited = np.full(hosts.n, np.inf)
            return api.Limits(ram_mb=unlimited, vcpus=unlimited.copy())
        return api.Limits(
            ram_mb=hosts.ram_mb.astype(float) * self.ram_allocation_ratio,
            vcpus=hosts.pes.astype(float) * self.cpu_allocation_ratio)

    def header(self) -> str:
        """One line for reports: the world, what it enforces and not."""
        return (f"world '{self.name}': enforces {self.enforces}; "
                f"ignores {self.ignores}")


REALISTIC = World(
    name="realistic", enforces_capacity=True,
    ram_allocation_ratio=NOVA_RAM_ALLOCATION_RATIO,
    cpu_allocation_ratio=NOVA_CPU_ALLOCATION_RATIO,
    idle_vms_leave_planetlab=False,
    enforces=(f"host RAM (allocation ratio "
              f"{NOVA_RAM_ALLOCATION_RATIO:g}) and vCPUs (allocation ratio "
              f"{NOVA_CPU_ALLOCATION_RATIO:g}) at start and on every "
              "migration, for every strategy; idle VMs stay"),
    ignores="network bandwidth reservations, disk, migration energy")
CLOUDSIM = World(
    name="cloudsim", enforces_capacity=False,
    ram_allocation_ratio=np.inf, cpu_allocation_ratio=np.inf,
    idle_vms_leave_planetlab=True,
    enforces=("host CPU only; RAM and bandwidth are reserved when a VM is "
              "created (CloudSim 3.0.3), not on migration; PlanetLab VMs "
              "whose demand drops to 0 % leave"),
    ignores="RAM and vCPU limits on migration, migration energy")

WORLDS = {w.name: w for w in (REALISTIC, CLOUDSIM)}
DEFAULT = REALISTIC.name


def get(name: str) -> World:
    """The world called ``name``.

    :raises ValueError: naming the worlds there are.
    """
    try:
        return WORLDS[name]
    except KeyError:
        raise ValueError(f"unknown constraints world {name!r}; choose "
                         f"{' or '.join(sorted(WORLDS))}") from None
