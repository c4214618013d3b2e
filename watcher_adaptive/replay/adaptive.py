"""``adaptive``: the planner of :mod:`watcher_adaptive.core.planner` in
the replay.

The same pure planner the Watcher strategy calls, fed from the replay's
:class:`~watcher_adaptive.replay.api.ClusterView` instead of Nova and
Gnocchi.  Demand comes from each VM's recent history
(:func:`~watcher_adaptive.core.demand.reactive_forecast`) unless a
trained predictor is given (``adaptive:model=PATH``), in which case its
peak quantiles are used.  Start placement is LR-MMT's (CloudSim's PABFD)
so that both begin from the same cluster.

The replay does not load trained models: it knows the predictor only as
a :data:`DemandModel` callable that the layer above gives it
(:func:`watcher_adaptive.evaluate.strategies.build_strategies` does for
``model=PATH``), so that the simulator and the training code never
import each other.
"""
from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Optional

import numpy as np

from watcher_adaptive.core import demand
from watcher_adaptive.core import online
from watcher_adaptive.core import planner
from watcher_adaptive.core import policy as policy_mod
from watcher_adaptive.core.types import ClusterSnapshot
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.core.types import Policy
from watcher_adaptive.replay import api
from watcher_adaptive.replay import cloudsim_policies

#: ``model(history, vm_size, quantile, horizon_s, interval_s)``: the
#: demand a trained model forecasts for the VMs of ``history`` (``(n_vms,
#: k)`` CPU utilisation, oldest first), in the units of ``vm_size``
DemandModel = Callable[[np.ndarray, np.ndarray, float, float, float],
                       DemandForecast]


class AdaptiveReplay(api.ReplayStrategy):
    """``adaptive[:key=value+…]`` with keys ``quantile``, ``threshold``
    (overload), ``target``, ``underload``, ``cooldown`` (s),
    ``window`` (samples), ``horizon`` (s) and ``model`` (a saved
    predictor).  Without keys it runs exactly the plugin's shipped
    defaults (:class:`~watcher_adaptive.core.types.Policy`,
    :class:`~watcher_adaptive.core.types.ForecastSettings`).

    :param model_path: the saved predictor a ``model=PATH`` key names
        (shown in :meth:`describe`).
    :param model: the forecast of that predictor; with ``model=PATH``
        and no forecast every audit fails (the run's notes say why).
        ``model`` is public so that the layer that loads models can give
        it after :meth:`from_spec`.
    """

    name = "adaptive"
    #: a subclass may pin the forecaster (``adaptive-reactive``)
    forced_forecaster: Optional[str] = None

    def __init__(self, policy: Optional[Policy] = None,
                 settings: Optional[ForecastSettings] = None,
                 model_path: Optional[str] = None,
                 model: Optional[DemandModel] = None) -> None:
        self.policy = policy or Policy()
        settings = settings or ForecastSettings()
        if self.forced_forecaster is not None:
            settings = dataclasses.replace(
                settings, forecaster=self.forced_forecaster)
        self.settings = settings
        self.model_path = model_path
        self.model = model
        self._last_move_s: Optional[np.ndarray] = None
        self._last_consolidation_s: Optional[np.ndarray] = None
        self._last_wake_s = -np.inf
        self._recent: list[float] = []
        self._selector: Optional[online.Selector] = None
        self._seen_until_s = -np.inf
        #: how often each forecaster spoke (VM-audits), for the report
        self.spoke: dict[str, int] = {}

    # the settings by their short names, for reports and older callers
    @property
    def quantile(self) -> float:
        return self.settings.quantile

    @property
    def horizon_s(self) -> float:
        return self.settings.horizon_s

    @property
    def window(self) -> int:
        return self.settings.window

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
                  "wake_pause": "wake_pause_s",
                  "settle": "consolidation_settle_s",
                  "per_audit": "max_migrations_per_audit",
                  "per_hour": "max_migrations_per_hour"}
        forecast_keys = {"quantile": "quantile", "window": "window",
                         "horizon": "horizon_s",
                         "consolidation_horizon": "consolidation_horizon_s"}
        forecasters = online.CHOICES
        changes: dict = {}
        forecast: dict = {}
        model_path: Optional[str] = None
        for item in param.split("+"):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"{cls.name}: expected key=value, got "
                                 f"{item!r}")
            if key == "model":
                model_path = value
                continue
            if key == "forecaster":
                if value not in forecasters or cls.forced_forecaster:
                    raise ValueError(f"{cls.name}: forecaster must be one "
                                     f"of {', '.join(forecasters)}")
                forecast["forecaster"] = value
                continue
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{cls.name}: {key} must be a number, "
                                 f"got {value!r}") from None
            if key in fields:
                field = fields[key]
                changes[field] = int(number) if field.startswith("max_") \
                    else number
            elif key in forecast_keys:
                forecast[forecast_keys[key]] = (int(number)
                                                if key == "window"
                                                else number)
            else:
                raise ValueError(
                    f"{cls.name}: unknown key {key!r}; known: model, "
                    f"{', '.join(forecast_keys)}, {', '.join(fields)}")
        policy = policy_mod.validate(dataclasses.replace(Policy(),
                                                         **changes))
        settings = dataclasses.replace(ForecastSettings(), **forecast)
        if not 0.5 <= settings.quantile < 1.0:
            raise ValueError(f"{cls.name}: quantile must be in [0.5, 1)")
        if settings.window < 1 or settings.horizon_s <= 0:
            raise ValueError(f"{cls.name}: window and horizon must be "
                             "positive")
        strategy = cls(policy=policy, settings=settings,
                       model_path=model_path)
        # distinct runs in one results.json need distinct names
        strategy.name = f"{cls.name}:{param}"
        return strategy

    def describe(self) -> str:
        p = self.policy
        if self.model_path:
            source = f"model {self.model_path}"
        elif self.model is not None:
            source = "a trained model"
        else:
            source = f"forecaster {self.settings.forecaster}, reactive " \
                f"window {self.window} samples"
        if self.spoke:
            total = sum(self.spoke.values())
            source += "; spoke: " + ", ".join(
                f"{n} {c / total:.0%}" for n, c in sorted(self.spoke.items()))
        return (f"adaptive q={self.quantile:g} "
                f"overload>{p.overload_threshold:g} "
                f"target<={p.target_utilization:g} "
                f"underload<{p.underload_threshold:g} "
                f"cooldown {p.vm_cooldown_s:g} s "
                f"({source})")

    def initial_placement(self, hosts: api.HostTable, vms: api.VmTable,
                          util0: np.ndarray,
                          limits: Optional[api.Limits] = None) -> np.ndarray:
        # a new run: forget what an earlier run taught the forecasters
        self._selector = None
        self._seen_until_s = -np.inf
        self._last_move_s = None
        self._last_consolidation_s = None
        self._last_wake_s = -np.inf
        self._recent = []
        self.spoke = {}
        return cloudsim_policies.LrMmt().initial_placement(hosts, vms,
                                                           util0, limits)

    # ------------------------------------------------------------------
    def decide(self, view: api.ClusterView) -> api.Decision:
        snapshot = self.snapshot(view)
        forecast = self.forecast(view)
        result = planner.plan(snapshot, forecast, self.policy)
        now = view.time_s
        if result.woke_host:
            self._last_wake_s = now
        for move in result.moves:
            self._last_move_s[move.vm] = now
            if move.reason == planner.CONSOLIDATION:
                self._last_consolidation_s[move.vm] = now
            self._recent.append(now)
        return api.Decision(moves=tuple(
            api.Move(m.vm, m.target, m.reason) for m in result.moves))

    def forecast(self, view: api.ClusterView) -> DemandForecast:
        size = view.vms.total_mips.astype(float)
        if self.model_path or self.model is not None:
            if self.model is None:
                raise ValueError(
                    f"{self.name}: model={self.model_path} needs the "
                    "model's forecast, which the replay does not load: "
                    "build the strategies with watcher_adaptive.evaluate."
                    "strategies.build_strategies")
            return self.model(view.vm_cpu_history, size, self.quantile,
                              self.horizon_s, view.interval_s)
        if self.settings.forecaster != "reactive":
            return self._online_forecast(view, size)
        return demand.reactive_forecast(view.vm_cpu_history, size,
                                        self.quantile, self.horizon_s,
                                        window=self.window)

    def _online_forecast(self, view: api.ClusterView,
                         size: np.ndarray) -> DemandForecast:
        """Feed the samples the view added since the last audit to the
        online forecasters (never a sample after the replay clock: the
        view holds none) and let the chosen one speak per host group."""
        interval = view.interval_s
        if self._selector is None:
            self._selector = online.Selector(
                view.vms.n, int(round(86400.0 / interval)),
                window=self.settings.window,
                forecaster=self.settings.forecaster)
        hist = view.vm_cpu_history
        new = hist.shape[1] if not np.isfinite(self._seen_until_s) else \
            int(round((view.time_s - self._seen_until_s) / interval))
        new = max(0, min(new, hist.shape[1]))
        group = _host_group(view)
        for k in range(hist.shape[1] - new, hist.shape[1]):
            self._selector.observe(hist[:, k], group)
        self._seen_until_s = view.time_s
        forecast = online.demand_forecast(self._selector, hist, size, group,
                                          self.settings, interval)
        chosen = forecast.forecaster if forecast.forecaster is not None \
            else np.array([])
        for name in chosen[view.vm_host >= 0]:
            self.spoke[name] = self.spoke.get(name, 0) + 1
        return forecast

    def snapshot(self, view: api.ClusterView) -> ClusterSnapshot:
        n_v, n_h = view.vms.n, view.hosts.n
        if self._last_move_s is None or self._last_move_s.size != n_v:
            self._last_move_s = np.full(n_v, -np.inf)
            self._last_consolidation_s = np.full(n_v, -np.inf)
        now = view.time_s
        self._recent = [t for t in self._recent if t > now - 3600.0]
        migrating = view.vm_in_migration
        running = np.zeros(n_h, dtype=np.int64)
        if migrating.any():
            np.add.at(running, view.vm_host[migrating], 1)
            np.add.at(running, view.vm_migration_target[migrating], 1)
        unlimited = np.full(n_h, np.inf)
        limits = view.host_limits()
        return ClusterSnapshot(
            host_names=view.hosts.names,
            host_cpu_capacity=view.hosts.total_mips.astype(float),
            host_ram_mb=limits.ram_mb, host_disk_gb=unlimited,
            host_vcpus=limits.vcpus, host_accepts=view.host_enabled,
            host_zone=("",) * n_h, vm_names=view.vms.names,
            vm_host=view.vm_host, vm_vcpus=view.vms.pes.astype(float),
            vm_ram_mb=view.vms.ram_mb.astype(float),
            vm_disk_gb=np.zeros(n_v),
            vm_movable=(view.vm_host >= 0) & ~migrating,
            vm_zone=("",) * n_v,
            vm_seconds_since_move=now - self._last_move_s,
            vm_seconds_since_consolidation=now - self._last_consolidation_s,
            moves_last_hour=len(self._recent),
            host_migrations_running=running,
            seconds_since_wake=now - self._last_wake_s,
            host_core_capacity=view.hosts.mips_per_pe.astype(float),
            vm_vcpu_capacity=view.vms.mips.astype(float))


def _host_group(view: api.ClusterView) -> np.ndarray:
    """Each VM's host group (its host's model), -1 when not placed."""
    models = sorted(set(view.hosts.model))
    code = np.array([models.index(m) for m in view.hosts.model])
    return np.where(view.vm_host >= 0, code[np.maximum(view.vm_host, 0)], -1)


class AdaptiveReactiveReplay(AdaptiveReplay):
    """``adaptive-reactive``: ``adaptive`` with the same settings but the
    reactive rule (the last hour's empirical quantile) as its forecaster,
    to show what the forecast itself adds."""

    name = "adaptive-reactive"
    forced_forecaster = "reactive"
