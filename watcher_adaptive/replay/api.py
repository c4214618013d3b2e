"""The contract between the replay engine and every strategy it runs.

At each audit the engine hands a strategy a read-only :class:`ClusterView`
(numpy arrays indexed by host and VM number) and applies the
:class:`Decision` it returns.  Plugging a new strategy into the replay is
one subclass of :class:`ReplayStrategy`.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class HostTable:
    """Static description of the simulated hosts (index = host number).

    :param names: host names (``host-0`` …), used as Watcher node names.
    :param pes: processing elements (cores / vCPUs) per host.
    :param mips_per_pe: capacity of one PE in MIPS.
    :param ram_mb: RAM per host.
    :param bw_mbps: network bandwidth per host, Mbit/s.
    :param power_w: ``(n_hosts, 11)`` power draw at 0, 10, …, 100 %.
    :param model: a short label per host (``HP ProLiant ML110 G4`` …).
    """

    names: tuple[str, ...]
    pes: np.ndarray
    mips_per_pe: np.ndarray
    ram_mb: np.ndarray
    bw_mbps: np.ndarray
    power_w: np.ndarray
    model: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def total_mips(self) -> np.ndarray:
        return self.pes * self.mips_per_pe


@dataclasses.dataclass(frozen=True)
class VmTable:
    """Static description of the simulated VMs (index = VM number).

    :param names: VM ids from the trace (file names for PlanetLab).
    :param mips: requested capacity in MIPS (per PE).
    :param pes: PEs (vCPUs) per VM.
    :param ram_mb: allocated RAM, the amount a live migration copies.
    :param bw_mbps: network bandwidth reserved per VM, Mbit/s.
    """

    names: tuple[str, ...]
    mips: np.ndarray
    pes: np.ndarray
    ram_mb: np.ndarray
    bw_mbps: np.ndarray

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def total_mips(self) -> np.ndarray:
        return self.mips * self.pes


@dataclasses.dataclass(frozen=True)
class Limits:
    """What each host may allocate to its VMs (index = host number).

    :param ram_mb: RAM, ``inf`` where RAM does not limit placement.
    :param vcpus: vCPUs (cores times the allocation ratio), ``inf`` where
        they do not limit placement.
    """

    ram_mb: np.ndarray
    vcpus: np.ndarray

    @property
    def enforced(self) -> bool:
        return bool(np.isfinite(self.ram_mb).any()
                    or np.isfinite(self.vcpus).any())


@dataclasses.dataclass(frozen=True)
class ClusterView:
    """What a strategy may read at one audit.  Arrays must not be mutated.

    :param time_s: simulated time of the audit (seconds from start).
    :param interval_s: trace sample interval.
    :param hosts: the static host table.
    :param vms: the static VM table.
    :param vm_host: host number each VM runs on (its source while it
        migrates), -1 for a VM not placed.
    :param vm_migration_target: destination of a VM in migration, else -1.
    :param vm_cpu_util: each VM's current CPU demand as a fraction of its
        own capacity (``vms.total_mips``).
    :param vm_cpu_history: ``(n_vms, k)`` the last ``k`` per-interval CPU
        utilisation samples of each VM (oldest first, NaN where the VM has
        no sample yet); ``k`` is the engine's history length.
    :param vm_memory_used_mb: memory in use where the trace has it
        (else ``None``: treat ``vms.ram_mb`` as used).
    :param host_enabled: ``False`` for hosts a strategy disabled (a
        disabled host receives no VMs; its VMs keep running).
    :param host_allocated_mips: MIPS the hosts' schedulers granted their
        VMs during the last frame (a VM migrating out counts in full).
    :param vm_list_seq: order in which VMs joined their host's VM list
        (smaller = earlier), for policies whose ties follow that order.
    :param limits: what each host may allocate to VMs in the replay's
        world (:mod:`~watcher_adaptive.replay.worlds`); the engine refuses
        a move that breaks them.  ``None``: unlimited.
    """

    time_s: float
    interval_s: float
    hosts: HostTable
    vms: VmTable
    vm_host: np.ndarray
    vm_migration_target: np.ndarray
    vm_cpu_util: np.ndarray
    vm_cpu_history: np.ndarray
    host_enabled: np.ndarray
    host_allocated_mips: np.ndarray
    vm_memory_used_mb: Optional[np.ndarray] = None
    vm_list_seq: Optional[np.ndarray] = None
    limits: Optional["Limits"] = None

    def host_limits(self) -> "Limits":
        """:attr:`limits`, or unlimited ones."""
        if self.limits is not None:
            return self.limits
        unlimited = np.full(self.hosts.n, np.inf)
        return Limits(ram_mb=unlimited, vcpus=unlimited.copy())

    @property
    def vm_in_migration(self) -> np.ndarray:
        return self.vm_migration_target >= 0

    def host_vms(self, host: int) -> np.ndarray:
        """VM numbers placed on ``host`` (not counting ones migrating in)."""
        return np.flatnonzero(self.vm_host == host)


@dataclasses.dataclass(frozen=True)
class Move:
    """One live migration a strategy asks for."""

    vm: int
    target: int
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Decision:
    """Everything a strategy decided at one audit."""

    moves: tuple[Move, ...] = ()
    disable_hosts: tuple[int, ...] = ()
    enable_hosts: tuple[int, ...] = ()
    note: str = ""


class ReplayStrategy(abc.ABC):
    """A migration policy the replay can run.

    Subclasses set :attr:`name` (the key used in ``results.json`` and on
    the command line) and implement :meth:`decide`.  The engine calls
    :meth:`decide` every :attr:`audit_interval_s` seconds of simulated
    time.  A strategy that raises is recorded as failed by the engine and
    the run of the other strategies goes on.
    """

    #: key in ``results.json`` / ``--strategies``
    name: str = "abstract"
    #: simulated seconds between two audits
    audit_interval_s: float = 300.0

    @abc.abstractmethod
    def decide(self, view: ClusterView) -> Decision:
        """Return the migrations to start now."""

    def describe(self) -> str:
        """One line for reports: the parameters this run used."""
        return self.name

    @classmethod
    def from_spec(cls, param: Optional[str]) -> "ReplayStrategy":
        """Build the strategy from the ``param`` of ``name[:param]``.

        The registry calls this for ``--strategies`` entries; a strategy
        that takes no parameter rejects one.
        """
        if param:
            raise ValueError(f"strategy {cls.name!r} takes no parameter "
                             f"(got {param!r})")
        return cls()
