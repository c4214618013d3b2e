"""Pinning planner: move a guest's threads toward its hot memory.

The node holding the largest share of the hot set wins when that share
reaches ``min_hot_share``; its CPUs (within the allowed guest CPUs) take
every vCPU, floating, not one-to-one.  The emulator threads go to
``emulator_cpus`` when configured, else with the vCPUs.  Without a clear
winner the guest spreads over every allowed CPU.
"""
from __future__ import annotations

from typing import Optional
from typing import Sequence

from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import PinningPlan
from nova_hooks.core.types import PinningPolicy


def hot_node(hot_bytes_by_node: Sequence[tuple[int, int]],
             min_share: float) -> Optional[int]:
    """The node with the largest hot share, if at least ``min_share``."""
    total = sum(b for _, b in hot_bytes_by_node if b > 0)
    if not total:
        return None
    node, size = max(hot_bytes_by_node, key=lambda nb: (nb[1], -nb[0]))
    return node if size / total >= min_share else None


def plan_pinning(topology: HostTopology, n_vcpus: int,
                 hot_bytes_by_node: Sequence[tuple[int, int]],
                 policy: PinningPolicy,
                 preferred_node: Optional[int] = None) -> PinningPlan:
    """Affinity for ``n_vcpus`` vCPUs and the emulator.

    :param preferred_node: a forecast's node, used only when the hot set
        does not name one (pre-configuration before any page arrived).
    """
    if n_vcpus <= 0:
        raise ValueError("n_vcpus must be > 0")
    allowed = policy.guest_cpus or topology.cpus
    if not allowed:
        raise ValueError("no CPU is allowed for guests")
    node = hot_node(hot_bytes_by_node, policy.min_hot_share)
    why = "hot set"
    if node is None and preferred_node is not None:
        node, why = preferred_node, "forecast"
    cpus = frozenset(allowed)
    reason = "no dominant hot node: spread over the guest CPUs"
    if node is not None:
        numa = topology.node(node)
        local = (numa.cpus & allowed) if numa is not None else frozenset()
        if local:
            cpus = frozenset(local)
            reason = f"{why} on node {node}"
        else:
            reason = (f"{why} on node {node}, which has no allowed CPU: "
                      "spread over the guest CPUs")
            node = None
    emulator = frozenset(policy.emulator_cpus) or cpus
    return PinningPlan(node=node, vcpu_cpus=(cpus,) * n_vcpus,
                       emulator_cpus=emulator, reason=reason)
