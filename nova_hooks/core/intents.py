"""The changes the agent makes to a guest, decided as values.

Where the vCPUs run, what the balloon is set to and what a restore puts
back are decided here, by pure functions of what the agent read; each
returns :class:`Intent` values.  The agent's executor
(:mod:`nova_hooks.agent.executor`) carries every intent out through the
host and journals it before and after, so folding the journal
(:func:`nova_hooks.core.journal_model.replay`) gives back what was
changed and what its undo is: the state after a restart.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Iterable
from typing import Mapping
from typing import Optional
from typing import Sequence

from nova_hooks.core import journal_model as J
from nova_hooks.core.types import BalloonPlan


@dataclasses.dataclass(frozen=True)
class Intent:
    """One bounded change: ``action`` from ``before`` to ``after`` via
    ``channel`` (``QUEUED``: deferred until libvirt's job is free, only
    journaled).  Values are JSON-friendly, as the journal stores them."""

    action: J.Action
    channel: J.Channel
    before: Any
    after: Any
    why: str


def affinity_intents(vcpu_before: Sequence[Iterable[int]],
                     vcpu_after: Sequence[Iterable[int]],
                     emulator_before: Iterable[int],
                     emulator_after: Iterable[int],
                     has_emulator: bool, why: str,
                     reason: str) -> tuple[Intent, ...]:
    """The affinity changes that move the guest's threads from where
    they run to the plan (nothing for what is already there)."""
    out = []
    vb = [sorted(c) for c in vcpu_before]
    va = [sorted(c) for c in vcpu_after]
    if vb != va:
        out.append(Intent(J.Action.VCPU_AFFINITY, J.Channel.SCHED, vb, va,
                          f"{why}: {reason}"))
    eb, ea = sorted(emulator_before), sorted(emulator_after)
    if has_emulator and eb != ea:
        out.append(Intent(J.Action.EMULATOR_AFFINITY, J.Channel.SCHED, eb,
                          ea, f"{why}: emulator threads"))
    return tuple(out)


def balloon_intents(current_kib: int, plan: BalloonPlan,
                    applied_target: Optional[int], during_postcopy: bool,
                    qmp_available: bool) -> tuple[Intent, ...]:
    """The balloon steps of ``plan``: through the second QMP monitor
    during post-copy (queued until completion without one), through
    libvirt otherwise.  Nothing when the plan changes nothing or its
    target is the one last set (the guest may still be giving pages
    back: asking again in new steps would only churn)."""
    if not plan.changes or applied_target == plan.target_kib:
        return ()
    if during_postcopy and not qmp_available:
        return (Intent(J.Action.BALLOON, J.Channel.QUEUED, current_kib,
                       plan.target_kib, f"until completion: {plan.reason}"),)
    channel = J.Channel.QMP if during_postcopy else J.Channel.LIBVIRT
    out = []
    level = current_kib
    for step in plan.steps_kib:
        out.append(Intent(J.Action.BALLOON, channel, level, step,
                          plan.reason))
        level = step
    return tuple(out)


def undo_intents(originals: Mapping[J.Action, Any], qmp_available: bool,
                 why: str) -> tuple[Intent, ...]:
    """What puts every action of ``originals`` (from
    :func:`nova_hooks.core.journal_model.restore_actions`) back: the
    balloon through QMP when the guest has a second monitor (libvirt's
    job may still be held), else libvirt; affinity through the
    scheduler."""
    out = []
    for action, original in originals.items():
        if action is J.Action.BALLOON:
            channel = J.Channel.QMP if qmp_available else J.Channel.LIBVIRT
        elif action is J.Action.STATS_PERIOD:
            channel = J.Channel.LIBVIRT
        else:
            channel = J.Channel.SCHED
        out.append(Intent(action, channel, None, original, why))
    return tuple(out)
