"""Audit parameters of ``adaptive_migration``: the JSON schema Watcher
validates, and its conversion to a typed :class:`~watcher_adaptive.core.
types.Policy` in one place."""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Mapping

from watcher_adaptive.core import online
from watcher_adaptive.core import policy as policy_mod
from watcher_adaptive.core.types import ForecastSettings
from watcher_adaptive.core.types import Policy
from watcher_adaptive.exceptions import PolicyError

EXPLAIN_LEVELS = ("none", "summary", "full")

#: the product's defaults, defined once in the core
_POLICY = Policy()
_FORECAST = ForecastSettings()

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "horizon": {
            "description": "Seconds ahead the forecast looks; a host "
                           "predicted to overload within it is relieved.",
            "type": "integer", "minimum": 300, "maximum": 7200,
            "default": int(_FORECAST.horizon_s)},
        "quantile": {
            "description": "Forecast quantile the plan must stay safe at "
                           "(0.9: a host is safe when its demand stays "
                           "under the threshold in 9 cases out of 10).",
            "type": "number", "minimum": 0.5, "maximum": 0.99,
            "default": _FORECAST.quantile},
        "forecaster": {
            "description": "Which forecast the plan rests on when no "
                           "trained model is configured: auto (per host "
                           "group, the online forecaster whose recent "
                           "errors are lowest; the reactive rule until "
                           "another clearly wins over a day of evidence), "
                           "or one by name. The forecasters' state is "
                           "kept beside the strategy's journal.",
            "type": "string", "enum": list(online.CHOICES),
            "default": _FORECAST.forecaster},
        "overload_threshold": {
            "description": "Predicted CPU load (fraction of a host's "
                           "physical cores) above which a host is at "
                           "risk.",
            "type": "number", "exclusiveMinimum": 0, "maximum": 1.5,
            "default": _POLICY.overload_threshold},
        "target_utilization": {
            "description": "Predicted load a relieved host and every "
                           "target must stay under; the gap to "
                           "overload_threshold is the hysteresis.",
            "type": "number", "exclusiveMinimum": 0, "maximum": 1.5,
            "default": _POLICY.target_utilization},
        "consolidate": {
            "description": "Also empty lightly loaded hosts whose VMs fit "
                           "elsewhere at the same quantile (they can then "
                           "be powered down).",
            "type": "boolean", "default": _POLICY.consolidate},
        "underload_threshold": {
            "description": "Predicted load under which a host is a "
                           "candidate for emptying (with consolidate).",
            "type": "number", "minimum": 0, "maximum": 1,
            "default": _POLICY.underload_threshold},
        "consolidation_headroom": {
            "description": "Emptying a host may fill the others only up "
                           "to target_utilization minus this.",
            "type": "number", "minimum": 0, "maximum": 1,
            "default": _POLICY.consolidation_headroom},
        "consolidation_cooldown": {
            "description": "Seconds before an instance moved may be moved "
                           "again to empty its host.",
            "type": "integer", "minimum": 0, "maximum": 604800,
            "default": int(_POLICY.consolidation_cooldown_s)},
        "wake_pause": {
            "description": "Seconds without consolidation after a plan "
                           "woke a host to relieve an overload (0: "
                           "never pause); needs the strategy's journal.",
            "type": "integer", "minimum": 0, "maximum": 604800,
            "default": int(_POLICY.wake_pause_s)},
        "consolidation_settle": {
            "description": "Seconds a consolidation settles: a host "
                           "holding an instance a consolidation moved "
                           "within them is not emptied, nor a costlier "
                           "host in its stead (0: off); needs the "
                           "strategy's journal.",
            "type": "integer", "minimum": 0, "maximum": 604800,
            "default": int(_POLICY.consolidation_settle_s)},
        "max_migrations_per_audit": {
            "description": "At most this many live migrations per audit.",
            "type": "integer", "minimum": 0, "maximum": 10000,
            "default": _POLICY.max_migrations_per_audit},
        "max_migrations_per_hour": {
            "description": "At most this many planned in any hour, "
                           "counting earlier audits.",
            "type": "integer", "minimum": 0, "maximum": 100000,
            "default": _POLICY.max_migrations_per_hour},
        "max_concurrent_per_host": {
            "description": "Migrations one audit adds into any host, or "
                           "out of an overloaded one.",
            "type": "integer", "minimum": 1, "maximum": 64,
            "default": _POLICY.max_concurrent_per_host},
        "vm_cooldown": {
            "description": "Seconds before a moved instance may move "
                           "again (no ping-pong).",
            "type": "integer", "minimum": 0, "maximum": 604800,
            "default": int(_POLICY.vm_cooldown_s)},
        "granularity": {
            "description": "Seconds between the usage samples read from "
                           "Gnocchi (an archive-policy granularity).",
            "type": "integer", "minimum": 60, "maximum": 3600,
            "default": 300},
        "period": {
            "description": "Seconds of recent usage an audit reads.",
            "type": "integer", "minimum": 1800, "maximum": 604800,
            "default": 10800},
        "explain": {
            "description": "How much of the why the audit logs: none, "
                           "summary (one line per audit) or full (one "
                           "line per migration with its forecast).",
            "type": "string", "enum": list(EXPLAIN_LEVELS),
            "default": "summary"},
    },
    "additionalProperties": False,
}


@dataclasses.dataclass(frozen=True)
class AuditParameters:
    """The audit's parameters, typed."""

    policy: Policy
    horizon_s: float
    quantile: float
    granularity_s: int
    period_s: int
    explain: str
    forecaster: str = _FORECAST.forecaster

    def forecast_settings(self) -> ForecastSettings:
        """The audit's forecast settings (the rest at the product's
        defaults, as the replay's ``adaptive`` runs them)."""
        return dataclasses.replace(_FORECAST, quantile=self.quantile,
                                   horizon_s=self.horizon_s,
                                   forecaster=self.forecaster)


def defaults() -> dict[str, Any]:
    return {k: v["default"] for k, v in SCHEMA["properties"].items()}


def to_parameters(values: Mapping[str, Any]) -> AuditParameters:
    """Typed parameters from Watcher's validated ``input_parameters``
    (missing keys take their default).

    :raises watcher_adaptive.exceptions.PolicyError: for a combination
        the schema alone cannot reject (e.g. target above threshold).
    """
    merged = {**defaults(), **dict(values)}
    unknown = set(merged) - set(SCHEMA["properties"])
    if unknown:
        raise PolicyError(
            f"unknown audit parameter(s): {', '.join(sorted(unknown))}")
    policy = policy_mod.validate(Policy(
        overload_threshold=float(merged["overload_threshold"]),
        target_utilization=float(merged["target_utilization"]),
        underload_threshold=float(merged["underload_threshold"]),
        consolidate=bool(merged["consolidate"]),
        max_migrations_per_audit=int(merged["max_migrations_per_audit"]),
        max_migrations_per_hour=int(merged["max_migrations_per_hour"]),
        max_concurrent_per_host=int(merged["max_concurrent_per_host"]),
        vm_cooldown_s=float(merged["vm_cooldown"]),
        consolidation_cooldown_s=float(merged["consolidation_cooldown"]),
        consolidation_headroom=float(merged["consolidation_headroom"]),
        wake_pause_s=float(merged["wake_pause"]),
        consolidation_settle_s=float(merged["consolidation_settle"])))
    if merged["period"] < 2 * merged["granularity"]:
        raise PolicyError(
            "period must cover at least two granularity steps")
    return AuditParameters(policy=policy,
                           horizon_s=float(merged["horizon"]),
                           quantile=float(merged["quantile"]),
                           granularity_s=int(merged["granularity"]),
                           period_s=int(merged["period"]),
                           explain=str(merged["explain"]),
                           forecaster=str(merged["forecaster"]))
