"""Balloon planner: how far to shrink or grow a guest's memory.

Target = hot + warm + headroom, never below the configured floor, never
below what the guest reports it needs (plus headroom), never above the
domain's maximum.  Shrinking goes in steps of at most ``max_step_kib``
(the guest gets time to give pages back); growing is one step, because
giving memory back is always safe.
"""
from __future__ import annotations

from typing import Optional

from nova_hooks.core.types import BalloonPlan
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import VmFigures


def target_kib(figures: VmFigures, maximum_kib: int,
               policy: BalloonPolicy,
               guest_need_kib: Optional[int] = None) -> int:
    """The balloon size the figures call for (KiB), before stepping."""
    keep = (figures.hot_bytes + figures.warm_bytes) // 1024
    headroom = max(policy.headroom_kib, int(keep * policy.headroom_ratio))
    target = keep + headroom
    need = guest_need_kib if guest_need_kib is not None \
        else figures.guest_need_kib
    if need is not None:
        target = max(target, need + headroom)
    target = max(target, policy.floor_kib)
    return min(target, maximum_kib)


def plan_balloon(current_kib: int, maximum_kib: int, figures: VmFigures,
                 policy: BalloonPolicy,
                 guest_need_kib: Optional[int] = None) -> BalloonPlan:
    """Steps from ``current_kib`` toward the target.

    :param current_kib: the balloon's current size (guest memory now).
    :param maximum_kib: the domain's maximum memory.
    :param guest_need_kib: overrides ``figures.guest_need_kib``.
    :returns: a plan; ``plan.changes`` is false when nothing is to do.
    """
    if current_kib <= 0 or maximum_kib <= 0:
        raise ValueError("current and maximum memory must be > 0")
    need = guest_need_kib if guest_need_kib is not None \
        else figures.guest_need_kib
    target = target_kib(figures, maximum_kib, policy, need)
    if target < current_kib and need is None and policy.require_guest_need:
        return BalloonPlan(current_kib, current_kib, (),
                           "no shrink: the guest's memory need is unknown")
    delta = target - current_kib
    if abs(delta) < policy.min_change_kib:
        return BalloonPlan(current_kib, current_kib, (),
                           f"within {policy.min_change_kib} KiB of target "
                           f"{target} KiB")
    if delta > 0:
        return BalloonPlan(current_kib, target, (target,),
                           f"grow to {target} KiB (hot+warm+headroom)")
    steps = []
    level = current_kib
    while level > target:
        level = max(target, level - policy.max_step_kib)
        steps.append(level)
    return BalloonPlan(current_kib, target, tuple(steps),
                       f"shrink to {target} KiB in {len(steps)} step(s)")
