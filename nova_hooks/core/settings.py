"""What the destination agent may do and how often, as one value.

The ``[resource_manager]`` and ``[page_sampling]`` settings the agent's
decisions read, gathered so that the manager takes one policy instead of
a dozen loose arguments; :func:`nova_hooks.cmd.agent.agent_policy`
builds it from the configuration.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from nova_hooks.core.reclaim import ReclaimPolicy
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import PinningPolicy


@dataclasses.dataclass(frozen=True)
class SessionPolicy:
    """:param max_sessions: guests shaped at once; more are skipped.
    :param nova_only: shape only Nova's instances (a domain whose XML
        carries Nova's instance metadata); other guests on the host are
        left alone.
    """

    max_sessions: int = 2
    nova_only: bool = True


@dataclasses.dataclass(frozen=True)
class AgentPolicy:
    """:param pinning: where vCPUs and emulator threads may run.
    :param balloon: the balloon planner's bounds.
    :param sessions: how many guests are shaped at once.
    :param balloon_enabled: whether the balloon is moved at all.
    :param pinning_enabled: whether affinity is set at all.
    :param balloon_during_postcopy: move the balloon through the second
        QMP monitor while post-copy runs (else queue it).
    :param interval_s: seconds between sampling rounds in steady state.
    :param transfer_interval_s: the same while memory is transferred.
    :param rebalance_interval_s: least seconds between balloon moves.
    :param stats_period_s: the balloon statistics period set while a
        guest is managed (0: left alone).
    :param reclaim: the bounds of cold-page reclaim while post-copy
        runs (``None``: no reclaim).
    """

    pinning: PinningPolicy = PinningPolicy()
    balloon: BalloonPolicy = BalloonPolicy()
    sessions: SessionPolicy = SessionPolicy()
    balloon_enabled: bool = True
    pinning_enabled: bool = True
    balloon_during_postcopy: bool = True
    interval_s: float = 1.0
    transfer_interval_s: float = 0.25
    rebalance_interval_s: float = 10.0
    stats_period_s: int = 0
    reclaim: Optional[ReclaimPolicy] = None
