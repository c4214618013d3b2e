"""The replay engine: a discrete-event model of a power-aware cloud.

It follows CloudSim 3.0.3's power package (read for facts, written anew):

* A VM's CPU demand is its trace utilisation times its MIPS, linearly
  interpolated between trace samples.  Hosts share their PEs time-shared
  with over-subscription: when the demand exceeds capacity every VM gets
  the same fraction (rounded down).  A VM migrating out gets 90 % of its
  demand; its destination reserves 10 % of it for the migration.
* The data centre is processed at every scheduling frame
  (``start_offset + k * scheduling_interval``) and whenever a migration
  completes; migration time is ``RAM / (bandwidth / 2)``.
* Energy of a frame is the mean of the host's power at the frame's start
  and end utilisation times its length, and zero when the host was idle
  (off) at the start.  Migrations cost no energy.
* SLATAH, PDM, SLAV and host shutdowns are computed from per-frame host
  and VM states as CloudSim's ``Helper`` does (pooled, not averaged).
* CloudSim quirk kept on purpose for the validation: a VM whose demand is
  exactly zero at a frame (and is not migrating) is treated as finished and
  leaves the data centre for good (``remove_idle_vms``).

The engine owns the state; a :class:`~watcher_adaptive.replay.api.
ReplayStrategy` sees a read-only :class:`~watcher_adaptive.replay.api.
ClusterView` at each audit and returns moves, which the engine validates.
"""
from __future__ import annotations

import dataclasses
import heapq
import time
from typing import Callable
from typing import Optional
from typing import Protocol

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import bound
from watcher_adaptive.replay import cloudsim_policies
from watcher_adaptive.replay import power
from watcher_adaptive.replay import results

#: per-VM utilisation samples kept for strategies (CloudSim keeps 30)
HISTORY_LENGTH = 30

#: at most this many cells (frames x hosts, one byte each) of the host
#: utilisation matrix a run keeps for the report's heatmap: 2 MB per
#: strategy whatever the trace's length or the cluster's size; longer
#: runs keep every k-th frame
HOST_UTIL_CELLS = 2_000_000

ProgressFn = Callable[[float], None]


class InitialPlacement(Protocol):
    def __call__(self, hosts: api.HostTable, vms: api.VmTable,
                 util0: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass
class _Migration:
    vm: int
    source: int
    target: int
    end_s: float
    seq: int  # position in the target's VM list while it migrates in


class ReplayEngine:
    """Replays one trace on one cluster; :meth:`run` takes a strategy.

    :param hosts: the host table.
    :param vms: the VM table (same order as ``cpu`` rows).
    :param cpu: ``(n_vms, n_samples)`` utilisation fractions.
    :param trace_interval_s: seconds between two trace samples.
    :param scheduling_interval_s: seconds between two frames.
    :param duration_s: simulated time; events after it are not processed.
    :param start_offset_s: time of frame 0 (CloudSim starts at 0.1 s).
    :param remove_idle_vms: keep CloudSim's "zero demand = finished" rule.
    :param limits: what each host may allocate (RAM, vCPUs) in the
        replay's world (:mod:`~watcher_adaptive.replay.worlds`); the
        start placement and every move must fit.  ``None``: unlimited,
        as in CloudSim 3.0.3, whose VMs reserve memory only when created.
    :param memory_used_mb: optional ``(n_vms, n_samples)`` for strategies.
    """

    def __init__(self, hosts: api.HostTable, vms: api.VmTable,
                 cpu: np.ndarray, trace_interval_s: float = 300.0,
                 scheduling_interval_s: float = 300.0,
                 duration_s: Optional[float] = None,
                 start_offset_s: float = 0.1,
                 remove_idle_vms: bool = True,
                 limits: Optional[api.Limits] = None,
                 memory_used_mb: Optional[np.ndarray] = None) -> None:
        if cpu.shape[0] != vms.n:
            raise ValueError("cpu rows must match the VM table")
        self.hosts = hosts
        self.vms = vms
        samples = cpu.astype(np.float64)
        percent = np.round(samples * 100.0)
        if np.all(np.abs(samples * 100.0 - percent) < 1e-3):
            # integer percentages (PlanetLab): rebuild them exactly as
            # CloudSim reads them, value / 100.0 in double precision
            samples = percent / 100.0
        # CloudSim reads n samples and repeats the last one, so that the
        # interpolation at the end of the last interval has a right end.
        self.samples = np.concatenate([samples, samples[:, -1:]], axis=1)
        self.memory_used_mb = memory_used_mb
        self.trace_interval_s = float(trace_interval_s)
        self.scheduling_interval_s = float(scheduling_interval_s)
        self.duration_s = float(duration_s if duration_s is not None
                                else cpu.shape[1] * trace_interval_s)
        self.start_offset_s = float(start_offset_s)
        self.remove_idle_vms = remove_idle_vms
        if limits is None:
            unlimited = np.full(hosts.n, np.inf)
            limits = api.Limits(ram_mb=unlimited, vcpus=unlimited.copy())
        self.limits = limits
        self._host_total = hosts.total_mips.astype(np.float64)
        self._host_pe = hosts.mips_per_pe.astype(np.float64)
        self._vm_pes = vms.pes.astype(np.float64)
        self._vm_mips = vms.mips.astype(np.float64)
        # migration time = RAM / (bandwidth / 2), bandwidth in MB/s
        self._bw_mb_s = hosts.bw_mbps / 8.0

    def frame_times(self) -> np.ndarray:
        """Times of the scheduling frames the engine processes."""
        n = max(1, int((self.duration_s - self.start_offset_s)
                       // self.scheduling_interval_s))
        return self.start_offset_s + self.scheduling_interval_s * \
            np.arange(1, n + 1)

    def fluid_bound_kwh(self) -> float:
        """The physical energy floor of this trace in this engine's world
        (:mod:`~watcher_adaptive.replay.bound`)."""
        return bound.fluid_bound_kwh(
            self.hosts, self.vms, self.utilization_at, self.frame_times(),
            self.limits)

    def fluid_bound_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The floor accumulated frame by frame: ``(times_s, kwh)``
        (:func:`~watcher_adaptive.replay.bound.fluid_bound_curve`)."""
        return bound.fluid_bound_curve(
            self.hosts, self.vms, self.utilization_at, self.frame_times(),
            self.limits)

    # ------------------------------------------------------------------
    # trace
    def utilization_at(self, t: float) -> np.ndarray:
        """Every VM's demand (fraction of its capacity) at time ``t``."""
        step = self.trace_interval_s
        last = self.samples.shape[1] - 1
        if t % step == 0:
            k = min(int(t // step), last)
            return self.samples[:, k]
        k1 = min(int(np.floor(t / step)), last)
        k2 = min(int(np.ceil(t / step)), last)
        u1 = self.samples[:, k1]
        u2 = self.samples[:, k2]
        delta = (u2 - u1) / ((k2 - k1) * step) if k2 > k1 else 0.0
        return u1 + delta * (t - k1 * step)

    # ------------------------------------------------------------------
    def run(self, strategy: api.ReplayStrategy,
            progress: Optional[ProgressFn] = None,
            placements: Optional[list[np.ndarray]] = None,
            ) -> results.StrategyRun:
        """Replay the whole trace under ``strategy``.

        :param placements: when given, receives a copy of every VM's host
            (-1 when gone) after each scheduling frame, e.g. for the
            predictor's backtest, which needs LR-MMT's host membership.
        """
        started = time.perf_counter()
        run = _Run(self, strategy)
        run.placements = placements
        try:
            run.execute(progress)
        except Exception as exc:  # noqa: BLE001 - recorded, run goes on
            return results.StrategyRun(
                name=strategy.name, description=strategy.describe(),
                metrics=None, timeline=None,
                wall_s=time.perf_counter() - started,
                audit_interval_s=strategy.audit_interval_s,
                audits=run.audits, failed_audits=run.failed_audits,
                error=f"{type(exc).__name__}: {exc}")
        return results.StrategyRun(
            name=strategy.name, description=strategy.describe(),
            metrics=run.metrics(), timeline=run.timeline(),
            wall_s=time.perf_counter() - started,
            audit_interval_s=strategy.audit_interval_s,
            audits=run.audits, failed_audits=run.failed_audits,
            error=None, notes=tuple(run.notes))


class _Run:
    """Mutable state of one strategy's replay."""

    def __init__(self, engine: ReplayEngine,
                 strategy: api.ReplayStrategy) -> None:
        self.e = engine
        self.strategy = strategy
        nh, nv = engine.hosts.n, engine.vms.n
        self.vm_host = np.full(nv, -1, dtype=np.int64)
        self.vm_alive = np.ones(nv, dtype=bool)
        self.vm_seq = np.zeros(nv, dtype=np.int64)
        self._seq = 0
        self.vm_pending = np.zeros(nv, dtype=np.int64)  # migrations open
        self.vm_target = np.full(nv, -1, dtype=np.int64)
        self.migrations: list[tuple[float, int, _Migration]] = []
        self._mig_counter = 0
        self.host_enabled = np.ones(nh, dtype=bool)
        self.vm_requested = np.zeros(nv)
        self.vm_util = np.zeros(nv)
        # utilisation history, most recent first (CloudSim's order)
        self.vm_hist = np.zeros((nv, HISTORY_LENGTH))
        self.vm_hist_len = np.zeros(nv, dtype=np.int64)
        self.host_util_mips = np.zeros(nh)
        self.host_requested = np.zeros(nh)
        self.host_active = np.zeros(nh, dtype=bool)
        self.last_process_s = 0.0
        self.energy_ws = 0.0
        self.n_migrations = 0
        self.rejected_moves = 0
        self.audits = 0
        self.failed_audits = 0
        self.notes: list[str] = []
        self._last_audit_s = -np.inf
        # state-history accumulators (value of the entry open since *_t)
        self.vm_entry_t = np.full(nv, np.nan)
        self.vm_entry_a = np.zeros(nv)
        self.vm_entry_r = np.zeros(nv)
        self.vm_entry_mig = np.zeros(nv, dtype=bool)
        self.vm_req_time = 0.0
        self.vm_alloc_time = 0.0
        self.vm_mig_loss = 0.0
        # demand of VMs that found no host at the start, or left by
        # CloudSim's idle rule: asked, never served
        self.vm_dropped = np.zeros(nv, dtype=bool)
        self.dropped_req_time = 0.0
        self._dropped_req = 0.0
        self._dropped_t = 0.0
        self.host_entry_t = np.full(nh, np.nan)
        self.host_entry_a = np.zeros(nh)
        self.host_entry_r = np.zeros(nh)
        self.host_entry_active = np.zeros(nh, dtype=bool)
        self.host_final_active = np.ones(nh, dtype=bool)
        self.host_active_time = 0.0
        self.host_violation_time = 0.0
        self.shutdowns = 0
        # timeline, one row per scheduling frame
        self._tl: list[tuple[float, int, int, int, float, float]] = []
        # the heatmap's rows: every k-th frame's host utilisation coded
        # in one byte (0 off, 1 + 254 u on), see results.Timeline
        n_frames = len(engine.frame_times())
        self._util_stride = max(1, -(-n_frames * nh // HOST_UTIL_CELLS))
        self._util_rows: list[np.ndarray] = []
        self._util_times: list[float] = []
        self._frame_migrations = 0
        self.placements: Optional[list[np.ndarray]] = None

    # ------------------------------------------------------------------
    def execute(self, progress: Optional[ProgressFn]) -> None:
        e = self.e
        util0 = e.utilization_at(0.0)
        place = getattr(self.strategy, "initial_placement", None)
        if place is None:
            place = cloudsim_policies.pabfd_initial_placement
        placement = np.asarray(place(e.hosts, e.vms, util0, e.limits),
                               dtype=np.int64)
        self._check_placement(placement)
        self.vm_dropped = placement < 0
        unplaced = [e.vms.names[v] for v in np.flatnonzero(placement < 0)]
        if unplaced:
            self.notes.append(
                f"{len(unplaced)} VM(s) found no host at start and were "
                f"left out: {', '.join(unplaced[:8])}"
                + (", …" if len(unplaced) > 8 else ""))
        for vm in range(e.vms.n):
            if placement[vm] < 0:
                self.vm_alive[vm] = False
                continue
            self._place(vm, int(placement[vm]))
        t = e.start_offset_s + e.scheduling_interval_s
        n_frames = max(1, int((e.duration_s - e.start_offset_s)
                              // e.scheduling_interval_s))
        frame = 0
        while True:
            next_mig = self.migrations[0][0] if self.migrations else np.inf
            if next_mig <= t:
                if next_mig > e.duration_s:
                    break
                self._complete_migrations(next_mig)
                continue
            if t > e.duration_s:
                break
            self._scheduled_frame(t)
            frame += 1
            if progress is not None:
                progress(min(1.0, frame / n_frames))
            t = t + e.scheduling_interval_s
        self._finalize_hosts()

    def _check_placement(self, placement: np.ndarray) -> None:
        """A start placement beyond the world's limits is the strategy's
        bug, not something to replay."""
        e = self.e
        on = placement >= 0
        ram = np.bincount(placement[on], weights=e.vms.ram_mb[on],
                          minlength=e.hosts.n)
        vcpus = np.bincount(placement[on], weights=e._vm_pes[on],
                            minlength=e.hosts.n)
        over = np.flatnonzero((ram > e.limits.ram_mb + 1e-6)
                              | (vcpus > e.limits.vcpus + 1e-6))
        if over.size:
            raise ValueError(
                f"{self.strategy.name}: the start placement exceeds the "
                f"RAM or vCPU limit of {over.size} host(s), e.g. "
                f"{e.hosts.names[int(over[0])]}")

    # ------------------------------------------------------------------
    def _place(self, vm: int, host: int) -> None:
        self.vm_host[vm] = host
        self._seq += 1
        self.vm_seq[vm] = self._seq

    def _slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vm, host, role) of every VM-on-host pairing, sorted by host
        and then in the host's list order: role 0 normal, 1 migrating out
        (on its source), 2 migrating in (on a target)."""
        placed = np.flatnonzero(self.vm_alive & (self.vm_host >= 0))
        roles = np.where(self.vm_pending[placed] > 0, 1, 0)
        vm, host, seq = placed, self.vm_host[placed], self.vm_seq[placed]
        if self.migrations:
            mig = [m for _, _, m in self.migrations]
            vm = np.concatenate([vm, [m.vm for m in mig]]).astype(np.int64)
            host = np.concatenate([host, [m.target for m in mig]]
                                  ).astype(np.int64)
            seq = np.concatenate([seq, [m.seq for m in mig]])
            roles = np.concatenate([roles, np.full(len(mig), 2)])
        order = np.lexsort((seq, host))
        return vm[order], host[order], roles[order]

    def _host_sums(self, host: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-host sums in list order (``host`` sorted, as from
        :meth:`_slots`); CloudSim adds one VM after the other, and the
        placement ties it breaks depend on those roundings."""
        out = np.zeros(self.e.hosts.n)
        if host.size:
            starts = np.flatnonzero(np.r_[True, host[1:] != host[:-1]])
            out[host[starts]] = np.add.reduceat(values, starts)
        return out

    def _update(self, t: float, scheduled: bool, remove_idle: bool) -> None:
        """Process the data centre at ``t`` (CloudSim's host update)."""
        e = self.e
        util = e.utilization_at(t)
        self.vm_util = util
        requested_pe = util * e._vm_mips
        self.vm_requested = requested_pe * e._vm_pes
        vm, host, role = self._slots()
        capped = np.minimum(requested_pe[vm], e._host_pe[host]) * \
            e._vm_pes[vm]
        is_in = role == 2
        is_out = role == 1
        required = np.where(is_in, capped * 0.1, capped)
        need = self._host_sums(host, required)
        over = need > e._host_total
        scale = np.where(over, e._host_total / np.where(need > 0, need, 1.0),
                         1.0)
        factor = np.where(is_out, 0.9, np.where(is_in, 0.1, 1.0))
        over_slot = over[host]
        alloc = np.where(
            over_slot,
            np.floor(np.where(is_in, capped * 0.1 * scale[host],
                              capped * scale[host] * factor)),
            capped * factor)
        # a VM migrating out counts fully towards its source's utilisation
        contribution = np.where(is_out, alloc / 0.9, alloc)
        util_mips = self._host_sums(host, contribution)
        requested = self._host_sums(host, self.vm_requested[vm])
        # VM states (not for the copy on a migration target)
        src = ~is_in
        if self.vm_dropped.any():
            if t > self._dropped_t:
                self.dropped_req_time += self._dropped_req * (
                    t - self._dropped_t)
            self._dropped_req = float(
                self.vm_requested[self.vm_dropped].sum())
            self._dropped_t = t
        self._vm_entries(t, vm[src], alloc[src], self.vm_requested[vm[src]],
                         is_out[src])
        # A host is on while it does work.  In CloudSim a VM with no demand
        # has left, so "no work" means "no VM"; where idle VMs stay
        # (remove_idle_vms off) a host holding any VM stays on.
        active = util_mips > 0
        if not e.remove_idle_vms:
            active |= self._host_sums(host, np.ones(host.size)) > 0
        self._host_entries(t, util_mips, requested, active)
        if t > self.last_process_s:
            dt = t - self.last_process_s
            prev_u = self._utilization(self.host_util_mips)
            cur_u = self._utilization(util_mips)
            p_prev = power.power_at(e.hosts.power_w, prev_u)
            p_cur = power.power_at(e.hosts.power_w, cur_u)
            # energy of a frame: 0 for a host that was off at its start
            frame_ws = np.where(self.host_active,
                                (p_prev + (p_cur - p_prev) / 2) * dt, 0.0)
            self.energy_ws += float(frame_ws.sum())
        self.host_active = active
        self.host_util_mips = util_mips
        self.host_requested = requested
        self.last_process_s = t
        if scheduled:
            alive = self.vm_alive & (self.vm_host >= 0)
            self.vm_hist[alive, 1:] = self.vm_hist[alive, :-1]
            self.vm_hist[alive, 0] = util[alive]
            self.vm_hist_len[alive] = np.minimum(
                self.vm_hist_len[alive] + 1, HISTORY_LENGTH)
        if remove_idle and e.remove_idle_vms:
            idle = (self.vm_alive & (self.vm_host >= 0)
                    & (self.vm_pending == 0) & (self.vm_requested == 0))
            if idle.any():
                self.vm_alive[idle] = False
                self.vm_host[idle] = -1
                self.vm_dropped[idle] = True

    def _utilization(self, util_mips: np.ndarray) -> np.ndarray:
        u = util_mips / self.e._host_total
        # CloudSim rounds a hair above 100 % down to 100 %
        return np.where((u > 1) & (u < 1.01), 1.0, np.minimum(u, 1.0))

    def _vm_entries(self, t: float, vm: np.ndarray, alloc: np.ndarray,
                    req: np.ndarray, mig: np.ndarray) -> None:
        prev_t = self.vm_entry_t[vm]
        closes = prev_t < t  # NaN (no entry yet) compares False
        if closes.any():
            c = vm[closes]
            dt = t - prev_t[closes]
            a = self.vm_entry_a[c]
            r = self.vm_entry_r[c]
            self.vm_req_time += float((r * dt).sum())
            self.vm_alloc_time += float((a * dt).sum())
            lost = (a < r) & self.vm_entry_mig[c]
            self.vm_mig_loss += float(((r - a) * dt)[lost].sum())
        self.vm_entry_t[vm] = t
        self.vm_entry_a[vm] = alloc
        self.vm_entry_r[vm] = req
        self.vm_entry_mig[vm] = mig

    def _host_entries(self, t: float, alloc: np.ndarray, req: np.ndarray,
                      active: np.ndarray) -> None:
        prev_t = self.host_entry_t
        closes = prev_t < t
        if closes.any():
            dt = t - prev_t[closes]
            was_active = self.host_entry_active[closes]
            self.host_active_time += float(dt[was_active].sum())
            violated = was_active & (self.host_entry_a[closes]
                                     < self.host_entry_r[closes])
            self.host_violation_time += float(dt[violated].sum())
            self._count_shutdowns(closes)
        self.host_entry_t = np.full_like(prev_t, t)
        self.host_entry_a = alloc.copy()
        self.host_entry_r = req.copy()
        self.host_entry_active = active.copy()

    def _count_shutdowns(self, mask: np.ndarray) -> None:
        turned_off = self.host_final_active[mask] & \
            ~self.host_entry_active[mask]
        self.shutdowns += int(turned_off.sum())
        self.host_final_active[mask] = self.host_entry_active[mask]

    def _finalize_hosts(self) -> None:
        has_entry = ~np.isnan(self.host_entry_t)
        self._count_shutdowns(has_entry)

    # ------------------------------------------------------------------
    def _scheduled_frame(self, t: float) -> None:
        self._update(t, scheduled=True, remove_idle=True)
        self._frame_migrations = 0
        if t - self._last_audit_s >= self.strategy.audit_interval_s - 1e-6:
            self._last_audit_s = t
            self.audits += 1
            try:
                decision = self.strategy.decide(self._view(t))
            except Exception as exc:  # noqa: BLE001 - a peer may fail
                self.failed_audits += 1
                if self.failed_audits <= 3:
                    self.notes.append(f"audit at {t:.1f} s failed: "
                                      f"{type(exc).__name__}: {exc}")
                decision = api.Decision()
            self._apply(t, decision)
            if self._frame_migrations:
                # migrations change shares at once (CloudSim updates the
                # hosts involved when it reserves the destination)
                self._update(t, scheduled=False, remove_idle=False)
        over = int(((self.host_util_mips < self.host_requested)
                    & self.host_active).sum())
        active = int(self.host_active.sum())
        u = self._utilization(self.host_util_mips)
        watts = float(power.power_at(self.e.hosts.power_w,
                                     u)[self.host_active].sum())
        if len(self._tl) % self._util_stride == 0:
            self._util_rows.append(np.where(
                self.host_active, 1 + np.round(u * 254.0), 0
            ).astype(np.uint8))
            self._util_times.append(t)
        self._tl.append((t, active, over, self._frame_migrations, watts,
                         self.energy_ws))
        if self.placements is not None:
            self.placements.append(
                np.where(self.vm_alive, self.vm_host, -1).astype(np.int32))

    def _view(self, t: float) -> api.ClusterView:
        e = self.e
        # history for strategies: oldest first, NaN where none yet
        hist = self.vm_hist[:, ::-1].copy()
        missing = np.arange(HISTORY_LENGTH)[::-1][None, :] >= \
            self.vm_hist_len[:, None]
        hist[missing] = np.nan
        mem = None
        if e.memory_used_mb is not None:
            k = min(int(t // e.trace_interval_s),
                    e.memory_used_mb.shape[1] - 1)
            mem = e.memory_used_mb[:, k]
        return api.ClusterView(
            time_s=t, interval_s=e.scheduling_interval_s,
            hosts=e.hosts, vms=e.vms,
            vm_host=np.where(self.vm_alive, self.vm_host, -1),
            vm_migration_target=self.vm_target.copy(),
            vm_cpu_util=self.vm_util.copy(),
            vm_cpu_history=hist,
            host_enabled=self.host_enabled.copy(),
            host_allocated_mips=self.host_util_mips.copy(),
            vm_memory_used_mb=mem,
            vm_list_seq=self.vm_seq.copy(),
            limits=e.limits,
        )

    def _apply(self, t: float, decision: api.Decision) -> None:
        e = self.e
        for h in decision.disable_hosts:
            if 0 <= h < e.hosts.n:
                self.host_enabled[h] = False
        for h in decision.enable_hosts:
            if 0 <= h < e.hosts.n:
                self.host_enabled[h] = True
        if not decision.moves:
            return
        vm_slots, host_slots, _ = self._slots()
        # a VM migrating in holds its RAM and vCPUs on both hosts
        ram_used = np.bincount(host_slots, weights=e.vms.ram_mb[vm_slots],
                               minlength=e.hosts.n)
        vcpus_used = np.bincount(host_slots, weights=e._vm_pes[vm_slots],
                                 minlength=e.hosts.n)
        ram_limit, vcpu_limit = e.limits.ram_mb, e.limits.vcpus
        busy = self.vm_pending > 0  # state before this decision
        for move in decision.moves:
            vm, target = int(move.vm), int(move.target)
            if not (0 <= vm < e.vms.n and 0 <= target < e.hosts.n) \
                    or not self.vm_alive[vm] or self.vm_host[vm] < 0 \
                    or busy[vm] or target == self.vm_host[vm] \
                    or not self.host_enabled[target] \
                    or ram_used[target] + e.vms.ram_mb[vm] \
                    > ram_limit[target] + 1e-6 \
                    or vcpus_used[target] + e._vm_pes[vm] \
                    > vcpu_limit[target] + 1e-6:
                self.rejected_moves += 1
                continue
            ram_used[target] += e.vms.ram_mb[vm]
            vcpus_used[target] += e._vm_pes[vm]
            duration = e.vms.ram_mb[vm] / (e._bw_mb_s[target] / 2.0)
            self._seq += 1
            mig = _Migration(vm, int(self.vm_host[vm]), target,
                             t + duration, self._seq)
            self._mig_counter += 1
            heapq.heappush(self.migrations,
                           (mig.end_s, self._mig_counter, mig))
            self.vm_pending[vm] += 1
            self.vm_target[vm] = target
            self.n_migrations += 1
            self._frame_migrations += 1

    def _complete_migrations(self, t: float) -> None:
        if t > self.last_process_s:
            self._update(t, scheduled=False, remove_idle=True)
        while self.migrations and self.migrations[0][0] == t:
            _, _, mig = heapq.heappop(self.migrations)
            self.vm_pending[mig.vm] -= 1
            self._place(mig.vm, mig.target)
            if self.vm_pending[mig.vm] == 0:
                self.vm_target[mig.vm] = -1
        self._update(t, scheduled=False, remove_idle=True)

    # ------------------------------------------------------------------
    def metrics(self) -> results.Metrics:
        slatah = (self.host_violation_time / self.host_active_time
                  if self.host_active_time > 0 else 0.0)
        pdm = (self.vm_mig_loss / self.vm_req_time
               if self.vm_req_time > 0 else 0.0)
        energy = self.energy_ws / 3.6e6
        slav = slatah * pdm
        asked = self.vm_req_time + self.dropped_req_time
        # exactly 1.0 when every VM got all it asked at every moment
        served = self.vm_alloc_time / asked if asked > 0 else 1.0
        return results.Metrics(
            energy_kwh=energy, migrations=self.n_migrations, slatah=slatah,
            pdm=pdm, slav=slav, esv=energy * slav,
            host_shutdowns=self.shutdowns, served_fraction=served)

    def timeline(self) -> results.Timeline:
        arr = np.array(self._tl) if self._tl else np.zeros((0, 6))
        nh = self.e.hosts.n
        return results.Timeline(
            time_s=arr[:, 0], active_hosts=arr[:, 1].astype(int),
            overloaded_hosts=arr[:, 2].astype(int),
            migrations=arr[:, 3].astype(int), power_w=arr[:, 4],
            energy_kwh=arr[:, 5] / 3.6e6,
            host_util=(np.stack(self._util_rows) if self._util_rows
                       else np.zeros((0, nh), np.uint8)),
            host_util_time_s=np.array(self._util_times))
