"""``adaptive``: the planner of :mod:`watcher_adaptive.core.planner` in
the replay.

The same pure planner the Watcher strategy calls, fed from the replay's
:class:`~watcher_adaptive.replay.api.ClusterView` instead of Nova and
Gnocchi.  Demand comes from each VM's recent history
(:func:`~watcher_adaptive.core.demand.reactive_forecast`) unless a
trained predictor is given (``adaptive:model=PATH``), in which case its
peak quantiles are used.  Start placement is LR-MMT's (CloudSim's PABFD)
so that both begin from the same cluster.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from watcher_adaptive.core import demand
from watcher_adaptive.core import planner
from watcher_adaptive.core.types import ClusterSnapshot
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import Policy
from watcher_adaptive.replay import api
from watcher_adaptive.replay import cloudsim_policies

#: tuned on the development PlanetLab days only (doc/source/user/
#: strategy.rst shows the sweep)
REPLAY_POLICY = Policy(
    overload_threshold=1.0, target_utilization=0.9,
    underload_threshold=0.6, consolidate=True,
    max_migrations_per_audit=200, max_migrations_per_hour=1000,
    max_concurrent_per_host=4, vm_cooldown_s=3600.0,
    consolidation_cooldown_s=3 * 3600.0, consolidation_headroom=0.0)
DEFAULT_QUANTILE = 0.9
DEFAULT_HORIZON_S = 1800.0


class AdaptiveReplay(api.ReplayStrategy):
    """``adaptive[:key=value+…]`` with keys ``quantile``, ``threshold``
    (overload), ``target``, ``underload``, ``cooldown`` (s),
    ``window`` (samples) and ``model`` (a saved predictor)."""

    name = "adaptive"

    def __init__(self, policy: Policy = REPLAY_POLICY,
                 quantile: float = DEFAULT_QUANTILE,
                 horizon_s: float = DEFAULT_HORIZON_S,
                 window: int = 12, model_path: Optional[str] = None
                 ) -> None:
        self.policy = policy
        self.quantile = quantile
        self.horizon_s = horizon_s
        self.window = window
        self.model_path = model_path
        self._model = None
        self._last_move_s: Optional[np.ndarray] = None
        self._recent: list[float] = []

    @classmethod
    def from_spec(cls, param: Optional[str]) -> "AdaptiveReplay":
        if not param:
            return cls()
        fields = {"threshold": "overload_threshold",
                  "target": "target_utilization",
                  "underload": "underload_threshold",
                  "cooldown": "vm_cooldown_s",
                  "consolidation_cooldown": "consolidation_cooldown_s",
                  "headroom": "consolidation_headroom",
                  "per_audit": "max_migrations_per_audit",
                  "per_hour": "max_migrations_per_hour"}
        changes: dict = {}
        kwargs: dict = {}
        for item in param.split("+"):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"adaptive: expected key=value, got "
                                 f"{item!r}")
            if key == "model":
                kwargs["model_path"] = value
                continue
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"adaptive: {key} must be a number, got "
                                 f"{value!r}") from None
            if key in fields:
                field = fields[key]
                changes[field] = int(number) if field.startswith("max_") \
                    else number
            elif key == "quantile":
                kwargs["quantile"] = number
            elif key == "window":
                kwargs["window"] = int(number)
            elif key == "horizon":
                kwargs["horizon_s"] = number
            else:
                raise ValueError(
                    f"adaptive: unknown key {key!r}; known: model, "
                    f"quantile, window, horizon, {', '.join(fields)}")
        policy = dataclasses.replace(REPLAY_POLICY, **changes)
        from watcher_adaptive.core import policy as policy_mod
        policy_mod.validate(policy)
        strategy = cls(policy=policy, **kwargs)
        # distinct runs in one results.json need distinct names
        strategy.name = f"adaptive:{param}"
        return strategy

    def describe(self) -> str:
        p = self.policy
        source = f"model {self.model_path}" if self.model_path else \
            f"recent {self.window} samples"
        return (f"adaptive q={self.quantile:g} "
                f"overload>{p.overload_threshold:g} "
                f"target<={p.target_utilization:g} "
                f"underload<{p.underload_threshold:g} "
                f"cooldown {p.vm_cooldown_s:g} s "
                f"({source})")

    def initial_placement(self, hosts: api.HostTable, vms: api.VmTable,
                          util0: np.ndarray) -> np.ndarray:
        return cloudsim_policies.LrMmt().initial_placement(hosts, vms,
                                                           util0)

    # ------------------------------------------------------------------
    def decide(self, view: api.ClusterView) -> api.Decision:
        snapshot = self.snapshot(view)
        forecast = self.forecast(view)
        result = planner.plan(snapshot, forecast, self.policy)
        now = view.time_s
        for move in result.moves:
            self._last_move_s[move.vm] = now
            self._recent.append(now)
        return api.Decision(moves=tuple(
            api.Move(m.vm, m.target, m.reason) for m in result.moves))

    def forecast(self, view: api.ClusterView) -> DemandForecast:
        size = view.vms.total_mips.astype(float)
        if self.model_path:
            if self._model is None:
                from watcher_adaptive.predict import predictor
                self._model = predictor.load(self.model_path)
            from watcher_adaptive.predict import online
            return online.model_forecast(
                self._model, view.vm_cpu_history, size, self.quantile,
                self.horizon_s, view.interval_s, None)
        return demand.reactive_forecast(view.vm_cpu_history, size,
                                        self.quantile, self.horizon_s,
                                        window=self.window)

    def snapshot(self, view: api.ClusterView) -> ClusterSnapshot:
        n_v, n_h = view.vms.n, view.hosts.n
        if self._last_move_s is None or self._last_move_s.size != n_v:
            self._last_move_s = np.full(n_v, -np.inf)
        now = view.time_s
        self._recent = [t for t in self._recent if t > now - 3600.0]
        migrating = view.vm_in_migration
        running = np.zeros(n_h, dtype=np.int64)
        if migrating.any():
            np.add.at(running, view.vm_host[migrating], 1)
            np.add.at(running, view.vm_migration_target[migrating], 1)
        unlimited = np.full(n_h, np.inf)
        ram = view.hosts.ram_mb.astype(float) if view.enforce_memory \
            else unlimited
        return ClusterSnapshot(
            host_names=view.hosts.names,
            host_cpu_capacity=view.hosts.total_mips.astype(float),
            host_ram_mb=ram, host_disk_gb=unlimited,
            host_vcpus=unlimited, host_accepts=view.host_enabled,
            host_zone=("",) * n_h, vm_names=view.vms.names,
            vm_host=view.vm_host, vm_vcpus=view.vms.pes.astype(float),
            vm_ram_mb=view.vms.ram_mb.astype(float),
            vm_disk_gb=np.zeros(n_v),
            vm_movable=(view.vm_host >= 0) & ~migrating,
            vm_zone=("",) * n_v,
            vm_seconds_since_move=now - self._last_move_s,
            moves_last_hour=len(self._recent),
            host_migrations_running=running)
