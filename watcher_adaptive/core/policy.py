"""Validation of :class:`~watcher_adaptive.core.types.Policy`: the one
place that says which audit parameters make sense together."""
from __future__ import annotations

from watcher_adaptive.core.types import Policy
from watcher_adaptive.exceptions import PolicyError


def validate(policy: Policy) -> Policy:
    """Return ``policy`` unchanged, or raise :class:`PolicyError` naming
    the parameter and the allowed range."""
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise PolicyError(message)

    need(0.0 < policy.overload_threshold <= 1.5,
         f"overload_threshold must be in (0, 1.5], got "
         f"{policy.overload_threshold}")
    need(0.0 < policy.target_utilization <= policy.overload_threshold,
         "target_utilization must be in (0, overload_threshold] (the gap "
         f"is the hysteresis), got {policy.target_utilization} with "
         f"overload_threshold {policy.overload_threshold}")
    need(0.0 <= policy.underload_threshold < policy.target_utilization,
         "underload_threshold must be in [0, target_utilization), got "
         f"{policy.underload_threshold}")
    need(0.0 <= policy.consolidation_headroom
         < policy.target_utilization,
         "consolidation_headroom must be in [0, target_utilization), got "
         f"{policy.consolidation_headroom}")
    for name in ("max_migrations_per_audit", "max_migrations_per_hour",
                 "max_concurrent_per_host"):
        value = getattr(policy, name)
        need(isinstance(value, int) and value >= 0,
             f"{name} must be a non-negative integer, got {value!r}")
    for name in ("vm_cooldown_s", "consolidation_cooldown_s",
                 "wake_pause_s", "consolidation_settle_s"):
        value = getattr(policy, name)
        need(value >= 0, f"{name} must be >= 0, got {value}")
    return policy
