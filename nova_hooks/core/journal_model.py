"""What the journal records and what replaying it means.

Every change the agent makes to a guest is written as an ``intent``
record (with the value *before* and the value *after*) and made durable
before the change happens; a ``done`` or ``failed`` record follows.  A
session opens when the agent starts managing an incoming guest and
closes when it lets go.  Replaying the records of open sessions gives the
original value of everything touched, which is what a restore puts back
(after an agent restart, a failed or cancelled migration).
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Any
from typing import Iterable
from typing import Mapping
from typing import Optional
from typing import Sequence


class Kind(enum.Enum):
    OPEN = "open"
    INTENT = "intent"
    DONE = "done"
    FAILED = "failed"
    CLOSE = "close"
    #: what sampling measured (``after``: the figures); changes nothing
    OBSERVE = "observe"
    #: the migration entered a phase (``after``: the phase, ``detail``:
    #: the signal); changes nothing on the guest
    PHASE = "phase"
    #: a newer hint for a managed guest (``after``: the hint and the
    #: thresholds it resolves to); changes nothing on the guest
    HINT = "hint"


class Action(enum.Enum):
    """What a record changes; values are JSON-friendly.

    ``balloon``: int KiB.  ``vcpu_affinity``: list of CPU lists, one per
    vCPU.  ``emulator_affinity``: CPU list.
    """

    BALLOON = "balloon"
    VCPU_AFFINITY = "vcpu_affinity"
    EMULATOR_AFFINITY = "emulator_affinity"
    #: the balloon driver's statistics period (int seconds, 0 = off),
    #: raised while the agent manages a guest, put back when it lets go
    STATS_PERIOD = "stats_period"
    #: cold guest-RAM ranges paged out while post-copy runs (``after``:
    #: :func:`nova_hooks.core.reclaim.round_record`); each round adds to
    #: what a restore asks back, so it has no single original
    PAGE_OUT = "page_out"
    #: the ranges paged out, asked back (``after``: ``{"ranges": ...}``)
    #: on a failed migration
    PAGE_IN = "page_in"


class Channel(enum.Enum):
    """How a change is (to be) made."""

    LIBVIRT = "libvirt"    # job-taking libvirt API, outside the job
    QMP = "qmp"            # the guest's second QMP monitor
    SCHED = "sched"        # sched_setaffinity on QEMU's threads
    MADVISE = "madvise"    # process_madvise on QEMU's guest RAM
    QUEUED = "queued"      # deferred until libvirt's job is free
    DRY_RUN = "dry-run"    # journaled, never made


@dataclasses.dataclass(frozen=True)
class Record:
    """One journal line."""

    seq: int
    ts: float
    vm: str
    kind: Kind
    action: Optional[Action] = None
    channel: Optional[Channel] = None
    before: Any = None
    after: Any = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "ts": round(self.ts, 6),
                               "vm": self.vm, "kind": self.kind.value}
        if self.action is not None:
            out["action"] = self.action.value
        if self.channel is not None:
            out["channel"] = self.channel.value
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        if self.detail:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Record":
        action = data.get("action")
        channel = data.get("channel")
        return cls(seq=int(data["seq"]), ts=float(data["ts"]),
                   vm=str(data["vm"]), kind=Kind(data["kind"]),
                   action=Action(action) if action else None,
                   channel=Channel(channel) if channel else None,
                   before=data.get("before"), after=data.get("after"),
                   detail=str(data.get("detail", "")))


@dataclasses.dataclass(frozen=True)
class SessionState:
    """Replayed state of one guest's session."""

    vm: str
    open: bool
    #: the value each action had before the agent first touched it
    originals: Mapping[Action, Any]
    #: the last value the agent set (done) per action
    applied: Mapping[Action, Any]
    #: intents with no done/failed: the change may or may not have landed
    in_doubt: Mapping[Action, Any]
    #: queued changes not yet made
    queued: Mapping[Action, Any]


def advance(state: Optional[SessionState], rec: Record) -> SessionState:
    """The session ``rec`` leaves, from the one before it (``None``: the
    guest's first record).  An ``open`` starts a new session."""
    if rec.kind is Kind.OPEN or state is None:
        state = SessionState(rec.vm, True, {}, {}, {}, {})
        if rec.kind is Kind.OPEN:
            return state
    if rec.kind is Kind.CLOSE:
        return dataclasses.replace(state, open=False)
    action = rec.action
    if action is None:
        return state
    originals, applied = dict(state.originals), dict(state.applied)
    in_doubt, queued = dict(state.in_doubt), dict(state.queued)
    if rec.kind is Kind.INTENT:
        originals.setdefault(action, rec.before)
        if rec.channel is Channel.QUEUED:
            queued[action] = rec.after
        elif rec.channel is not Channel.DRY_RUN:
            in_doubt[action] = rec.after
    elif rec.kind is Kind.DONE:
        in_doubt.pop(action, None)
        if rec.channel is Channel.QUEUED:
            queued.pop(action, None)
        elif rec.channel is not Channel.DRY_RUN:
            applied[action] = rec.after
            queued.pop(action, None)
    elif rec.kind is Kind.FAILED:
        in_doubt.pop(action, None)
    return SessionState(rec.vm, state.open, originals, applied, in_doubt,
                        queued)


def replay(records: Iterable[Record]) -> dict[str, SessionState]:
    """Per guest, the state of its latest session."""
    out: dict[str, SessionState] = {}
    for rec in records:
        out[rec.vm] = advance(out.get(rec.vm), rec)
    return out


def open_session_records(records: Sequence[Record]) -> list[Record]:
    """The records a restore still needs: each guest's latest session,
    from its ``open`` on, when that session is still open.  Replaying
    them gives the same state for every open session as replaying all
    (closed sessions drop out), so a journal may be cut down to them."""
    latest_open: dict[str, int] = {}
    for i, rec in enumerate(records):
        if rec.kind is Kind.OPEN or rec.vm not in latest_open:
            latest_open[rec.vm] = i
    states = replay(records)
    keep = {vm for vm, st in states.items() if st.open}
    return [rec for i, rec in enumerate(records)
            if rec.vm in keep and i >= latest_open[rec.vm]]


def restore_actions(state: SessionState) -> dict[Action, Any]:
    """What to set to undo a session: the original of every action the
    agent changed or may have changed.  Dry-run-only and queued-only
    actions were never made, so they need nothing."""
    touched = set(state.applied) | set(state.in_doubt)
    out = {}
    for action in touched:
        original = state.originals.get(action)
        if original is not None and state.applied.get(action) != original \
                or action in state.in_doubt:
            out[action] = original
    return {a: v for a, v in out.items() if v is not None}
