"""Value objects the planner reads and returns.

A :class:`ClusterSnapshot` is everything one audit knows about the
cluster, already fetched (hosts, VMs, where each VM runs, capacities and
constraints); a :class:`DemandForecast` is what the predictor (or the
reactive fallback) expects each VM to need over the horizon; a
:class:`Policy` holds the audit parameters; the planner answers with a
:class:`Plan`.  Arrays are indexed by host or VM number and must not be
mutated.  Units of CPU are the caller's (MIPS in the replay, physical
cores in Watcher) as long as capacities and demands agree.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class ClusterSnapshot:
    """One audit's view of the cluster.

    :param host_names: host names (Watcher node uuids or hostnames).
    :param host_cpu_capacity: usable CPU per host (after the allocation
        ratio and the reserve).
    :param host_ram_mb: RAM a host may allocate to VMs (after ratio and
        reserve); ``inf`` where memory does not constrain placement.
    :param host_disk_gb: disk a host may allocate; ``inf`` likewise.
    :param host_vcpus: vCPUs a host may allocate; ``inf`` likewise.
    :param host_accepts: may receive VMs (enabled, up, not excluded).
    :param host_zone: availability zone of each host.
    :param vm_names: VM names (instance uuids).
    :param vm_host: host number of each VM, -1 for a VM not placed.
    :param vm_vcpus: vCPUs of each VM.
    :param vm_ram_mb: RAM of each VM (what a live migration copies).
    :param vm_disk_gb: disk of each VM counted against the target.
    :param vm_movable: may be migrated (not locked, not excluded, not
        already migrating, not a pinned flavor without a fitting target).
    :param vm_zone: the availability zone a VM is pinned to, "" if none.
    :param vm_seconds_since_move: time since the VM last moved (``inf``
        if never), for the cooldown.
    :param vm_migration_cost: relative cost of moving each VM (RAM to copy
        inflated by its dirty-page rate); ``None``: the RAM alone.
    :param moves_last_hour: migrations already started in the last hour.
    :param host_migrations_running: migrations in flight per host (in or
        out), for the per-host concurrency cap.
    :param seconds_since_wake: time since a plan last moved a VM to a
        host that had none (``inf``: never, or not known), for the
        planner's pause of consolidation after a wake.
    :param host_core_capacity: CPU one core of each host gives, in the
        units of the forecast's demand (a vCPU runs on one core at a time
        and cannot go faster than it); ``None`` where every core is alike
        and no vCPU can ask for more than one, as when demand is counted
        in cores.
    :param vm_vcpu_capacity: the most CPU one vCPU of each VM may ask for
        (its flavor's speed), same units; ``None``: not known, the
        forecast's peak per vCPU stands for it.
    :param vm_seconds_since_consolidation: time since a consolidation
        last moved each VM (``inf`` if none did); ``None``: not known,
        and consolidation does not wait for it to settle.
    """

    host_names: tuple[str, ...]
    host_cpu_capacity: np.ndarray
    host_ram_mb: np.ndarray
    host_disk_gb: np.ndarray
    host_vcpus: np.ndarray
    host_accepts: np.ndarray
    host_zone: tuple[str, ...]
    vm_names: tuple[str, ...]
    vm_host: np.ndarray
    vm_vcpus: np.ndarray
    vm_ram_mb: np.ndarray
    vm_disk_gb: np.ndarray
    vm_movable: np.ndarray
    vm_zone: tuple[str, ...]
    vm_seconds_since_move: np.ndarray
    vm_migration_cost: Optional[np.ndarray] = None
    moves_last_hour: int = 0
    host_migrations_running: Optional[np.ndarray] = None
    seconds_since_wake: float = float("inf")
    host_core_capacity: Optional[np.ndarray] = None
    vm_seconds_since_consolidation: Optional[np.ndarray] = None
    vm_vcpu_capacity: Optional[np.ndarray] = None

    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_vms(self) -> int:
        return len(self.vm_names)


@dataclasses.dataclass(frozen=True)
class DemandForecast:
    """Each VM's CPU demand over the horizon, in capacity units.

    :param expected: the central forecast (median of the peak).
    :param upper: the forecast at the audit's quantile; ``upper -
        expected`` is the VM's own uncertainty, combined across a host's
        VMs as independent spreads (root of the summed squares).
    :param quantile: the quantile ``upper`` stands for.
    :param horizon_s: the horizon the forecast covers.
    :param source: ``model`` (the trained predictor), ``reactive`` (the
        rule on recent history), or the online forecasters that spoke,
        joined by ``+``.
    :param cold_start: VMs whose forecast is a prior, not their history.
    :param expected_long: the central forecast over the longer
        consolidation horizon (see :class:`ForecastSettings`); ``None``:
        the forecaster sees no further than ``horizon_s`` and
        ``expected`` stands for it.
    :param upper_long: the peak over the consolidation horizon at the
        audit's quantile; ``None``: ``upper`` stands for it.
    :param profile_shift: per VM, how far its behaviour profile moved
        ``upper`` (capacity units, signed: the forecast with the profile
        minus the one from its usage history alone; 0 where the profile
        was not believed, NaN where the VM reported none); ``None``: no
        profile was in use.  The evidence an action's reason names.
    :param forecaster: per VM, the name of the online forecaster that
        spoke for it (:mod:`~watcher_adaptive.core.online`); ``None``:
        the forecast came from elsewhere and ``source`` names it.
    """

    expected: np.ndarray
    upper: np.ndarray
    quantile: float
    horizon_s: float
    source: str = "model"
    cold_start: Optional[np.ndarray] = None
    expected_long: Optional[np.ndarray] = None
    upper_long: Optional[np.ndarray] = None
    profile_shift: Optional[np.ndarray] = None
    forecaster: Optional[np.ndarray] = None


@dataclasses.dataclass(frozen=True)
class Policy:
    """Audit parameters, already validated (see :mod:`.policy`).

    The defaults here are the product's defaults: the audit schema of the
    Watcher strategy derives its defaults from them and the replay's
    ``adaptive`` runs them, so what a replay shows is what an operator
    gets.  They were chosen on the development traces only
    (``doc/source/user/strategy.rst`` shows the sweep).
    """

    overload_threshold: float = 1.0
    target_utilization: float = 0.9
    underload_threshold: float = 0.6
    consolidate: bool = True
    max_migrations_per_audit: int = 100
    max_migrations_per_hour: int = 1000
    max_concurrent_per_host: int = 4
    vm_cooldown_s: float = 3600.0
    consolidation_cooldown_s: float = 3 * 3600.0
    consolidation_headroom: float = 0.0
    #: no consolidation this long after a plan woke a host (0: off)
    wake_pause_s: float = 6 * 3600.0
    #: a consolidation settles this long: a host holding a VM that a
    #: consolidation moved within it is not emptied, and no costlier
    #: host is emptied in its stead (0: off)
    consolidation_settle_s: float = 24 * 3600.0


@dataclasses.dataclass(frozen=True)
class ForecastSettings:
    """How an audit forecasts demand; defaults are the product's.

    :param quantile: the level the plan must stay safe at.
    :param horizon_s: how far ahead the forecast looks.
    :param window: samples the reactive rule looks at (one hour at the
        usual 300 s).
    :param forecaster: ``auto`` (per host group, the forecaster of
        :mod:`~watcher_adaptive.core.online` whose recent errors are
        lowest, the reactive rule unless another clearly wins),
        ``reactive`` (the last ``window`` samples' empirical quantile) or
        ``seasonal``.
    :param consolidation_horizon_s: how far ahead a host emptied to be
        powered down must stay unneeded: its VMs must fit on the others
        at the peak the forecaster sees over this horizon (a forecaster
        that sees no further, the reactive rule, answers its
        ``horizon_s`` forecast).
    """

    quantile: float = 0.9
    horizon_s: float = 1800.0
    window: int = 12
    forecaster: str = "auto"
    consolidation_horizon_s: float = 6 * 3600.0


@dataclasses.dataclass(frozen=True)
class PlannedMove:
    """One live migration and why.

    :param reason: ``overload`` (the source is predicted to cross the
        threshold within the horizon) or ``consolidation`` (the source can
        be emptied and powered down).
    :param source_load_before: the source's predicted load at the
        quantile, as a fraction of its capacity, before the plan.
    :param source_load_after: the same after this move.
    :param target_load_after: the target's predicted load after it.
    """

    vm: int
    source: int
    target: int
    reason: str
    source_load_before: float
    source_load_after: float
    target_load_after: float


@dataclasses.dataclass(frozen=True)
class Plan:
    """The planner's answer.

    :param host_load_before: predicted load at the quantile per host
        (fraction of capacity) before the plan.
    :param host_load_after: the same after every planned move.
    :param unresolved: hosts still over the threshold after the plan
        (no safe target, budget exhausted …).
    :param released: hosts the plan empties.
    :param skipped: why some wanted moves were not planned, counted by
        reason (``budget``, ``cooldown``, ``no_target`` …).
    :param woke_host: a move goes to a host that had no VM (the caller
        remembers when, for :attr:`ClusterSnapshot.seconds_since_wake`).
    """

    moves: tuple[PlannedMove, ...]
    host_load_before: np.ndarray
    host_load_after: np.ndarray
    overload_threshold: float
    unresolved: tuple[int, ...] = ()
    released: tuple[int, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()
    woke_host: bool = False

    @property
    def hosts_at_risk_before(self) -> int:
        return int(np.sum(self.host_load_before > self.overload_threshold))

    @property
    def hosts_at_risk_after(self) -> int:
        return int(np.sum(self.host_load_after > self.overload_threshold))
