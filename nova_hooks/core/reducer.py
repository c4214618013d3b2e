"""The agent's session decisions as a reducer.

``step(state, event, policy) -> (state, intents)``: what a lifecycle
signal does to the set of managed guests, as a pure function.  The
manager carries the intents out (opening a session, entering a phase,
restoring, closing), journaled by its executor; :func:`fold` rebuilds
the state from the journal, which is what a restarted agent starts
from.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable
from typing import Mapping
from typing import Optional
from typing import Union

from nova_hooks.core import journal_model as J
from nova_hooks.core import lifecycle
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.types import Phase


@dataclasses.dataclass(frozen=True)
class AgentState:
    """The guests the agent manages and their phase (``None``: open in
    the journal, phase not known, i.e. left by a previous run)."""

    sessions: tuple[tuple[str, Optional[Phase]], ...] = ()

    def phase(self, uuid: str) -> Optional[Phase]:
        return dict(self.sessions).get(uuid)

    def managed(self, uuid: str) -> bool:
        return uuid in dict(self.sessions)

    def with_phase(self, uuid: str, phase: Optional[Phase]) -> "AgentState":
        # insertion order kept: sessions are restored in the order they
        # opened
        out = dict(self.sessions)
        out[uuid] = phase
        return AgentState(tuple(out.items()))

    def without(self, uuid: str) -> "AgentState":
        return AgentState(tuple((u, p) for u, p in self.sessions
                                if u != uuid))


@dataclasses.dataclass(frozen=True)
class SessionPolicy:
    """:param max_sessions: guests shaped at once; more are skipped."""

    max_sessions: int = 2


@dataclasses.dataclass(frozen=True)
class SignalEvent:
    uuid: str
    signal: Signal


@dataclasses.dataclass(frozen=True)
class Restart:
    """The agent (re)started: sessions left open are put back."""


Event = Union[SignalEvent, Restart]


@dataclasses.dataclass(frozen=True)
class Skip:
    """Leave the guest alone (journaled as an empty session)."""

    uuid: str
    why: str


@dataclasses.dataclass(frozen=True)
class Open:
    uuid: str


@dataclasses.dataclass(frozen=True)
class Enter:
    """The guest is now in ``phase`` because of ``signal``: do what the
    phase calls for (pre-configure, shape, re-apply; nothing for
    ``FAILED``/``DONE``, whose Restore or Close follows)."""

    uuid: str
    phase: Phase
    signal: Signal


@dataclasses.dataclass(frozen=True)
class Restore:
    """Put back everything the session changed, then close it."""

    uuid: str
    why: str


@dataclasses.dataclass(frozen=True)
class Close:
    uuid: str
    why: str


SessionIntent = Union[Skip, Open, Enter, Restore, Close]


def step(state: AgentState, event: Event, policy: SessionPolicy
         ) -> tuple[AgentState, tuple[SessionIntent, ...]]:
    """The state after ``event`` and what to do about it.  A signal that
    does not apply (a guest never seen arriving, a repeat) changes
    nothing and asks for nothing."""
    if isinstance(event, Restart):
        todo = tuple(Restore(uuid, "agent restarted")
                     for uuid, _ in state.sessions)
        return AgentState(), todo
    uuid, sig = event.uuid, event.signal
    phase = state.phase(uuid)
    nxt = lifecycle.next_phase(phase, sig)
    if nxt is None or (state.managed(uuid) and nxt is phase):
        return state, ()
    out: list[SessionIntent] = []
    if not state.managed(uuid):
        if sig is not Signal.INCOMING:
            return state, ()
        if len(state.sessions) >= policy.max_sessions:
            return state, (Skip(uuid, "concurrency cap"),)
        out.append(Open(uuid))
    out.append(Enter(uuid, nxt, sig))
    if sig is Signal.FAILED:
        return state.without(uuid), (*out, Restore(uuid,
                                                   "migration failed"))
    if sig is Signal.GONE:
        return state.without(uuid), (*out, Close(uuid, "guest gone"))
    return state.with_phase(uuid, nxt), tuple(out)


def fold(records: Iterable[J.Record]) -> AgentState:
    """The state a journal leaves: every session still open, phase not
    known (what the run that wrote it knew of the phase died with it)."""
    return from_sessions(J.replay(records))


def from_sessions(states: Mapping[str, J.SessionState]) -> AgentState:
    """:func:`fold` of a journal already replayed."""
    return AgentState(tuple((vm, None) for vm, st in states.items()
                            if st.open))
