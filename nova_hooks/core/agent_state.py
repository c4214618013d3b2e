"""The agent's state: the fold of its journal.

Everything the agent's decisions read about the guests it manages is
here, and all of it comes from journal records: which sessions are open
(``open``/``close``), the phase each migration is in (``phase``), the
hint and thresholds (``open``, ``hint``), the last figures sampling
journaled (``observe``) and what was changed and how to undo it
(``intent``/``done``/``failed``, :func:`journal_model.advance`).  The
running agent keeps its state by applying each record as it is written,
a restarted one by folding the file: one function, :func:`apply`, so
the two cannot differ.
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Iterable
from typing import Mapping
from typing import Optional

from nova_hooks.core import hint as wire
from nova_hooks.core import journal_model as J
from nova_hooks.core import reclaim as reclaim_core
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures

#: ``planned_node`` of a session whose affinity was never planned from
#: sampled figures (``None`` is a plan for figures with no hot node)
NOT_PLANNED = -2
#: phases whose sampling rounds re-plan the affinity
_ADJUSTED = frozenset({Phase.POSTCOPY, Phase.STEADY})


@dataclasses.dataclass(frozen=True)
class GuestSession:
    """One open session.

    :param phase: where the migration is (``None``: a journal written
        before phases were journaled).
    :param figures: the figures sampling last journaled.
    :param observed_phase: the phase those figures were sampled in.
    :param planned_node: the hot set's node the affinity was last
        planned for (:data:`NOT_PLANNED`: never).
    :param changes: what was changed and what undoes it.
    :param reclaim: what cold-page reclaim paged out (and its charge
        window and cursor), from the ``page_out`` / ``page_in`` records.
    :param inherited: opened by an earlier run of the agent (restored,
        never shaped, by this one).
    """

    uuid: str
    phase: Optional[Phase] = None
    hint: Optional[MigrationHint] = None
    thresholds: Thresholds = Thresholds()
    figures: Optional[VmFigures] = None
    observed_phase: Optional[Phase] = None
    planned_node: Optional[int] = NOT_PLANNED
    changes: J.SessionState = J.SessionState("", True, {}, {}, {}, {})
    reclaim: reclaim_core.ReclaimState = reclaim_core.ReclaimState()
    inherited: bool = False


@dataclasses.dataclass(frozen=True)
class AgentState:
    """The open sessions, in the order they opened."""

    sessions: tuple[GuestSession, ...] = ()

    def get(self, uuid: str) -> Optional[GuestSession]:
        for sess in self.sessions:
            if sess.uuid == uuid:
                return sess
        return None

    def live(self) -> tuple[GuestSession, ...]:
        """The sessions this run shapes (not inherited)."""
        return tuple(s for s in self.sessions if not s.inherited)

    def put(self, sess: GuestSession) -> "AgentState":
        """With ``sess`` in place of the session of its guest (at the
        end when the guest had none)."""
        if self.get(sess.uuid) is None:
            return AgentState((*self.sessions, sess))
        return AgentState(tuple(sess if s.uuid == sess.uuid else s
                                for s in self.sessions))

    def without(self, uuid: str) -> "AgentState":
        return AgentState(tuple(s for s in self.sessions if s.uuid != uuid))

    def inherit(self) -> "AgentState":
        """This state as a new run of the agent finds it: every session
        left open by the run that wrote the journal."""
        return AgentState(tuple(dataclasses.replace(s, inherited=True)
                                for s in self.sessions))


def apply(state: AgentState, rec: J.Record) -> AgentState:
    """The state after one journal record."""
    sess = state.get(rec.vm)
    if rec.kind is J.Kind.CLOSE:
        return state.without(rec.vm)
    if rec.kind is J.Kind.OPEN:
        hint, thresholds = _hint_of(rec.after)
        sess = GuestSession(rec.vm, hint=hint,
                            thresholds=thresholds or Thresholds(),
                            changes=J.advance(None, rec))
        # a new session of a guest starts at the end of the order
        return AgentState((*state.without(rec.vm).sessions, sess))
    if sess is None:
        sess = GuestSession(rec.vm, changes=J.advance(None, rec))
    else:
        sess = dataclasses.replace(sess, changes=J.advance(sess.changes,
                                                          rec))
    if rec.action is J.Action.PAGE_OUT \
            and rec.kind in (J.Kind.INTENT, J.Kind.DONE):
        # in doubt counts: a restore asks back every range it may hold
        sess = dataclasses.replace(sess, reclaim=reclaim_core.folded(
            sess.reclaim, rec.after))
    elif rec.action is J.Action.PAGE_IN and rec.kind is J.Kind.DONE:
        sess = dataclasses.replace(sess, reclaim=reclaim_core.ReclaimState())
    if rec.kind is J.Kind.PHASE:
        sess = dataclasses.replace(sess, phase=Phase(rec.after))
    elif rec.kind is J.Kind.HINT:
        hint, thresholds = _hint_of(rec.after)
        sess = dataclasses.replace(sess, hint=hint,
                                   thresholds=thresholds or sess.thresholds)
    elif rec.kind is J.Kind.OBSERVE and isinstance(rec.after, Mapping):
        figures = VmFigures.from_dict(rec.after)
        phase = Phase(rec.after["phase"]) if rec.after.get("phase") \
            else None
        sess = dataclasses.replace(sess, figures=figures,
                                   observed_phase=phase)
        if phase in _ADJUSTED:
            # the round that journaled these figures re-planned (or
            # kept) the affinity for their hot node
            sess = dataclasses.replace(sess, planned_node=top_node(figures))
    return state.put(sess)


def fold(records: Iterable[J.Record],
         state: AgentState = AgentState()) -> AgentState:
    """The state ``records`` leave, from ``state``."""
    for rec in records:
        state = apply(state, rec)
    return state


def top_node(figures: VmFigures) -> Optional[int]:
    """The NUMA node holding most of the hot set (``None``: not
    located)."""
    nodes = figures.hot_bytes_by_node
    return max(nodes, key=lambda nb: nb[1])[0] if nodes else None


def hint_record(hint: Optional[MigrationHint],
                thresholds: Thresholds) -> dict[str, Any]:
    """What ``open`` and ``hint`` records carry: the hint (as on the
    wire) and the thresholds it resolved to."""
    out: dict[str, Any] = {"thresholds": dataclasses.asdict(thresholds)}
    if hint is not None:
        out["hint"] = wire.to_wire(hint)
    return out


def _hint_of(data: Any) -> tuple[Optional[MigrationHint],
                                 Optional[Thresholds]]:
    """The inverse of :func:`hint_record` (nothing from a record of an
    older agent, which carried neither)."""
    if not isinstance(data, Mapping):
        return None, None
    hint = wire.from_wire(data["hint"])[0] if data.get("hint") else None
    thresholds = Thresholds(**data["thresholds"]) \
        if data.get("thresholds") else None
    return hint, thresholds
