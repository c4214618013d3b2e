"""What the agent's reducer asks for: journal records, changes, and
the shell's own work (probes, timers, log lines).

:func:`nova_hooks.core.reducer.step` returns these in the order they
are to be carried out; the manager does so, and a :class:`Write` that
cannot be written stops the rest.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional
from typing import Union

from nova_hooks.core import journal_model as J
from nova_hooks.core.intents import Intent
from nova_hooks.core.types import Phase


@dataclasses.dataclass(frozen=True)
class Write:
    """A journal record; nothing after it is done when it cannot be
    written."""

    uuid: str
    kind: J.Kind
    action: Optional[J.Action] = None
    channel: Optional[J.Channel] = None
    after: Any = None
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Change:
    """A change, journaled before and after it is made.  ``undo``: part
    of a restore, which goes on past a change that fails."""

    uuid: str
    intent: Intent
    undo: bool = False


@dataclasses.dataclass(frozen=True)
class Pin:
    """Tell libvirt the pinning already set (it takes libvirt's job:
    only once the migration completed); not journaled."""

    uuid: str
    vcpus: Any
    emulator: Any


@dataclasses.dataclass(frozen=True)
class Probe:
    """Find which sampling backends can watch the guest in ``phase``
    (``if_idle``: only when none watches it yet)."""

    uuid: str
    phase: Phase
    if_idle: bool = False


@dataclasses.dataclass(frozen=True)
class NextRound:
    """The guest's next sampling round in ``seconds``."""

    uuid: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class Hold:
    """No decision on ``lever`` from sampling for ``seconds``: the
    balloon (``J.Action.BALLOON``) waits its rebalance interval after a
    move; reclaim (``J.Action.PAGE_OUT``) one round's second (its quota
    is per second, and each round reads the guest's whole pagemap)."""

    uuid: str
    lever: J.Action
    seconds: float


@dataclasses.dataclass(frozen=True)
class Mark:
    """A step of the session's timeline happened now."""

    uuid: str
    name: str


@dataclasses.dataclass(frozen=True)
class Note:
    """A line for the log.  ``key``: said at INFO once while the key
    stays the same, at DEBUG after; ``warning``: always a warning."""

    uuid: str
    text: str
    key: str = ""
    warning: bool = False


@dataclasses.dataclass(frozen=True)
class Finished:
    """The session ended (its close is journaled): keep its last status
    for queries."""

    uuid: str
    why: str
    phase: Optional[Phase]


Action = Union[Write, Change, Pin, Probe, NextRound, Hold, Mark, Note,
               Finished]
