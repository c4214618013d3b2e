"""``adaptive_migration``: the Watcher strategy plugin.

Thin on purpose: it turns Watcher's compute model into a snapshot
(:mod:`.cluster`), reads recent usage for every instance in a few batched
Gnocchi requests (a :class:`UsageSource`), forecasts (the trained
predictor when one is configured, else the online forecasters kept
across audits by :mod:`.forecasters`, which let the reactive rule speak
until another clearly wins; the reactive rule alone where neither can
answer — logged as a fallback), lets the pure planner decide, and
writes one live migration action per planned move: our own
``adaptive_migrate`` (the default ``action_type``), whose ``hint``
carries the forecast, the profile class and the expected hot working
set (:mod:`.hints`) to the destination agent, or with ``action_type =
migrate`` Watcher's own ``migrate``.  The why of each action (host
at risk, forecast quantile and horizon, the forecaster that spoke,
expected loads) is logged at
``explain=full``, kept in
:attr:`AdaptiveMigration.explanations` and summed up in the efficacy
indicators.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from typing import Any
from typing import Callable
from typing import Optional
from typing import Protocol
from typing import Sequence

import numpy as np
from oslo_config import cfg
from watcher._i18n import _
from watcher.decision_engine.strategy.strategies import base

from nova_hooks.core import hint as hint_contract
from watcher_adaptive.conf import strategy as strategy_conf
from watcher_adaptive.core import demand
from watcher_adaptive.core import planner
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.core.types import Plan
from watcher_adaptive.exceptions import MetricSourceError
from watcher_adaptive.strategy import cluster
from watcher_adaptive.strategy import hints
from watcher_adaptive.strategy import journal
from watcher_adaptive.strategy import schema

LOG = logging.getLogger(__name__)
NAME = "adaptive_migration"
#: each option's declared default (conf/strategy.py is the one place)
_OPTION_DEFAULTS = {opt.dest: opt.default for opt in strategy_conf.OPTS}
#: stevedore namespace of callables that receive each audit's planned
#: migrations with their forecasts (the destination-host agent's
#: pre-configuration hook; a listener that raises is logged and skipped)
PLAN_LISTENERS = "watcher_adaptive.plan_listeners"


class UsageSource(Protocol):
    """Where an audit reads recent usage (the configured datasources in
    production — :mod:`watcher_adaptive.adapters.datasource` — a
    recorded window in tests)."""

    def read_usage(self, resource_ids: Sequence[str],
                   start: datetime.datetime, stop: datetime.datetime,
                   granularity: int = 300,
                   metrics: Optional[Sequence[str]] = None):
        """A :class:`~watcher_adaptive.adapters.datasource.UsageWindow`
        whose ``values["cpu_cores"]`` holds cores in use (or, when
        ``metrics`` is given, those metric keys)."""


class HistorySource(Protocol):
    """Where the hint reads an instance's past migrations (Gnocchi's
    ``adaptive.migration.*`` in production)."""

    def read(self, instance_uuid: str) -> list[dict]:
        """Past migrations, oldest first (``hot_kib`` where measured)."""


class AdaptiveMigration(base.WorkloadStabilizationBaseStrategy):
    """Predictive live migration before hosts overload."""

    def __init__(self, config, osc=None,
                 usage_source: Optional[UsageSource] = None,
                 clock: Callable[[], float] = time.time,
                 listeners=None,
                 history_source: Optional[HistorySource] = None,
                 conf: Optional[cfg.ConfigOpts] = None) -> None:
        super().__init__(config, osc)
        # Watcher's weight planner schedules the plans (the DevStack
        # plugin weights adaptive_migrate there): the base class's
        # workload_stabilization planner knows Watcher's own action types
        # only, and a real Watcher 17 failed the audit on adaptive_migrate
        # (UnsupportedActionType; tools/services/45-openstack.sh)
        self.planner = "weight"
        #: where Watcher's datasource groups are read
        self._conf = cfg.CONF if conf is None else conf
        self._listeners = listeners
        self._history_source = history_source
        self._usage_source = usage_source
        self._clock = clock
        self.plan: Optional[Plan] = None
        self.forecast: Optional[DemandForecast] = None
        self.explanations: list[dict] = []
        self.fallback_reason: Optional[str] = None
        #: the datasource that answered this audit's usage read
        self.datasource: Optional[str] = None
        #: instances whose behaviour profile was not believed this audit
        self.distrusted_profiles: list[str] = []
        #: the behaviour columns the model read this audit (``(n, 3)``,
        #: :data:`~watcher_adaptive.predict.online.PROFILE_COLUMNS`)
        self.profile_columns: Optional[np.ndarray] = None

    @classmethod
    def get_name(cls) -> str:
        return NAME

    @classmethod
    def get_display_name(cls) -> str:
        return _("Adaptive predictive migration")

    @classmethod
    def get_translatable_display_name(cls) -> str:
        return "Adaptive predictive migration"

    @classmethod
    def get_schema(cls) -> dict:
        return schema.SCHEMA

    @classmethod
    def get_config_opts(cls) -> list:
        return super().get_config_opts() + strategy_conf.OPTS

    # ------------------------------------------------------------------
    def pre_execute(self) -> None:
        # NOTE: not the base class's _pre_execute: it serialises the whole
        # model to XML for a debug line, seconds at 1,000 hosts.
        LOG.info("Initializing %s", self.get_display_name())
        if not self.compute_model:
            from watcher.common import exception
            raise exception.ClusterStateNotDefined()
        self.params = schema.to_parameters(dict(self.input_parameters))

    def do_execute(self, audit=None) -> None:
        params = self.params
        now = self._clock()
        path = self._config_value("journal_path")
        if not path or "$" in path:
            # without the journal cooldowns and the hourly budget would
            # silently start afresh at every audit
            raise ValueError(
                f"[{strategy_conf.GROUP}] journal_path is {path!r}: set it "
                "to a writable file (cooldowns and the hourly migration "
                "budget need it across audits)")
        moves = journal.MoveJournal(path)
        last = moves.load()
        woke_at = last.get(journal.WAKE)
        moved_at = journal.moves(last)
        snapshot, index = cluster.build_snapshot(
            self.compute_model,
            {uuid: now - t for uuid, t in moved_at.items()},
            moves_last_hour=sum(1 for t in moved_at.values()
                                if now - t < 3600),
            allow_pinned_moves=bool(
                self._config_value("allow_pinned_moves")),
            seconds_since_consolidation={
                uuid: now - t
                for uuid, t in journal.consolidations(last).items()})
        if woke_at is not None:
            snapshot = dataclasses.replace(snapshot,
                                           seconds_since_wake=now - woke_at)
        self.forecast = self._forecast(snapshot, params, now)
        if self.forecast.cold_start is not None and \
                self.forecast.cold_start.any():
            snapshot = dataclasses.replace(
                snapshot,
                vm_movable=snapshot.vm_movable & ~self.forecast.cold_start)
        self.plan = planner.plan(snapshot, self.forecast, params.policy)
        moved = []
        for move in self.plan.moves:
            inst = index.instances[move.vm]
            src, dst = index.nodes[move.source], index.nodes[move.target]
            why = {
                "instance": inst.uuid, "source": src.hostname,
                "destination": dst.hostname, "reason": move.reason,
                "quantile": params.quantile, "horizon_s": params.horizon_s,
                "forecast_source": self.forecast.source,
                # the online forecaster that spoke for this instance
                "forecaster": self.forecast.source
                if self.forecast.forecaster is None
                else str(self.forecast.forecaster[move.vm]),
                "expected_cpu_cores": round(float(
                    self.forecast.expected[move.vm]), 3),
                "upper_cpu_cores": round(float(
                    self.forecast.upper[move.vm]), 3),
                "source_load_before": round(move.source_load_before, 3),
                "source_load_after": round(move.source_load_after, 3),
                "target_load_after": round(move.target_load_after, 3),
                # the behaviour profile arrives with the profiler's
                # metrics; None until then
                "profile": None,
                "profile_evidence": self._profile_evidence(
                    move.vm, snapshot.vm_names[move.vm]),
            }
            self.explanations.append(why)
            moved.append((inst, src, dst, why))
            if params.explain == "full":
                evidence = why["profile_evidence"]
                LOG.info("%s: migrate %s %s -> %s (%s): predicted load at "
                         "q%.2f over %d s (%s) %.2f -> %.2f, target %.2f%s",
                         NAME, inst.uuid, src.hostname, dst.hostname,
                         move.reason, params.quantile,
                         int(params.horizon_s), why["forecaster"],
                         move.source_load_before,
                         move.source_load_after, move.target_load_after,
                         "" if not evidence else
                         f"; its behaviour profile {evidence['profile']} "
                         f"moved its upper forecast "
                         f"{evidence['upper_shift_cpu_cores']:+.2f} cores")
        self._emit(moved, now)
        moves.record((e["instance"] for e in self.explanations), now, last,
                     woke_host=self.plan.woke_host,
                     consolidated=(e["instance"] for e in self.explanations
                                   if e["reason"] == planner.CONSOLIDATION),
                     keep_s=params.policy.consolidation_settle_s)
        if self.explanations:
            self._notify_listeners()

    def _profile_evidence(self, vm: int, name: str) -> Optional[dict]:
        """What VM ``vm``'s behaviour profile said and how far it moved
        its upper forecast (cores; 0 when the profile was not believed),
        or None where no profile spoke."""
        shift = None if self.forecast is None else \
            self.forecast.profile_shift
        if shift is None or self.profile_columns is None or \
                not np.isfinite(shift[vm]):
            return None
        from watcher_adaptive.predict import online

        columns = {column: round(float(value), 3) for column, value in zip(
            online.PROFILE_COLUMNS, self.profile_columns[vm], strict=True)
            if np.isfinite(value)}
        return {"upper_shift_cpu_cores": round(float(shift[vm]), 3),
                "believed": name not in self.distrusted_profiles,
                "profile": columns}

    def _emit(self, moved: list, now: float) -> None:
        """One action per move: ``migrate``, or ``adaptive_migrate``
        with its hint."""
        if self._config_value("action_type") != \
                "adaptive_migrate":
            for inst, src, dst, _why in moved:
                self.add_action_migrate(inst, "live", src, dst)
            return
        key = self._config_value("vm_type_metadata_key")
        vm_types = [(inst.metadata or {}).get(key) if isinstance(
            inst.metadata, dict) else None for inst, *_ in moved]
        memory = [float(inst.memory) * 1024.0 for inst, *_ in moved]
        uuids = [inst.uuid for inst, *_ in moved]
        model = self._hotset_model()
        profiles = self._hotset_profiles(uuids, now) if model is not None \
            else [{} for _ in uuids]
        shares = hints.hot_shares(vm_types, memory, profiles,
                                  self._histories(uuids), model)
        for (inst, src, dst, why), vm_type, mem, (share, source) in zip(
                moved, vm_types, memory, shares, strict=True):
            hint = hints.build(inst.uuid, why, vm_type, mem, share, source)
            why["expected_hot_kib"] = hint.expected_hot_kib
            why["expected_hot_source"] = source
            why["profile"] = vm_type
            self.solution.add_action(
                action_type="adaptive_migrate", resource_id=inst.uuid,
                input_parameters={
                    "migration_type": "live",
                    "source_node": src.hostname,
                    "destination_node": dst.hostname,
                    "resource_name": inst.name,
                    "hint": hint_contract.to_params(hint)})

    def _hotset_model(self):
        path = self._config_value("hotset_model_path")
        if not path:
            return None
        try:
            import joblib
            model = joblib.load(path)
            model.source()          # a fitted HotSetPredictor
            return model
        except Exception as exc:  # noqa: BLE001 - fall back, logged
            LOG.warning("%s: hot-set model %s unusable (%s: %s); "
                        "history or class defaults instead", NAME, path,
                        type(exc).__name__, exc)
            return None

    def _hotset_profiles(self, uuids: Sequence[str], now: float
                         ) -> list[dict]:
        """The moved instances' profile means over the last hour (the
        guest agent's feature names); empty where unknown."""
        from watcher_adaptive.adapters import datasource

        stop = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        out: list[dict] = [{} for _ in uuids]
        try:
            window = self.usage_source().read_usage(
                uuids, stop - datetime.timedelta(hours=1), stop,
                self.params.granularity_s,
                metrics=tuple(datasource.HOTSET_METRICS))
        except Exception as exc:  # noqa: BLE001 - a refinement, logged
            LOG.info("%s: no profiles for the hot-set model (%s: %s)",
                     NAME, type(exc).__name__, exc)
            return out
        for key, feature in datasource.HOTSET_METRICS.items():
            if key not in window.values:
                continue
            values = _aligned(window, uuids, key)
            for i in range(len(uuids)):
                row = values[i][np.isfinite(values[i])]
                if row.size:
                    out[i][feature] = float(row.mean())
        return out

    def _histories(self, uuids: Sequence[str]) -> list[list[dict]]:
        source = self._history_source
        if source is None:
            try:
                from watcher_adaptive.adapters import migration_history
                source = self._history_source = \
                    migration_history.MigrationHistory(self.osc.gnocchi())
            except Exception as exc:  # noqa: BLE001 - optional, logged
                LOG.info("%s: no migration history (%s: %s)", NAME,
                         type(exc).__name__, exc)
                return [[] for _ in uuids]
        out = []
        for uuid in uuids:
            try:
                out.append(list(source.read(uuid)))
            except Exception as exc:  # noqa: BLE001 - optional, logged
                LOG.info("%s: no migration history of %s (%s: %s)", NAME,
                         uuid, type(exc).__name__, exc)
                out.append([])
        return out

    def _notify_listeners(self) -> None:
        from stevedore import extension

        listeners = self._listeners
        if listeners is None:
            listeners = extension.ExtensionManager(
                PLAN_LISTENERS, invoke_on_load=False)
        for ext in listeners:
            try:
                ext.plugin(list(self.explanations))
            except Exception:  # noqa: BLE001 - a listener never fails us
                LOG.exception("%s: plan listener %s failed", NAME,
                              ext.name)

    def post_execute(self) -> None:
        plan = self.plan
        before = plan.host_load_before if plan is not None else np.zeros(1)
        after = plan.host_load_after if plan is not None else np.zeros(1)
        self.solution.set_efficacy_indicators(
            instance_migrations_count=len(self.explanations),
            instances_count=len(self.forecast.expected)
            if self.forecast is not None else 0,
            standard_deviation_before_audit=float(np.std(before)),
            standard_deviation_after_audit=float(np.std(after)),
        )
        if self.params.explain != "none" and plan is not None:
            LOG.info("%s: %d migration(s); hosts at risk %d -> %d; "
                     "released %d; unresolved %d; forecast %s%s; "
                     "skipped %s", NAME, len(plan.moves),
                     plan.hosts_at_risk_before, plan.hosts_at_risk_after,
                     len(plan.released), len(plan.unresolved),
                     self.forecast.source,
                     f" ({self.fallback_reason})" if self.fallback_reason
                     else "", dict(plan.skipped) or "nothing")

    # ------------------------------------------------------------------
    def _config_value(self, name: str) -> Any:
        """An option of ``[watcher_strategies.adaptive_migration]``.

        Watcher's loader registers :data:`~watcher_adaptive.conf.strategy.
        OPTS` for the strategy; built any other way (a test, a script) the
        option's declared default applies.  Defaults live in
        ``conf/strategy.py`` only; a name not declared there is a bug and
        raises.
        """
        try:
            value = getattr(self.config, name)
        except (AttributeError, KeyError, cfg.NoSuchOptError):
            value = None
        return _OPTION_DEFAULTS[name] if value is None else value

    def usage_source(self) -> UsageSource:
        """The configured datasources in Watcher's order (built once per
        strategy; an injected source wins)."""
        if self._usage_source is None:
            from watcher_adaptive.adapters import datasource
            from watcher_adaptive.strategy import datasources

            names = datasources.configured_names(
                getattr(self.config, "datasources", None), self._conf)
            self._usage_source = datasources.build(
                names, self._conf, self.osc, self._config_value,
                datasource.AUDIT_METRICS)
        return self._usage_source

    def _profiles(self, snapshot, start, stop,
                  params: schema.AuditParameters) -> Optional[np.ndarray]:
        """The behaviour columns from the guest profiler's metrics, or
        ``None`` (logged) when they cannot be read: a profile is a
        refinement, never a reason to fail the audit."""
        from watcher_adaptive.adapters import datasource
        from watcher_adaptive.predict import online

        try:
            window = self.usage_source().read_usage(
                snapshot.vm_names, start, stop, params.granularity_s,
                metrics=datasource.PROFILE_METRICS)
            values = {k: _aligned(window, snapshot.vm_names, k)
                      for k in datasource.PROFILE_METRICS
                      if k in window.values}
        except Exception as exc:  # noqa: BLE001 - optional input, logged
            LOG.info("%s: no behaviour profiles this audit (%s: %s)", NAME,
                     type(exc).__name__, exc)
            return None
        profile = online.profile_columns(values, snapshot.n_vms,
                                         float(params.granularity_s))
        LOG.debug("%s: behaviour profiles for %d of %d instance(s)", NAME,
                  int(np.isfinite(profile).any(axis=1).sum()),
                  snapshot.n_vms)
        return profile

    def _forecast(self, snapshot, params: schema.AuditParameters,
                  now: float) -> DemandForecast:
        """The trained model's forecast if one is configured, else the
        online forecasters' (:mod:`.forecasters`: the audit's
        ``forecaster``), else, where neither can answer, the reactive
        rule (logged with the reason).

        :raises Exception: the usage source's error when recent usage
            cannot be read at all: with no data there is no safe
            decision, and Watcher marks the audit failed with the reason.
        """
        stop = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        start = stop - datetime.timedelta(seconds=params.period_s)
        n = snapshot.n_vms
        history = np.full((n, 1), np.nan)
        window = None
        if n:
            window = self.usage_source().read_usage(
                snapshot.vm_names, start, stop, params.granularity_s)
            self.datasource = getattr(window, "source", None)
            LOG.info("%s: usage of %d instance(s) from %s in %d "
                     "request(s)", NAME, n, self.datasource,
                     getattr(window, "requests", 0))
            history = _aligned(window, snapshot.vm_names) / np.maximum(
                snapshot.vm_vcpus, 1.0)[:, None]
        no_usage = int(np.sum(~np.isfinite(history).any(axis=1)))
        min_coverage = float(self._config_value("min_usage_coverage"))
        if n and n - no_usage < min_coverage * n:
            # hosts would look loaded by instances counted at full size
            # for lack of data: no plan on such an answer
            raise MetricSourceError(
                f"{self.datasource}: partial answer: usage for "
                f"{n - no_usage} of {n} instance(s), fewer than "
                f"min_usage_coverage {min_coverage:.0%}; no migration "
                "this audit")
        if no_usage:
            LOG.warning("%s: %d of %d instance(s) have no usage in the "
                        "last %d s; counted at their full size and not "
                        "moved", NAME, no_usage, n, params.period_s)
        model_path = self._config_value("model_path")
        self.fallback_reason = None
        if model_path and n:
            try:
                from watcher_adaptive.predict import online
                from watcher_adaptive.predict import predictor
                model = predictor.load(model_path)
                profile = self.profile_columns = self._profiles(
                    snapshot, start, stop, params)

                def distrust(mask, shift) -> None:
                    # a guest reports its own profile: one that pulls its
                    # forecast far from what the hypervisor measured is
                    # not believed (a forged idle or busy look)
                    self.distrusted_profiles = [
                        snapshot.vm_names[i] for i in np.flatnonzero(mask)]
                    LOG.warning(
                        "%s: %d profile(s) moved the forecast more than "
                        "%.2f of the VM's size and were not used: %s", NAME,
                        len(self.distrusted_profiles), max_shift,
                        ", ".join(f"{snapshot.vm_names[i]} ({shift[i]:.2f})"
                                  for i in np.flatnonzero(mask)[:20]))

                max_shift = float(self._config_value("max_profile_shift"))
                return online.model_forecast(
                    model, history, snapshot.vm_vcpus, params.quantile,
                    params.horizon_s, float(params.granularity_s),
                    now, profile,
                    max_profile_shift=None if max_shift >= 1.0
                    else max_shift, on_distrust=distrust)
            except Exception as exc:  # noqa: BLE001 - fall back, logged
                self.fallback_reason = (f"model {model_path} unusable "
                                        f"({type(exc).__name__}: {exc})")
                LOG.warning("%s: %s; the online forecasters instead", NAME,
                            self.fallback_reason)
        if n and params.forecaster != "reactive" and window is not None:
            try:
                return self._online_forecast(snapshot, window, history,
                                             params)
            except Exception as exc:  # noqa: BLE001 - fall back, logged
                reason = (f"online forecasters unusable "
                          f"({type(exc).__name__}: {exc})")
                self.fallback_reason = reason if not self.fallback_reason \
                    else f"{self.fallback_reason}; {reason}"
                LOG.warning("%s: reactive rule on recent usage: %s", NAME,
                            self.fallback_reason)
        return demand.reactive_forecast(
            history, snapshot.vm_vcpus, params.quantile, params.horizon_s)

    def _online_forecast(self, snapshot, window, history: np.ndarray,
                         params: schema.AuditParameters) -> DemandForecast:
        """The online forecasters' answer (:mod:`.forecasters`), their
        state kept beside the move journal."""
        from watcher_adaptive.strategy import forecasters

        path = forecasters.state_path(self._config_value("journal_path"))
        times = np.asarray(window.times).astype("datetime64[s]").astype(
            np.int64).astype(float)
        outcome = forecasters.forecast(
            path, snapshot.vm_names, forecasters.host_groups(snapshot),
            history, times, snapshot.vm_vcpus, params.forecast_settings(),
            float(params.granularity_s))
        if outcome.restarted:
            LOG.info("%s: online forecasters start afresh: %s", NAME,
                     outcome.restarted)
        LOG.info("%s: online forecasters fed %d new step(s); %s spoke",
                 NAME, outcome.fed, outcome.forecast.source)
        return outcome.forecast


def _aligned(window, names: Sequence[str], key: str = "cpu_cores"
             ) -> np.ndarray:
    """The window's rows of ``key`` (CPU: cores in use) in ``names``
    order (NaN rows for instances the source does not know)."""
    cpu = np.asarray(window.values[key], dtype=float)
    row = {rid: i for i, rid in enumerate(window.resource_ids)}
    out = np.full((len(names), max(cpu.shape[1], 1)), np.nan)
    for j, name in enumerate(names):
        i = row.get(name)
        if i is not None and cpu.shape[1]:
            out[j, :cpu.shape[1]] = cpu[i]
    return out
