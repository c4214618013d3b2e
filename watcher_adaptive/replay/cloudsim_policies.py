"""CloudSim's classic consolidation policies, as replay strategies.

* ``dvfs``: no migration at all (hosts only scale their power with load).
* ``thr-mmt:T``: a host is overloaded when its requested CPU exceeds ``T``
  of its capacity (static threshold, default 0.8).
* ``lr-mmt:S``: local regression over the host's last 10 utilisation
  samples, extrapolated past the next migration; overloaded when ``S``
  times the prediction reaches 100 % (default safety 1.2); a static 0.7
  threshold while the history is shorter than 10 samples.

Both migrating policies pick VMs with Minimum Migration Time (smallest
RAM first) until the host is no longer overloaded, place them with
Power-Aware Best-Fit Decreasing (the host whose power grows least, skipping
hosts the move would overload), and then try to empty under-utilised hosts
one at a time, least utilised first.  This follows CloudSim 3.0.3's
``PowerVmAllocationPolicyMigrationAbstract`` including its quirks (the
hosts that received VMs from overloaded hosts stay candidates for the
under-load pass; a host's current power is the one of the last frame).
"""
from __future__ import annotations

import abc
from typing import Optional

import numpy as np

from watcher_adaptive.core import local_regression
from watcher_adaptive.replay import api
from watcher_adaptive.replay import power

LR_WINDOW = local_regression.WINDOW
LR_FALLBACK_THRESHOLD = local_regression.FALLBACK_THRESHOLD


# ----------------------------------------------------------------------
# overload detection
class OverloadDetector(abc.ABC):
    """Decides whether hosts of a :class:`PlanState` are overloaded."""

    @abc.abstractmethod
    def hosts(self, ps: "PlanState", idx: np.ndarray) -> np.ndarray:
        """Overloaded flags for hosts ``idx`` as they are now."""

    @abc.abstractmethod
    def after_adding(self, ps: "PlanState", idx: np.ndarray,
                     vm: int) -> np.ndarray:
        """Overloaded flags for hosts ``idx`` if ``vm`` were added."""


class StaticThreshold(OverloadDetector):
    """Requested MIPS / capacity above a fixed threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def hosts(self, ps: "PlanState", idx: np.ndarray) -> np.ndarray:
        return ps.req_sum[idx] / ps.total[idx] > self.threshold

    def after_adding(self, ps: "PlanState", idx: np.ndarray,
                     vm: int) -> np.ndarray:
        return (ps.req_sum[idx] + ps.req[vm]) / ps.total[idx] > \
            self.threshold


class LocalRegression(OverloadDetector):
    """CloudSim's LR detector with its static-threshold fallback."""

    def __init__(self, safety: float,
                 fallback: float = LR_FALLBACK_THRESHOLD) -> None:
        self.safety = safety
        self.fallback = StaticThreshold(fallback)

    def _decide(self, hist: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        # a zero anywhere in the last 10 samples means a short history
        full = (hist > 0).all(axis=1)
        out = fallback.copy()
        if full.any():
            out[full] = self.safety * local_regression.predict(
                hist[full]) >= 1.0
        return out

    def hosts(self, ps: "PlanState", idx: np.ndarray) -> np.ndarray:
        return self._decide(ps.hist[idx], self.fallback.hosts(ps, idx))

    def after_adding(self, ps: "PlanState", idx: np.ndarray,
                     vm: int) -> np.ndarray:
        hist = ps.hist[idx] + ps.vm_hist[vm][None, :] * \
            ps.vms.mips[vm] / ps.total[idx][:, None]
        return self._decide(hist, self.fallback.after_adding(ps, idx, vm))


# ----------------------------------------------------------------------
class PlanState:
    """A scratch copy of the cluster a policy plans on (CloudSim's
    ``saveAllocation`` / ``restoreAllocation`` pair, without the restore:
    the copy is simply dropped)."""

    def __init__(self, view: api.ClusterView) -> None:
        hosts, vms = view.hosts, view.vms
        # NOTE(wa): in CloudSim 3.0.3 a VM asks for its RAM and bandwidth
        # only while it is being created; afterwards its (null) utilisation
        # models request zero, so neither limits a migration.  The
        # ``cloudsim`` world reproduces that (no limits); in a world with
        # limits the policy checks RAM and vCPUs as Nova's scheduler would
        # (the fair, RAM-aware MMT), and nothing else.
        self.limits = view.host_limits()
        self.memory_aware = self.limits.enforced
        self.hosts, self.vms = hosts, vms
        self.total = hosts.total_mips.astype(np.float64)
        self.pe_mips = hosts.mips_per_pe.astype(np.float64)
        self.enabled = view.host_enabled
        self.vm_total_mips = vms.total_mips.astype(np.float64)
        self.util = view.vm_cpu_util
        self.req_pe = view.vm_cpu_util * vms.mips
        self.req = self.req_pe * vms.pes
        hist = view.vm_cpu_history[:, ::-1][:, :LR_WINDOW]
        self.vm_hist = np.nan_to_num(hist, nan=0.0)
        self.in_migration = view.vm_in_migration
        u = view.host_allocated_mips / self.total
        self.frame_util = np.where((u > 1) & (u < 1.01), 1.0, u)
        self.frame_power = power.power_at(hosts.power_w,
                                          np.minimum(self.frame_util, 1.0))
        nh = hosts.n
        self.members: list[list[int]] = [[] for _ in range(nh)]
        placed = np.flatnonzero(view.vm_host >= 0)
        seq = (view.vm_list_seq if view.vm_list_seq is not None
               else np.arange(vms.n))
        order = placed[np.lexsort((seq[placed], view.vm_host[placed]))]
        for vm in order:
            self.members[int(view.vm_host[vm])].append(int(vm))
        for vm in np.flatnonzero(view.vm_migration_target >= 0):
            self.members[int(view.vm_migration_target[vm])].append(int(vm))
        self.migrating_in = {(int(v), int(view.vm_migration_target[v]))
                             for v in np.flatnonzero(
                                 view.vm_migration_target >= 0)}
        self.req_sum = np.zeros(nh)
        self.util_mips = np.zeros(nh)
        self.avail = self.total.copy()
        self.ram_free = self.limits.ram_mb.astype(np.float64).copy()
        self.vcpu_free = self.limits.vcpus.astype(np.float64).copy()
        self.hist = np.zeros((nh, LR_WINDOW))
        for h in range(nh):
            if self.members[h]:
                self.recompute(h)

    def recompute(self, h: int) -> None:
        """Refresh host ``h``'s sums from its member list, in list order
        (the order CloudSim sums in)."""
        vms = self.vms
        capped_total = 0.0
        capped: list[float] = []
        req_sum = 0.0
        ram = 0.0
        vcpus = 0.0
        hist = np.zeros(LR_WINDOW)
        for vm in self.members[h]:
            c = min(self.req_pe[vm], self.pe_mips[h]) * vms.pes[vm]
            if (vm, h) in self.migrating_in:
                c *= 0.1
            capped.append(c)
            capped_total += c
            req_sum += self.req[vm]
            ram += vms.ram_mb[vm]
            vcpus += vms.pes[vm]
            hist += self.vm_hist[vm] * vms.mips[vm] / self.total[h]
        if capped_total <= self.total[h]:
            self.util_mips[h] = capped_total
            self.avail[h] = self.total[h] - capped_total
        else:
            scale = self.total[h] / capped_total
            self.util_mips[h] = float(sum(np.floor(c * scale)
                                          for c in capped))
            self.avail[h] = 0.0
        self.req_sum[h] = req_sum
        self.ram_free[h] = self.limits.ram_mb[h] - ram
        self.vcpu_free[h] = self.limits.vcpus[h] - vcpus
        self.hist[h] = hist

    def add(self, vm: int, h: int) -> None:
        self.members[h].append(vm)
        self.recompute(h)

    def remove(self, vm: int, h: int) -> None:
        self.members[h].remove(vm)
        self.recompute(h)

    def find_host(self, vm: int, excluded: np.ndarray,
                  detector: OverloadDetector) -> Optional[int]:
        """Power-Aware Best Fit: the allowed host whose power grows least."""
        ok = (~excluded & self.enabled
              & (self.pe_mips >= self.req_pe[vm])
              & (self.avail >= self.req[vm]))
        if self.memory_aware:
            ok &= ((self.ram_free >= self.vms.ram_mb[vm] - 1e-6)
                   & (self.vcpu_free >= self.vms.pes[vm] - 1e-6))
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            return None
        busy = self.util_mips[cand] != 0
        if busy.any():
            over = np.zeros(cand.size, dtype=bool)
            over[busy] = detector.after_adding(self, cand[busy], vm)
            cand = cand[~over]
        if cand.size == 0:
            return None
        after = (self.util_mips[cand] + self.req[vm]) / self.total[cand]
        cand, after = cand[after <= 1.0], after[after <= 1.0]
        if cand.size == 0:
            return None
        diff = power.power_at(self.hosts.power_w[cand], after) - \
            self.frame_power[cand]
        return int(cand[int(np.argmin(diff))])

    def by_cpu_desc(self, vms: list[int]) -> list[int]:
        """Stable sort by CPU in use (MIPS), largest first."""
        return sorted(vms, key=lambda v: -self.util[v] * self.vms.mips[v])


def plan_migrations(view: api.ClusterView,
                    detector: OverloadDetector) -> list[api.Move]:
    """One CloudSim ``optimizeAllocation`` pass: the migration map."""
    ps = PlanState(view)
    nh = view.hosts.n
    all_hosts = np.arange(nh)
    overloaded = detector.hosts(ps, all_hosts)
    moves: list[api.Move] = []
    # 1. relieve overloaded hosts: smallest RAM first until not overloaded
    to_move: list[int] = []
    for h in np.flatnonzero(overloaded):
        h = int(h)
        while True:
            vm = _min_migration_time_vm(ps, h)
            if vm is None:
                break
            to_move.append(vm)
            ps.remove(vm, h)
            if not detector.hosts(ps, np.array([h]))[0]:
                break
    for vm in ps.by_cpu_desc(to_move):
        target = ps.find_host(vm, overloaded, detector)
        if target is not None:
            ps.add(vm, target)
            moves.append(api.Move(vm, target, reason="overload"))
    # 2. empty under-utilised hosts, least utilised first
    switched_off = ps.frame_util == 0
    skip_under = overloaded | switched_off
    skip_place = overloaded | switched_off
    # NOTE(wa): CloudSim picks the least utilised eligible host anew after
    # each host it empties.  The frame's utilisation does not change
    # within the pass, and a host's eligibility changes only when it
    # receives a VM, which also takes it out of the pass (a placement
    # rolled back leaves its VM list as it was): so the order can be
    # taken once, least utilised first, ties by host number, skipping
    # the hosts taken out since.  Same moves, without a scan of every
    # host per host emptied (half an LR-MMT run's time on 800 hosts).
    cand = np.flatnonzero(~skip_under & (ps.frame_util > 0)
                          & (ps.frame_util < 1))
    cand = cand[np.lexsort((cand, ps.frame_util[cand]))]
    for host in (int(h) for h in cand
                 if _eligible_underloaded(ps, int(h))):
        if skip_under[host]:
            continue
        skip_under[host] = True
        skip_place[host] = True
        vms = [v for v in ps.members[host] if not ps.in_migration[v]]
        if not vms:
            continue
        placed: list[tuple[int, int]] = []
        for vm in ps.by_cpu_desc(vms):
            target = ps.find_host(vm, skip_place, detector)
            if target is None:
                for v, t in placed:
                    ps.remove(v, t)
                placed = []
                break
            ps.add(vm, target)
            placed.append((vm, target))
        for vm, target in placed:
            skip_under[target] = True
            moves.append(api.Move(vm, target, reason="underload"))
    return moves


def _min_migration_time_vm(ps: PlanState, h: int) -> Optional[int]:
    best, best_ram = None, np.inf
    for vm in ps.members[h]:
        if ps.in_migration[vm]:
            continue
        if ps.vms.ram_mb[vm] < best_ram:
            best, best_ram = vm, ps.vms.ram_mb[vm]
    return best


def _eligible_underloaded(ps: PlanState, h: int) -> bool:
    """CloudSim skips a host whose VMs are all leaving, or that is
    receiving one (checked in list order)."""
    for vm in ps.members[h]:
        if not ps.in_migration[vm]:
            return True
        if (vm, h) in ps.migrating_in:
            return False
    return False


# ----------------------------------------------------------------------
# initial placement
def _initial(hosts: api.HostTable, vms: api.VmTable,
             threshold: Optional[float],
             limits: Optional[api.Limits] = None) -> np.ndarray:
    """Place VMs one by one as CloudSim does at start: each new VM asks
    for its full MIPS, its RAM and its bandwidth, and, in a world with
    limits, fits in the host's RAM and vCPU limits.  ``threshold=None``
    is first fit (``dvfs``); else power-aware best fit skipping hosts
    whose requested load would exceed ``threshold`` (VMs already placed
    request nothing yet, as in CloudSim, where their workload has not
    been submitted)."""
    nh = hosts.n
    total = hosts.total_mips.astype(np.float64)
    pe = hosts.mips_per_pe.astype(np.float64)
    allocated = np.zeros(nh)
    ram_free = hosts.ram_mb.astype(np.float64).copy()
    bw_free = hosts.bw_mbps.astype(np.float64).copy()
    vcpu_free = np.full(nh, np.inf)
    if limits is not None:
        ram_free = np.minimum(ram_free, limits.ram_mb)
        vcpu_free = limits.vcpus.astype(np.float64).copy()
    idle_power = power.power_at(hosts.power_w, np.zeros(nh))
    out = np.full(vms.n, -1, dtype=np.int64)
    for vm in range(vms.n):
        need = float(vms.mips[vm] * vms.pes[vm])
        ok = ((pe >= vms.mips[vm]) & (total - allocated >= need)
              & (ram_free >= vms.ram_mb[vm]) & (bw_free >= vms.bw_mbps[vm])
              & (vcpu_free >= vms.pes[vm]))
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            continue
        if threshold is None:
            host = int(cand[0])
        else:
            busy = allocated[cand] != 0
            cand = cand[~(busy & (need / total[cand] > threshold))]
            if cand.size == 0:
                continue
            after = (allocated[cand] + need) / total[cand]
            cand, after = cand[after <= 1.0], after[after <= 1.0]
            if cand.size == 0:
                continue
            diff = power.power_at(hosts.power_w[cand], after) - \
                idle_power[cand]
            host = int(cand[int(np.argmin(diff))])
        out[vm] = host
        allocated[host] += need
        ram_free[host] -= vms.ram_mb[vm]
        bw_free[host] -= vms.bw_mbps[vm]
        vcpu_free[host] -= vms.pes[vm]
    return out


def first_fit_initial_placement(hosts: api.HostTable, vms: api.VmTable,
                                util0: Optional[np.ndarray],
                                limits: Optional[api.Limits] = None,
                                ) -> np.ndarray:
    return _initial(hosts, vms, None, limits)


def pabfd_initial_placement(hosts: api.HostTable, vms: api.VmTable,
                            util0: Optional[np.ndarray],
                            limits: Optional[api.Limits] = None,
                            threshold: float = LR_FALLBACK_THRESHOLD
                            ) -> np.ndarray:
    return _initial(hosts, vms, threshold, limits)


# ----------------------------------------------------------------------
# strategies
class NoMigration(api.ReplayStrategy):
    """``dvfs``: first-fit placement, then never migrate."""

    name = "dvfs"

    def decide(self, view: api.ClusterView) -> api.Decision:
        return api.Decision()

    def initial_placement(self, hosts: api.HostTable, vms: api.VmTable,
                          util0: np.ndarray,
                          limits: Optional[api.Limits] = None) -> np.ndarray:
        return first_fit_initial_placement(hosts, vms, util0, limits)

    def describe(self) -> str:
        return "dvfs (no migration, first-fit placement)"


class _MmtPolicy(api.ReplayStrategy):
    detector: OverloadDetector
    placement_threshold: float

    def decide(self, view: api.ClusterView) -> api.Decision:
        return api.Decision(moves=tuple(plan_migrations(view,
                                                        self.detector)))

    def initial_placement(self, hosts: api.HostTable, vms: api.VmTable,
                          util0: np.ndarray,
                          limits: Optional[api.Limits] = None) -> np.ndarray:
        return _initial(hosts, vms, self.placement_threshold, limits)


class ThrMmt(_MmtPolicy):
    """``thr-mmt:T`` — static threshold ``T`` (default 0.8) + MMT."""

    name = "thr-mmt"

    def __init__(self, threshold: float = 0.8) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("thr-mmt threshold must be in (0, 1]")
        self.threshold = threshold
        if threshold != 0.8:
            self.name = f"thr-mmt:{threshold:g}"
        self.detector = StaticThreshold(threshold)
        self.placement_threshold = threshold

    @classmethod
    def from_spec(cls, param: Optional[str]) -> "ThrMmt":
        return cls(_float_param(cls.name, param, 0.8))

    def describe(self) -> str:
        return f"thr-mmt {self.threshold:g} (static threshold, MMT, PABFD)"


class LrMmt(_MmtPolicy):
    """``lr-mmt:S`` — local regression with safety ``S`` (default 1.2)."""

    name = "lr-mmt"

    def __init__(self, safety: float = 1.2) -> None:
        if not 0 < safety <= 10:
            raise ValueError("lr-mmt safety parameter must be in (0, 10]")
        self.safety = safety
        if safety != 1.2:
            self.name = f"lr-mmt:{safety:g}"
        self.detector = LocalRegression(safety)
        self.placement_threshold = LR_FALLBACK_THRESHOLD

    @classmethod
    def from_spec(cls, param: Optional[str]) -> "LrMmt":
        return cls(_float_param(cls.name, param, 1.2))

    def describe(self) -> str:
        return f"lr-mmt {self.safety:g} (local regression, MMT, PABFD)"


def _float_param(name: str, param: Optional[str], default: float) -> float:
    if param is None or param == "":
        return default
    try:
        return float(param)
    except ValueError:
        raise ValueError(f"{name}: parameter must be a number, "
                         f"got {param!r}") from None
