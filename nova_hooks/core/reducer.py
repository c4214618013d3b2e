"""The destination agent's decisions as one pure function.

``step(state, event, observation, policy) -> (state, intents)``: given
the agent's state (:class:`~nova_hooks.core.agent_state.AgentState`,
the fold of its journal), one event (a lifecycle signal, a newer hint,
a sampling round's figures, a restore, a release), what the host was
read to show and the policy (:mod:`nova_hooks.core.agent_events`), what
to do (:mod:`nova_hooks.core.agent_actions`): journal records to write,
changes to make (:class:`~nova_hooks.core.intents.Intent`), backends to
probe, timers to set, lines to log.

``step`` never changes the state itself: the state changes only by the
records the intents write, applied as they are written
(:func:`~nova_hooks.core.agent_state.apply`), so the running agent's
state and the fold of its journal after a restart are one thing.  The
state ``step`` returns is what the journal will hold once every record
it asked for is written.

What the host shows is read on demand: ``step`` asks for a reading it
was not given by raising :class:`~nova_hooks.exceptions.Unobserved`,
and the caller reads it and calls again, so nothing is read that the
decision does not need
(every thread's affinity is read only when the affinity is re-planned;
libvirt's job-taking memory statistics never during post-copy).
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional

from nova_hooks.core import agent_state
from nova_hooks.core import balloon as balloon_plan
from nova_hooks.core import classify
from nova_hooks.core import intents as changes
from nova_hooks.core import journal_model as J
from nova_hooks.core import lifecycle
from nova_hooks.core import pinning
from nova_hooks.core import reclaim
from nova_hooks.core.agent_actions import Action
from nova_hooks.core.agent_actions import Change
from nova_hooks.core.agent_actions import Finished
from nova_hooks.core.agent_actions import Hold
from nova_hooks.core.agent_actions import Mark
from nova_hooks.core.agent_actions import NextRound
from nova_hooks.core.agent_actions import Note
from nova_hooks.core.agent_actions import Pin
from nova_hooks.core.agent_actions import Probe
from nova_hooks.core.agent_actions import Write
from nova_hooks.core.agent_events import Event
from nova_hooks.core.agent_events import HintEvent
from nova_hooks.core.agent_events import Readings
from nova_hooks.core.agent_events import Release
from nova_hooks.core.agent_events import Restore
from nova_hooks.core.agent_events import Sampled
from nova_hooks.core.agent_events import SignalEvent
from nova_hooks.core.agent_state import AgentState
from nova_hooks.core.agent_state import GuestSession
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.intents import Intent
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.settings import SessionPolicy
from nova_hooks.core.types import Affinity
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Guest
from nova_hooks.core.types import Phase
from nova_hooks.core.types import VmFigures
from nova_hooks.exceptions import Unobserved

#: the events and actions are used through this module too
__all__ = ["Action", "Change", "Event", "Finished", "HintEvent",
           "Hold", "Mark", "NextRound", "Note", "Pin",
           "Probe", "Readings", "Release", "Restore", "Sampled",
           "SessionPolicy", "SignalEvent", "Unobserved", "Write", "step"]

#: seconds between reclaim rounds of a guest: its quota is per second
RECLAIM_ROUND_S = 1.0
#: phases in which a guest is sampled
SAMPLED_PHASES = frozenset({Phase.INCOMING, Phase.POSTCOPY, Phase.STEADY})


# -- the reducer -----------------------------------------------------------
def step(state: AgentState, event: Event, observation: Readings,
         policy: AgentPolicy) -> tuple[AgentState, tuple[Action, ...]]:
    """The state once the records asked for are written, and what to
    do.  An event that does not apply (a signal for a guest never seen
    arriving, a repeat, a round of a phase already left) asks for
    nothing.  Raises :class:`Unobserved` for a reading not given."""
    if isinstance(event, SignalEvent):
        todo = _signal(state, event, observation, policy)
    elif isinstance(event, HintEvent):
        todo = _hint(state, event)
    elif isinstance(event, Sampled):
        todo = _sampled(state, event, observation, policy)
    elif isinstance(event, Restore):
        sess = state.get(event.uuid)
        todo = () if sess is None else _restore(sess, sess.phase,
                                                event.why, observation)
    else:
        todo = _release(state, event, observation)
    return expected(state, todo), todo


def expected(state: AgentState, todo: tuple[Action, ...]) -> AgentState:
    """The state once every record of ``todo`` is written (and every
    change made)."""
    seq = 0
    for action in todo:
        for rec in _records(action):
            seq += 1
            state = agent_state.apply(state, dataclasses.replace(rec,
                                                                 seq=seq))
    return state


def _records(action: Action) -> list[J.Record]:
    """The journal records ``action`` writes when all goes well."""
    if isinstance(action, Write):
        return [J.Record(0, 0.0, action.uuid, action.kind, action.action,
                         action.channel, None, action.after, action.detail)]
    if isinstance(action, Change):
        i = action.intent
        out = [J.Record(0, 0.0, action.uuid, J.Kind.INTENT, i.action,
                        i.channel, i.before, i.after, i.why)]
        if i.channel is not J.Channel.QUEUED:
            out.append(J.Record(0, 0.0, action.uuid, J.Kind.DONE, i.action,
                                i.channel, None, i.after))
        return out
    return []


def round_interval(phase: Phase, policy: AgentPolicy) -> float:
    """Seconds between sampling rounds in ``phase``."""
    return policy.interval_s if phase is Phase.STEADY \
        else policy.transfer_interval_s


def merge_hint(earlier: Optional[MigrationHint], hint: MigrationHint
               ) -> MigrationHint:
    """``hint``, with the context that came first (the flavor from
    Nova's notification, the migration id) where it is silent."""
    if earlier is None:
        return hint
    return dataclasses.replace(
        hint, vm_type=hint.vm_type or earlier.vm_type,
        migration_id=hint.migration_id or earlier.migration_id)


def _live(state: AgentState, uuid: str) -> Optional[GuestSession]:
    sess = state.get(uuid)
    return None if sess is None or sess.inherited else sess


def _signal(state: AgentState, ev: SignalEvent, obs: Readings,
            policy: AgentPolicy) -> tuple[Action, ...]:
    uuid, sig = ev.uuid, ev.signal
    sess = _live(state, uuid)
    phase = sess.phase if sess is not None else None
    nxt = lifecycle.next_phase(phase, sig)
    if nxt is None or (sess is not None and nxt is phase):
        return ()
    out: list[Action] = []
    if sess is None:
        if sig is not Signal.INCOMING:
            return ()
        if obs.need("guest") is None:
            # announced (the migration action's RPC ``started`` comes as
            # soon as Nova accepted the migration, before the destination
            # compute defined the guest here): libvirt's event opens the
            # session when the guest arrives, with the hint kept till then
            return (Note(uuid, "incoming announced, the guest is not on "
                               "this host yet: waiting for it"),)
        if policy.sessions.nova_only and not obs.need("nova_instance"):
            return (Note(uuid, "not a Nova instance (no Nova metadata in "
                               "its domain): left alone"),)
        live = state.live()
        if len(live) >= policy.sessions.max_sessions:
            return (Note(uuid, f"{len(live)} incoming guests already "
                               "shaped; leaving this one alone",
                         warning=True),
                    Write(uuid, J.Kind.OPEN,
                          detail="skipped: concurrency cap"),
                    Write(uuid, J.Kind.CLOSE, detail="skipped"))
        sess = GuestSession(uuid, hint=ev.hint, thresholds=ev.thresholds)
        out.append(Write(uuid, J.Kind.OPEN, after=agent_state.hint_record(
            ev.hint, ev.thresholds), detail=_open_detail(sess)))
    out += [Write(uuid, J.Kind.PHASE, after=nxt.value, detail=sig.value),
            Mark(uuid, sig.value)]
    sess = dataclasses.replace(sess, phase=nxt)
    if nxt is Phase.FAILED and sig in (Signal.FAILED, Signal.STOPPED):
        return (*out, *_restore(sess, nxt, "migration failed", obs))
    if sig in (Signal.GONE, Signal.STOPPED):
        # gone (shut down, migrated away), or stopped after completion:
        # every change was made to the live guest only, and went with
        # it; nothing to restore
        why = "guest gone" if sig is Signal.GONE \
            else "guest stopped after completion"
        return (*out, Write(uuid, J.Kind.CLOSE, detail=why),
                Finished(uuid, why, nxt))
    if sig is Signal.PREPARE:
        return tuple(out)
    guest = obs.need("guest")
    if guest is None:
        return (*out, Note(uuid, f"handling {sig.value} failed: the guest "
                                 "is not found; restoring", warning=True),
                *_restore(sess, nxt, f"error while handling {sig.value}",
                          obs))
    if sig is Signal.INCOMING:
        out.append(Probe(uuid, Phase.INCOMING))
        if sess.hint is not None and sess.hint.preferred_node is not None:
            out += _affinity(sess, None, "forecast pre-configuration", obs,
                             policy)
    elif sig is Signal.POSTCOPY:
        out.append(Probe(uuid, Phase.POSTCOPY, if_idle=True))
        out += _affinity(sess, None, "post-copy", obs, policy)
        if policy.balloon_enabled:
            out += _balloon(sess, None, True, obs, policy)
        # the first round soon after post-copy began
        out.append(NextRound(uuid, policy.transfer_interval_s))
    elif sig is Signal.COMPLETED:
        out += _completed(sess, obs, policy)
    return tuple(out)


def _completed(sess: GuestSession, obs: Readings,
               policy: AgentPolicy) -> list[Action]:
    uuid, applied = sess.uuid, sess.changes.applied
    out: list[Action] = []
    vcpu = applied.get(J.Action.VCPU_AFFINITY)
    emul = applied.get(J.Action.EMULATOR_AFFINITY)
    if vcpu is not None and emul is not None:
        # libvirt's own record of the pinning, now that it can be set
        out.append(Pin(uuid, vcpu, emul))
    if policy.stats_period_s and policy.balloon_enabled:
        # the guest's own memory statistics, fresh while managed
        period = obs.need("stats_period")
        if period == 0 or period > policy.stats_period_s:
            out.append(Change(uuid, Intent(
                J.Action.STATS_PERIOD, J.Channel.LIBVIRT, period,
                policy.stats_period_s, "memory statistics while managed")))
    # backends that needed libvirt's job may watch the guest now
    out.append(Probe(uuid, Phase.STEADY))
    if policy.balloon_enabled:
        # what was queued during post-copy is planned again now, with
        # the guest's own memory stats, and made in bounded steps
        out += _balloon(sess, None, False, obs, policy)
    for action, after in sess.changes.queued.items():
        out.append(Write(uuid, J.Kind.DONE, action, J.Channel.QUEUED,
                         after=after, detail="replanned at completion"))
    out += [Mark(uuid, "libvirt_synced"), NextRound(uuid, policy.interval_s)]
    return out


def _hint(state: AgentState, ev: HintEvent) -> tuple[Action, ...]:
    sess = _live(state, ev.uuid)
    if sess is None or (sess.hint, sess.thresholds) == (ev.hint,
                                                        ev.thresholds):
        return ()
    return (Write(ev.uuid, J.Kind.HINT, after=agent_state.hint_record(
        ev.hint, ev.thresholds), detail="hint"),)


def _sampled(state: AgentState, ev: Sampled, obs: Readings,
             policy: AgentPolicy) -> tuple[Action, ...]:
    sess = _live(state, ev.uuid)
    if sess is None or sess.phase is not ev.phase:
        return ()           # the migration moved on meanwhile
    out: list[Action] = []
    last, now = sess.figures, ev.figures
    if last is None or sess.observed_phase is not ev.phase \
            or moved(last, now, policy.balloon):
        record = figures_record(now)
        record["round_ms"] = round(ev.seconds * 1000, 3)
        record["phase"] = ev.phase.value
        out.append(Write(ev.uuid, J.Kind.OBSERVE, after=record,
                         detail="sampled"))
    if ev.phase is Phase.INCOMING:
        return tuple(out)
    if agent_state.top_node(now) != sess.planned_node \
            or ev.phase is Phase.POSTCOPY:
        # in steady state the placement is re-planned only when the
        # hot set's node moved: reading every QEMU thread's affinity
        # each round is most of a round's cost
        out += _affinity(sess, now, f"sampled ({ev.phase.value})", obs,
                         policy)
    if policy.balloon_enabled and ev.balloon_free:
        out += _balloon(sess, now, ev.phase is Phase.POSTCOPY, obs, policy)
    if policy.reclaim is not None and ev.phase is Phase.POSTCOPY \
            and ev.reclaim_free:
        out += _reclaim(sess, ev, obs, policy.reclaim)
    return tuple(out)


def _reclaim(sess: GuestSession, ev: Sampled, obs: Readings,
             policy: reclaim.ReclaimPolicy) -> list[Action]:
    """Page out cold guest RAM on this host while post-copy runs,
    within the policy's bounds; only where the sampling backends located
    the hot and warm pages (a page the agent cannot place is never
    taken for cold)."""
    if ev.hot is None or ev.warm is None:
        return [Note(sess.uuid, "reclaim waits: no sampling backend "
                                "locates the hot set yet",
                     key="reclaim waits")]
    reading: Optional[reclaim.RamReading] = obs.need("ram")
    if reading is None:
        return [Note(sess.uuid, "reclaim waits: QEMU's guest RAM is not "
                                "readable", key="reclaim unreadable")]
    hold = Hold(sess.uuid, J.Action.PAGE_OUT, RECLAIM_ROUND_S)
    view = reclaim.view_of(reading, ev.hot, ev.warm)
    # the floor is what was located, not the figures' sizes: those count
    # every page no backend saw as warm (unknown, so kept by the
    # balloon), while reclaim takes a present page the guest never
    # asked for as cold (it came by pre-copy or the background stream)
    p = reclaim.plan(view, sess.reclaim, policy)
    if not p.ranges:
        return [hold, Note(sess.uuid, f"reclaim: nothing this round "
                                      f"({p.reason})",
                           key=f"reclaim {p.reason.split(' ')[0]}")]
    return [hold, Change(sess.uuid, Intent(
        J.Action.PAGE_OUT, J.Channel.MADVISE, None,
        reclaim.round_record(p, view, policy),
        f"post-copy: {p.bytes >> 10} KiB of cold guest RAM, {p.reason}"))]


def _page_in(sess: GuestSession, why: str, obs: Readings) -> list[Action]:
    """Ask back every range reclaim paged out (they would fault back on
    access anyway; this restores the residency the guest had)."""
    paged = sess.reclaim.paged
    if not paged:
        return []
    value = {"ranges": [list(r) for r in paged],
             "bytes": reclaim.total(paged)}
    if obs.need("guest") is None:
        # QEMU went with the guest, and its swapped pages with it
        return [Write(sess.uuid, J.Kind.DONE, J.Action.PAGE_IN,
                      J.Channel.MADVISE, after=value, detail="guest gone")]
    return [Change(sess.uuid, Intent(J.Action.PAGE_IN, J.Channel.MADVISE,
                                     None, value, why), undo=True)]


def _figures(sess: GuestSession, sampled: Optional[VmFigures],
             guest: Guest, need_kib: Optional[int]) -> VmFigures:
    """The figures of this round, else the last journaled, else the
    hint's (the forecast working set), else the whole guest as in
    use."""
    figures = sampled or sess.figures
    if figures is None:
        guest_bytes = guest.maximum_kib * 1024
        obs = classify.hint_observation(sess.hint, guest_bytes)
        figures = classify.combine([obs] if obs else [], sess.thresholds,
                                   guest_bytes)
    if need_kib is not None:
        figures = dataclasses.replace(figures, guest_need_kib=need_kib)
    return figures


def _affinity(sess: GuestSession, sampled: Optional[VmFigures], why: str,
              obs: Readings, policy: AgentPolicy) -> list[Action]:
    if not policy.pinning_enabled:
        return []
    now: Affinity = obs.need("affinity")
    if not now.vcpus:
        return []
    guest = obs.need("guest")
    figures = _figures(sess, sampled, guest, None)
    # where the guest's memory is, when the hot set is not located
    hot = figures.hot_bytes_by_node or obs.need("node_bytes")
    plan = pinning.plan_pinning(
        obs.need("topology"), len(now.vcpus), hot, policy.pinning,
        sess.hint.preferred_node if sess.hint else None)
    out: list[Action] = [Change(sess.uuid, i) for i in
                         changes.affinity_intents(
                             now.vcpus, plan.vcpu_cpus, now.emulator,
                             plan.emulator_cpus, now.has_emulator, why,
                             plan.reason)]
    return [*out, Mark(sess.uuid, "first_adjustment")]


def _balloon(sess: GuestSession, sampled: Optional[VmFigures],
             during_postcopy: bool, obs: Readings,
             policy: AgentPolicy) -> list[Action]:
    guest: Guest = obs.need("guest")
    latest = sampled or sess.figures
    need = latest.guest_need_kib if latest else None
    if not during_postcopy and need is None:
        stats: Optional[BalloonStats] = obs.need("balloon_stats")
        need = stats.need_kib if stats else None
    figures = _figures(sess, sampled, guest, need)
    plan = balloon_plan.plan_balloon(guest.current_kib, guest.maximum_kib,
                                     figures, policy.balloon, need)
    if not plan.changes:
        # said once per reason, not at every sampling round
        return [Note(sess.uuid, f"balloon unchanged ({plan.reason})",
                     key=plan.reason.split(" of ")[0])]
    # a decision to move: the next waits rebalance_interval_s
    out: list[Action] = [Hold(sess.uuid, J.Action.BALLOON,
                              policy.rebalance_interval_s)]
    qmp_available = during_postcopy and policy.balloon_during_postcopy \
        and bool(obs.need("qmp"))
    todo = changes.balloon_intents(
        guest.current_kib, plan, sess.changes.applied.get(J.Action.BALLOON),
        during_postcopy, qmp_available)
    if not todo:
        return [*out, Note(sess.uuid, f"balloon target {plan.target_kib} "
                                      "KiB already set")]
    return [*out, *(Change(sess.uuid, i) for i in todo)]


def _undo(sess: GuestSession, action: J.Action, original: Any, why: str,
          obs: Readings) -> list[Action]:
    guest = obs.need("guest")
    if guest is None:
        # the guest is gone: nothing to undo
        return [Write(sess.uuid, J.Kind.DONE, action, J.Channel.SCHED,
                      after=original, detail="guest gone")]
    qmp = action is J.Action.BALLOON and bool(obs.need("qmp"))
    return [Change(sess.uuid, i, undo=True)
            for i in changes.undo_intents({action: original}, qmp, why)]


def _restore(sess: GuestSession, phase: Optional[Phase], why: str,
             obs: Readings) -> tuple[Action, ...]:
    out: list[Action] = []
    undo = J.restore_actions(sess.changes)
    # in a stable order (the journal's actions, as declared)
    for action in sorted(undo, key=list(J.Action).index):
        original = undo[action]
        out += _undo(sess, action, original, why, obs)
    out += _page_in(sess, why, obs)
    closed = f"restored: {why}"
    return (*out, Write(sess.uuid, J.Kind.CLOSE, detail=closed),
            Finished(sess.uuid, closed, phase))


def _release(state: AgentState, ev: Release,
             obs: Readings) -> tuple[Action, ...]:
    sess = _live(state, ev.uuid)
    if sess is None:
        return ()
    out: list[Action] = []
    # the statistics period was raised only for the duration
    undo = J.restore_actions(sess.changes)
    if J.Action.STATS_PERIOD in undo:
        out += _undo(sess, J.Action.STATS_PERIOD,
                     undo[J.Action.STATS_PERIOD], "let go", obs)
    why = "steady state reached"
    return (*out, Write(ev.uuid, J.Kind.CLOSE, detail=why),
            Finished(ev.uuid, why, sess.phase))


def _open_detail(sess: GuestSession) -> str:
    t, hint = sess.thresholds, sess.hint
    parts = [f"thresholds {t.hot_access_rate:g}/{t.warm_access_rate:g}/"
             f"{t.cold_min_idle_s:g}"]
    if hint is not None:
        for name in ("vm_type", "profile_id", "migration_id"):
            if getattr(hint, name):
                parts.append(f"{name} {getattr(hint, name)}")
    return f"incoming migration ({', '.join(parts)})"


def figures_record(figures: VmFigures) -> dict[str, Any]:
    """Figures as an ``observe`` record carries them."""
    out = {k: v for k, v in figures.as_dict().items() if v is not None}
    out["sources"] = list(figures.sources)
    return out


def moved(before: VmFigures, after: VmFigures, policy: BalloonPolicy) -> bool:
    """Whether the figures moved enough to be worth a journal line: a
    class size or the guest's own need by the balloon's smallest change,
    the hot set's node, or the sources.  (The journaled figures are the
    ones a later decision reads.)"""
    step_b = max(policy.min_change_kib * 1024, 1)
    need_moved = (before.guest_need_kib is None) != (
        after.guest_need_kib is None) or (
        before.guest_need_kib is not None
        and after.guest_need_kib is not None
        and abs(before.guest_need_kib - after.guest_need_kib) * 1024
        >= step_b)
    return (before.sources != after.sources
            or abs(before.hot_bytes - after.hot_bytes) >= step_b
            or abs(before.warm_bytes - after.warm_bytes) >= step_b
            or abs(before.cold_bytes - after.cold_bytes) >= step_b
            or need_moved
            or agent_state.top_node(before) != agent_state.top_node(after))
