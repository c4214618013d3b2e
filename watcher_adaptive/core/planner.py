"""Choose live migrations from a snapshot and a demand forecast.

Pure: numpy only, no I/O, deterministic for given inputs (every order is
a stable sort with the host or VM number as the last key).

A host's predicted load at the audit's quantile is the sum of its VMs'
expected demand plus the root of the sum of their squared spreads
(``upper - expected``): the spreads are combined as independent, which
is what lets many small uncertain VMs share a host without reserving
each one's own peak.  The planner then

1. relieves every host whose predicted load crosses
   ``overload_threshold``: it moves the VMs with the most relief per
   unit of migration cost until the host is back under
   ``target_utilization``, each to the fullest host that stays under
   ``target_utilization`` at the same quantile;
2. if ``consolidate`` is on, empties hosts whose predicted load is below
   ``underload_threshold`` when *all* their VMs fit on other busy hosts
   under ``target_utilization - consolidation_headroom`` (so that the
   host can be powered down without filling the others to the brim).
   Both tests take the forecast's peak over its longer consolidation
   horizon where it has one (``upper_long``): a host is powered down
   only if the others can carry its VMs through the peak the forecast
   sees coming, not just the next half hour.  Consolidation also waits
   for ``wake_pause_s`` after the planner woke a host (moved a VM to a
   host without VMs) to relieve an overload: the capacity just added is
   evidence that the fleet needs it, and emptying another host at once,
   which costs all of its VMs' migrations, is undone by the next wake
   (on the Bitbrains development VMs, realistic world, 2,842 of
   adaptive's 3,098 migrations were consolidations after one of 143
   wakes, at no saving in energy).  The hosts go with the fewest VMs
   first and, among those, the least loaded:
   each host emptied saves the same idle power, so the one that costs the
   fewest migrations goes first (on the development PlanetLab day
   20110303, realistic world, first 10 hours: 602 migrations instead of
   656, at lower energy and SLAV).  A consolidation then settles for
   ``consolidation_settle_s``: when the next host in that order holds a
   VM a consolidation moved within it, consolidation waits for a later
   audit rather than empty a host that was just filled, or a costlier
   one in its stead (the development PlanetLab day 20110306 emptied 14
   hosts it had filled 3 hours before, 83 moves; the Bitbrains
   development VMs, realistic world, made 582 migrations instead of
   771).

Budgets (per audit, per hour, and per host: migrations one audit adds
into any host or out of an overloaded one, on top of those already in
flight; an emptied host sends all of its VMs) and the per-VM
cooldown bound what one audit may do; the gap between
``overload_threshold`` and ``target_utilization`` is the hysteresis that
keeps a relieved host, or a target, from crossing back at once.
"""
from __future__ import annotations

import collections
from typing import Optional

import numpy as np

from watcher_adaptive.core.types import ClusterSnapshot
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import Plan
from watcher_adaptive.core.types import PlannedMove
from watcher_adaptive.core.types import Policy
from watcher_adaptive.exceptions import PlanningError

OVERLOAD = "overload"
CONSOLIDATION = "consolidation"


def host_loads(snapshot: ClusterSnapshot,
               forecast: DemandForecast) -> np.ndarray:
    """Predicted load at the forecast's quantile per host, as a fraction
    of its CPU capacity."""
    return _State(snapshot, forecast).load()


def plan(snapshot: ClusterSnapshot, forecast: DemandForecast,
         policy: Policy) -> Plan:
    """The migrations for one audit; see the module docstring."""
    _check(snapshot, forecast)
    state = _State(snapshot, forecast)
    before = state.load()
    budget = max(0, min(policy.max_migrations_per_audit,
                        policy.max_migrations_per_hour
                        - snapshot.moves_last_hour))
    planner = _Planner(snapshot, policy, state, budget)
    planner.relieve_overloads()
    if policy.consolidate:
        planner.consolidate()
    after = state.load()
    unresolved = tuple(int(h) for h in np.flatnonzero(
        (after > policy.overload_threshold) & (state.n_vms > 0)))
    return Plan(moves=tuple(planner.moves), host_load_before=before,
                host_load_after=after,
                overload_threshold=policy.overload_threshold,
                unresolved=unresolved, released=tuple(planner.released),
                skipped=tuple(sorted(planner.skipped.items())),
                woke_host=planner.woke)


#: snapshot fields that may be None (not known), checked where given
_OPTIONAL = frozenset({"vm_vcpu_capacity", "host_core_capacity"})


def _check(snapshot: ClusterSnapshot, forecast: DemandForecast) -> None:
    n_v, n_h = snapshot.n_vms, snapshot.n_hosts
    per = {"VMs": (n_v, ("vm_host", "vm_vcpus", "vm_ram_mb", "vm_disk_gb",
                         "vm_movable", "vm_seconds_since_move",
                         "vm_vcpu_capacity")),
           "hosts": (n_h, ("host_cpu_capacity", "host_ram_mb",
                           "host_disk_gb", "host_vcpus", "host_accepts",
                           "host_core_capacity"))}
    for what, (n, names) in per.items():
        for name in names:
            values = getattr(snapshot, name)
            if values is None and name in _OPTIONAL:
                continue
            if len(values) != n:
                raise PlanningError(f"snapshot.{name} has {len(values)} "
                                    f"entries for {n} {what}")
    if len(forecast.expected) != n_v or len(forecast.upper) != n_v:
        raise PlanningError("the forecast does not cover the snapshot's "
                            f"{n_v} VMs")
    if np.any(snapshot.vm_host >= n_h):
        raise PlanningError("a VM runs on a host the snapshot lacks")
    if not (np.all(np.isfinite(forecast.expected))
            and np.all(np.isfinite(forecast.upper))):
        raise PlanningError("the forecast has NaN or infinite demand; "
                            "fill or fall back before planning")


class _State:
    """Per-host sums that the planner updates move by move."""

    def __init__(self, snapshot: ClusterSnapshot,
                 forecast: DemandForecast) -> None:
        n_h = snapshot.n_hosts
        self.vm_host = snapshot.vm_host.astype(np.int64).copy()
        placed = self.vm_host >= 0
        self.expected = np.maximum(forecast.expected.astype(float), 0.0)
        self.spread2 = np.maximum(
            forecast.upper.astype(float) - self.expected, 0.0) ** 2
        where = self.vm_host[placed]

        def per_host(values: np.ndarray) -> np.ndarray:
            return np.bincount(where, weights=values[placed],
                               minlength=n_h).astype(float)

        self.sum_expected = per_host(self.expected)
        self.sum_spread2 = per_host(self.spread2)
        # the same over the consolidation horizon (the short one where
        # the forecaster sees no further)
        long_expected = forecast.expected if forecast.expected_long is None \
            else forecast.expected_long
        long_upper = forecast.upper if forecast.upper_long is None \
            else forecast.upper_long
        self.long_expected = np.maximum(long_expected.astype(float), 0.0)
        self.long_spread2 = np.maximum(
            long_upper.astype(float) - self.long_expected, 0.0) ** 2
        self.sum_long_expected = per_host(self.long_expected)
        self.sum_long_spread2 = per_host(self.long_spread2)
        self.ram = per_host(snapshot.vm_ram_mb.astype(float))
        self.disk = per_host(snapshot.vm_disk_gb.astype(float))
        self.vcpus = per_host(snapshot.vm_vcpus.astype(float))
        self.n_vms = np.bincount(where, minlength=n_h)
        self.capacity = np.maximum(
            snapshot.host_cpu_capacity.astype(float), 1e-9)
        # what one vCPU may ask of a core: the flavor's speed where known
        # (a forecast peak below it is exceeded by the first burst), else
        # the forecast's peak over either horizon
        vcpus = np.maximum(snapshot.vm_vcpus.astype(float), 1.0)
        peak = np.maximum(forecast.upper.astype(float),
                          long_upper.astype(float)) / vcpus
        if snapshot.vm_vcpu_capacity is not None:
            peak = np.maximum(
                peak, np.asarray(snapshot.vm_vcpu_capacity, dtype=float))
        self.vcpu_peak = np.maximum(peak, 0.0)

    def load(self, host: Optional[int] = None) -> np.ndarray:
        sel = slice(None) if host is None else host
        return (self.sum_expected[sel] + np.sqrt(self.sum_spread2[sel])) \
            / self.capacity[sel]

    def long_load(self) -> np.ndarray:
        """Predicted peak load over the consolidation horizon."""
        return (self.sum_long_expected + np.sqrt(self.sum_long_spread2)) \
            / self.capacity

    def load_with(self, vm: int, long: bool = False) -> np.ndarray:
        """Every host's predicted load were ``vm`` added to it (at the
        consolidation horizon's peak with ``long``)."""
        if long:
            return (self.sum_long_expected + self.long_expected[vm]
                    + np.sqrt(self.sum_long_spread2 + self.long_spread2[vm])
                    ) / self.capacity
        return (self.sum_expected + self.expected[vm]
                + np.sqrt(self.sum_spread2 + self.spread2[vm])) \
            / self.capacity

    def move(self, vm: int, src: int, dst: int,
             snapshot: ClusterSnapshot) -> None:
        for h, sign in ((src, -1.0), (dst, 1.0)):
            self.sum_expected[h] += sign * self.expected[vm]
            self.sum_spread2[h] = max(
                0.0, self.sum_spread2[h] + sign * self.spread2[vm])
            self.sum_long_expected[h] += sign * self.long_expected[vm]
            self.sum_long_spread2[h] = max(
                0.0, self.sum_long_spread2[h] + sign * self.long_spread2[vm])
            self.ram[h] += sign * snapshot.vm_ram_mb[vm]
            self.disk[h] += sign * snapshot.vm_disk_gb[vm]
            self.vcpus[h] += sign * snapshot.vm_vcpus[vm]
            self.n_vms[h] += int(sign)
        self.vm_host[vm] = dst


class _Planner:
    def __init__(self, snapshot: ClusterSnapshot, policy: Policy,
                 state: _State, budget: int) -> None:
        self.s = snapshot
        self.p = policy
        self.st = state
        self.budget = budget
        self.moves: list[PlannedMove] = []
        self.released: list[int] = []
        self.skipped: collections.Counter[str] = collections.Counter()
        n_h = snapshot.n_hosts
        running = snapshot.host_migrations_running
        self.in_flight = (np.zeros(n_h, dtype=np.int64) if running is None
                          else np.asarray(running, dtype=np.int64).copy())
        self.received = np.zeros(n_h, dtype=bool)
        #: this plan moved a VM to a host that had none
        self.woke = False
        self.emptied = np.zeros(n_h, dtype=bool)
        cost = snapshot.vm_migration_cost
        self.cost = np.maximum(
            snapshot.vm_ram_mb.astype(float) if cost is None
            else np.asarray(cost, dtype=float), 1.0)
        core = snapshot.host_core_capacity
        self.core = (np.full(n_h, np.inf) if core is None
                     else np.asarray(core, dtype=float))
        zones = sorted(set(snapshot.host_zone) | set(snapshot.vm_zone))
        code = {z: i for i, z in enumerate(zones)}
        self.host_zone = np.array([code[z] for z in snapshot.host_zone])
        self.vm_zone = np.array([code[z] if z else -1
                                 for z in snapshot.vm_zone])

    # ------------------------------------------------------------------
    def eligible(self, vm: int, cooldown_s: float) -> Optional[str]:
        """Why ``vm`` may not move now, or None."""
        if not self.s.vm_movable[vm]:
            return "not_movable"
        if self.s.vm_seconds_since_move[vm] < cooldown_s:
            return "cooldown"
        return None

    def find_target(self, vm: int, src: int, allow_empty: bool,
                    limit: Optional[float] = None,
                    through_peak: bool = False) -> Optional[int]:
        """The host ``vm`` should go to, or None; ``through_peak``: it
        must also stay under ``limit`` at the consolidation horizon's
        peak."""
        st, s = self.st, self.s
        limit = self.p.target_utilization if limit is None else limit
        new_load = st.load_with(vm)
        fits = new_load <= limit
        if through_peak:
            fits &= st.load_with(vm, long=True) <= limit
        ok = (s.host_accepts & ~self.emptied
              & fits
              & (st.ram + s.vm_ram_mb[vm] <= s.host_ram_mb)
              & (st.disk + s.vm_disk_gb[vm] <= s.host_disk_gb)
              & (st.vcpus + s.vm_vcpus[vm] <= s.host_vcpus)
              & (self.core >= st.vcpu_peak[vm])
              & (self.in_flight < self.p.max_concurrent_per_host))
        if self.vm_zone[vm] >= 0:
            ok &= self.host_zone == self.vm_zone[vm]
        ok[src] = False
        busy = ok & (st.n_vms > 0)
        if busy.any():
            # the fullest host that stays safe: keeps the others free
            # to be powered down
            cand = np.flatnonzero(busy)
            return int(cand[np.argmax(new_load[cand])])
        if allow_empty and ok.any():
            cand = np.flatnonzero(ok)
            # wake the biggest idle host, the one that absorbs most
            return int(cand[np.argmax(st.capacity[cand])])
        return None

    def commit(self, vm: int, src: int, dst: int, reason: str,
               src_before: float) -> None:
        self.woke |= bool(self.st.n_vms[dst] == 0)
        self.st.move(vm, src, dst, self.s)
        self.in_flight[src] += 1
        self.in_flight[dst] += 1
        self.received[dst] = True
        self.budget -= 1
        self.moves.append(PlannedMove(
            vm=vm, source=src, target=dst, reason=reason,
            source_load_before=src_before,
            source_load_after=float(self.st.load(src)),
            target_load_after=float(self.st.load(dst))))

    # ------------------------------------------------------------------
    def relieve_overloads(self) -> None:
        st, p = self.st, self.p
        load = st.load()
        at_risk = np.flatnonzero((load > p.overload_threshold)
                                 & (st.n_vms > 0))
        for h in at_risk[np.lexsort((at_risk, -load[at_risk]))]:
            h = int(h)
            before = float(st.load(h))
            for vm in self.relief_order(h):
                if st.load(h) <= p.target_utilization:
                    break
                if self.budget <= 0:
                    self.skipped["budget"] += 1
                    break
                if self.in_flight[h] >= p.max_concurrent_per_host:
                    self.skipped["host_concurrency"] += 1
                    break
                why = self.eligible(vm, p.vm_cooldown_s)
                if why:
                    self.skipped[why] += 1
                    continue
                dst = self.find_target(vm, h, allow_empty=True)
                if dst is None:
                    self.skipped["no_target"] += 1
                    continue
                self.commit(vm, h, dst, OVERLOAD, before)

    def relief_order(self, h: int) -> list[int]:
        """VMs of ``h`` by predicted relief per unit of migration cost."""
        st = self.st
        vms = np.flatnonzero(st.vm_host == h)
        total = np.sqrt(st.sum_spread2[h])
        relief = st.expected[vms] + total - np.sqrt(
            np.maximum(st.sum_spread2[h] - st.spread2[vms], 0.0))
        score = relief / self.cost[vms]
        return [int(v) for v in vms[np.lexsort((vms, -score))]]

    def consolidate(self) -> None:
        st, p = self.st, self.p
        if self.woke_recently():
            self.skipped["consolidation_paused"] += 1
            return
        load = np.maximum(st.load(), st.long_load())
        cand = np.flatnonzero((st.n_vms > 0)
                              & (load < p.underload_threshold))
        # fewest VMs first (fewest migrations per host powered down),
        # then least loaded, then by number
        for h in cand[np.lexsort((cand, load[cand], st.n_vms[cand]))]:
            h = int(h)
            if self.received[h] or self.emptied[h]:
                continue
            vms = [int(v) for v in np.flatnonzero(st.vm_host == h)]
            if len(vms) > self.budget:
                self.skipped["budget"] += 1
                break
            if any(self.eligible(v, p.consolidation_cooldown_s)
                   for v in vms):
                self.skipped["consolidation_blocked"] += 1
                continue
            if self.settling(vms):
                self.skipped["consolidation_settling"] += 1
                break
            self.try_empty(h, vms)

    def settling(self, vms: list[int]) -> bool:
        """Does one of ``vms`` come from a consolidation still settling?"""
        since = self.s.vm_seconds_since_consolidation
        settle = self.p.consolidation_settle_s
        return since is not None and settle > 0 and bool(
            np.any(since[vms] < settle))

    def woke_recently(self) -> bool:
        """Did this plan, or one within ``wake_pause_s``, wake a host?"""
        if self.p.wake_pause_s <= 0:
            return False
        return self.woke or \
            self.s.seconds_since_wake < self.p.wake_pause_s

    def try_empty(self, h: int, vms: list[int]) -> None:
        """Move every VM of ``h`` away, or none of them."""
        st = self.st
        before = float(st.load(h))
        self.emptied[h] = True  # not a target for its own VMs
        done: list[tuple[int, int]] = []
        # biggest first: the hardest to fit decides early
        for vm in sorted(vms, key=lambda v: (-st.expected[v], v)):
            dst = self.find_target(
                vm, h, allow_empty=False,
                limit=self.p.target_utilization
                - self.p.consolidation_headroom, through_peak=True)
            if dst is None:
                break
            st.move(vm, h, dst, self.s)
            self.in_flight[dst] += 1
            done.append((vm, dst))
        if len(done) < len(vms):
            for vm, dst in reversed(done):
                st.move(vm, dst, h, self.s)
                self.in_flight[dst] -= 1
            self.emptied[h] = False
            self.skipped["consolidation_no_room"] += 1
            return
        for vm, dst in done:
            self.received[dst] = True
            self.in_flight[h] += 1
            self.budget -= 1
            self.moves.append(PlannedMove(
                vm=vm, source=h, target=dst, reason=CONSOLIDATION,
                source_load_before=before, source_load_after=0.0,
                target_load_after=float(st.load(dst))))
        self.released.append(h)
