"""From libvirt domain events to migration phases on the destination.

The numbers are libvirt's stable ABI (``virDomainEventType`` and its
detail enums, unchanged since they were added); they are spelled out here
so the core needs no libvirt import.  :func:`next_phase` is the whole
state machine of one incoming guest.
"""
from __future__ import annotations

import enum
from typing import Optional

from nova_hooks.core.types import Phase

# virDomainEventType
EV_STARTED, EV_SUSPENDED, EV_RESUMED, EV_STOPPED = 2, 3, 4, 5
# details
STARTED_MIGRATED = 1
RESUMED_MIGRATED, RESUMED_POSTCOPY = 1, 3
SUSPENDED_POSTCOPY_FAILED = 8
STOPPED_DESTROYED, STOPPED_MIGRATED, STOPPED_FAILED = 1, 3, 5
STOPPED_SHUTDOWN, STOPPED_CRASHED = 0, 2
# virDomainState and the reasons that matter here
ST_RUNNING, ST_PAUSED, ST_SHUTOFF, ST_CRASHED = 1, 3, 5, 6
RUNNING_POSTCOPY = 10
PAUSED_MIGRATION, PAUSED_POSTCOPY, PAUSED_POSTCOPY_FAILED = 2, 12, 13


class Signal(enum.Enum):
    """What happened to a guest, whatever told the agent."""

    PREPARE = "prepare"            # RPC prepare (forecast / profile hint)
    INCOMING = "incoming"          # STARTED/MIGRATED, RPC started
    POSTCOPY = "postcopy"          # RESUMED/POSTCOPY
    COMPLETED = "completed"        # RESUMED/MIGRATED, job completed, RPC
    FAILED = "failed"              # post-copy failure, RPC aborted,
                                   # rollback_dest
    STOPPED = "stopped"            # STOPPED/FAILED|DESTROYED|CRASHED:
                                   # a failure before completion, the
                                   # guest's end after it
    GONE = "gone"                  # STOPPED otherwise (shut down,
                                   # migrated away, saved)


def lifecycle_signal(event: int, detail: int) -> Optional[Signal]:
    """The signal of a destination lifecycle event, or ``None``."""
    if event == EV_STARTED and detail == STARTED_MIGRATED:
        return Signal.INCOMING
    if event == EV_RESUMED and detail == RESUMED_POSTCOPY:
        return Signal.POSTCOPY
    if event == EV_RESUMED and detail == RESUMED_MIGRATED:
        return Signal.COMPLETED
    if event == EV_SUSPENDED and detail == SUSPENDED_POSTCOPY_FAILED:
        return Signal.FAILED
    if event == EV_STOPPED:
        if detail in (STOPPED_FAILED, STOPPED_DESTROYED, STOPPED_CRASHED):
            return Signal.STOPPED
        return Signal.GONE
    return None


_NEXT: dict[tuple[Optional[Phase], Signal], Phase] = {
    (None, Signal.PREPARE): Phase.PREPARED,
    (None, Signal.INCOMING): Phase.INCOMING,
    (Phase.PREPARED, Signal.PREPARE): Phase.PREPARED,
    (Phase.PREPARED, Signal.INCOMING): Phase.INCOMING,
    (Phase.PREPARED, Signal.FAILED): Phase.FAILED,
    (Phase.PREPARED, Signal.STOPPED): Phase.FAILED,
    (Phase.INCOMING, Signal.INCOMING): Phase.INCOMING,
    (Phase.INCOMING, Signal.POSTCOPY): Phase.POSTCOPY,
    (Phase.INCOMING, Signal.COMPLETED): Phase.STEADY,
    (Phase.INCOMING, Signal.FAILED): Phase.FAILED,
    (Phase.INCOMING, Signal.STOPPED): Phase.FAILED,
    (Phase.INCOMING, Signal.GONE): Phase.FAILED,
    (Phase.POSTCOPY, Signal.POSTCOPY): Phase.POSTCOPY,
    (Phase.POSTCOPY, Signal.COMPLETED): Phase.STEADY,
    (Phase.POSTCOPY, Signal.FAILED): Phase.FAILED,
    (Phase.POSTCOPY, Signal.STOPPED): Phase.FAILED,
    (Phase.POSTCOPY, Signal.GONE): Phase.FAILED,
    (Phase.STEADY, Signal.COMPLETED): Phase.STEADY,
    (Phase.STEADY, Signal.GONE): Phase.DONE,
    # the migration completed: the guest stopping now (Nova deleting the
    # server, a crash) ends the session, it fails no migration; a
    # failure message after completion (a late RPC ``aborted``) is stale
    # and has no entry
    (Phase.STEADY, Signal.STOPPED): Phase.DONE,
    (Phase.FAILED, Signal.FAILED): Phase.FAILED,
    (Phase.FAILED, Signal.STOPPED): Phase.FAILED,
    (Phase.FAILED, Signal.GONE): Phase.FAILED,
}


def state_signal(phase: Optional[Phase],
                 state: Optional[tuple[int, int]]) -> Optional[Signal]:
    """What a guest's current libvirt state says happened to an incoming
    migration whose events may have been missed (libvirtd restarted, the
    agent reconnected): ``None`` when it says nothing new.

    ``state`` is ``(state, reason)`` of ``virDomainGetState``, or
    ``None`` when the domain is gone.
    """
    if phase not in (Phase.INCOMING, Phase.POSTCOPY):
        return None
    if state is None:
        return Signal.FAILED
    st, reason = state
    if st == ST_RUNNING:
        if reason == RUNNING_POSTCOPY:
            return Signal.POSTCOPY if phase is Phase.INCOMING else None
        return Signal.COMPLETED
    if st == ST_PAUSED and reason == PAUSED_POSTCOPY_FAILED:
        return Signal.FAILED
    if st in (ST_SHUTOFF, ST_CRASHED):
        return Signal.FAILED
    return None         # still paused for the incoming migration


def next_phase(phase: Optional[Phase], signal: Signal) -> Optional[Phase]:
    """The phase after ``signal``; ``None`` when the signal does not
    apply (e.g. a COMPLETED for a guest the agent never saw arrive, or a
    repeated message: callers treat that as "ignore")."""
    return _NEXT.get((phase, signal))
