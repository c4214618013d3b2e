"""The agent's reducer (nova_hooks.core.reducer) without a host.

Table-driven cases: event sequences and what the reducer decides.
Properties, over any sequence of signals and sampling rounds of a few
guests against an in-memory world (each guest's affinity, balloon and
statistics period), with changes that fail and an agent that dies at
any record: the concurrency cap holds, repeats ask for nothing, the
state the running agent holds is the fold of its journal (read back
from JSON too, and twice the same), and a restarted agent that restores
from the journal puts every guest back as it was.
"""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import agent_state as S
from nova_hooks.core import journal_model as J
from nova_hooks.core import reducer as R
from nova_hooks.core.hint import MigrationHint
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.settings import SessionPolicy
from nova_hooks.core.types import Affinity
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Guest
from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import NumaNode
from nova_hooks.core.types import Phase
from nova_hooks.core.types import PinningPolicy
from nova_hooks.core.types import VmFigures

MIB = 1024
GUEST_KIB = 512 * MIB
GUESTS = ["g1", "g2", "g3"]
TOPOLOGY = HostTopology((NumaNode(0, frozenset({0, 1})),
                         NumaNode(1, frozenset({2, 3}))))


def policy(cap: int = 2, **kw) -> AgentPolicy:
    return AgentPolicy(
        pinning=PinningPolicy(guest_cpus=frozenset({1, 2, 3})),
        balloon=BalloonPolicy(floor_kib=128 * MIB, headroom_kib=32 * MIB,
                              require_guest_need=False),
        sessions=SessionPolicy(cap), stats_period_s=2, **kw)


def world() -> dict:
    """One guest as it is before the agent touches it."""
    return {J.Action.VCPU_AFFINITY: [[0, 1, 2, 3], [0, 1, 2, 3]],
            J.Action.EMULATOR_AFFINITY: [0, 1, 2, 3],
            J.Action.BALLOON: GUEST_KIB, J.Action.STATS_PERIOD: 0}


def readings(uuid: str, w: dict) -> R.Readings:
    """Everything the host would show of the guest ``w``."""
    return R.Readings.of(
        guest=Guest(uuid, uuid, 2, w[J.Action.BALLOON], GUEST_KIB),
        affinity=Affinity(w[J.Action.VCPU_AFFINITY],
                          w[J.Action.EMULATOR_AFFINITY], True),
        topology=TOPOLOGY, node_bytes=((1, 64 << 20),), qmp=False,
        balloon_stats=BalloonStats(w[J.Action.BALLOON],
                                   available_kib=GUEST_KIB,
                                   usable_kib=GUEST_KIB - 100 * MIB),
        stats_period=w[J.Action.STATS_PERIOD], nova_instance=True)


class Agent:
    """The reducer, with the journal and the world an executor would
    leave: every record is applied to the state as it is written."""

    def __init__(self, pol: AgentPolicy, state=None,
                 worlds=None) -> None:
        self.policy, self.state = pol, state or S.AgentState()
        self.worlds = worlds or {g: world() for g in GUESTS}
        self.journal: list[J.Record] = []
        #: the worlds after each record (a crash may come at any)
        self.snapshots: list[dict] = []

    def write(self, uuid, kind, action=None, channel=None, before=None,
              after=None, detail="") -> None:
        rec = J.Record(len(self.journal) + 1, float(len(self.journal)),
                       uuid, kind, action, channel, before, after, detail)
        self.journal.append(rec)
        self.state = S.apply(self.state, rec)
        self.snapshots.append(copy.deepcopy(self.worlds))

    def step(self, event, fails=()):
        """Decide and carry out ``event``; the n-th change fails when n
        is in ``fails``.  Returns the reducer's intents and its expected
        state."""
        expected, todo = R.step(self.state, event,
                                readings(event.uuid, self.worlds[event.uuid]),
                                self.policy)
        n = 0
        for action in todo:
            if isinstance(action, R.Write):
                self.write(action.uuid, action.kind, action.action,
                           action.channel, after=action.after,
                           detail=action.detail)
            elif isinstance(action, R.Change):
                i = action.intent
                self.write(action.uuid, J.Kind.INTENT, i.action, i.channel,
                           i.before, i.after, i.why)
                if i.channel is J.Channel.QUEUED:
                    continue
                n += 1
                if n in fails:
                    self.write(action.uuid, J.Kind.FAILED, i.action,
                               i.channel, after=i.after, detail="refused")
                    continue
                self.worlds[action.uuid][i.action] = copy.deepcopy(i.after)
                self.write(action.uuid, J.Kind.DONE, i.action, i.channel,
                           after=i.after)
        return todo, expected


def kinds(todo):
    """What ``todo`` does, in a form a table can spell."""
    out = []
    for a in todo:
        if isinstance(a, R.Write):
            out.append(f"write {a.kind.value}"
                       + (f" {a.action.value}" if a.action else ""))
        elif isinstance(a, R.Change):
            out.append(f"change {a.intent.action.value} "
                       f"{a.intent.channel.value}")
        elif isinstance(a, R.Hold):
            out.append(f"hold {a.lever.value}")
        else:
            out.append(type(a).__name__.lower())
    return out


def figures(hot_mib: int, node: int = 1) -> VmFigures:
    hot = hot_mib << 20
    return VmFigures(guest_bytes=GUEST_KIB * 1024, hot_bytes=hot,
                     warm_bytes=0, cold_bytes=GUEST_KIB * 1024 - hot,
                     hot_bytes_by_node=((node, hot),),
                     sources=("idle_page",))


def sig(uuid, s, **kw):
    return R.SignalEvent(uuid, s, **kw)


#: a forecast working set of 96 MiB: the balloon has something to do
HOT = MigrationHint("g1", expected_hot_kib=96 * MIB)


# -- table: event sequences -> decisions -----------------------------------
CASES = {
    "an incoming guest opens a session and enters its phase": (
        [sig("g1", Signal.INCOMING)],
        ["write open", "write phase", "mark", "probe"]),
    "a forecast node pre-configures the affinity before any page": (
        [sig("g1", Signal.INCOMING,
             hint=MigrationHint("g1", preferred_node=1))],
        ["write open", "write phase", "mark", "probe",
         "change vcpu_affinity sched", "change emulator_affinity sched",
         "mark"]),
    "post-copy moves affinity at once and queues the balloon": (
        [sig("g1", Signal.INCOMING, hint=HOT), sig("g1", Signal.POSTCOPY)],
        ["write phase", "mark", "probe", "change vcpu_affinity sched",
         "change emulator_affinity sched", "mark", "hold balloon",
         "change balloon queued", "nextround"]),
    "a repeated signal asks for nothing": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.POSTCOPY),
         sig("g1", Signal.POSTCOPY)], []),
    "completion pins in libvirt, raises the stats period, balloons": (
        [sig("g1", Signal.INCOMING, hint=HOT), sig("g1", Signal.POSTCOPY),
         sig("g1", Signal.COMPLETED)],
        ["write phase", "mark", "pin", "change stats_period libvirt",
         "probe", "hold balloon", "change balloon libvirt",
         "change balloon libvirt", "change balloon libvirt",
         "write done balloon", "mark", "nextround"]),
    "a failed migration undoes every change, then closes": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.POSTCOPY),
         sig("g1", Signal.FAILED)],
        ["write phase", "mark", "change vcpu_affinity sched",
         "change emulator_affinity sched", "write close", "finished"]),
    "a guest stopped after completion (deleted) is let go as it is": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.POSTCOPY),
         sig("g1", Signal.COMPLETED), sig("g1", Signal.STOPPED)],
        ["write phase", "mark", "write close", "finished"]),
    "a guest stopped before completion: the migration failed": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.POSTCOPY),
         sig("g1", Signal.STOPPED)],
        ["write phase", "mark", "change vcpu_affinity sched",
         "change emulator_affinity sched", "write close", "finished"]),
    "a failure message after completion is stale": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         sig("g1", Signal.FAILED)], []),
    "a guest gone after completion is let go as it is": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         sig("g1", Signal.GONE)],
        ["write phase", "mark", "write close", "finished"]),
    "a completion for a guest never seen arriving is not the agent's": (
        [sig("g1", Signal.COMPLETED)], []),
    "over the cap a guest is journaled as skipped and left alone": (
        [sig("g1", Signal.INCOMING), sig("g2", Signal.INCOMING),
         sig("g3", Signal.INCOMING)],
        ["note", "write open", "write close"]),
    "release puts the statistics period back and closes": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         R.Release("g1")],
        ["change stats_period libvirt", "write close", "finished"]),
    "a steady round re-plans nothing while the hot node stays": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         R.Sampled("g1", Phase.STEADY, figures(100), 0.01, False),
         R.Sampled("g1", Phase.STEADY, figures(101), 0.01, False)], []),
    "a steady round re-plans when the hot set moves node": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         R.Sampled("g1", Phase.STEADY, figures(100), 0.01, False),
         R.Sampled("g1", Phase.STEADY, figures(100, node=0), 0.01, False)],
        ["write observe", "change vcpu_affinity sched",
         "change emulator_affinity sched", "mark"]),
    "a round of a phase already left is dropped": (
        [sig("g1", Signal.INCOMING), sig("g1", Signal.COMPLETED),
         R.Sampled("g1", Phase.POSTCOPY, figures(100), 0.01)], []),
}


@pytest.mark.parametrize("events,last", CASES.values(), ids=CASES.keys())
def test_events_to_decisions(events, last):
    agent = Agent(policy())
    todo = ()
    for ev in events:
        todo, expected = agent.step(ev)
        # the state the reducer expects is the journal's fold
        assert expected == agent.state == S.fold(agent.journal)
    assert kinds(todo) == last


def test_the_state_after_completion_is_what_the_journal_says():
    agent = Agent(policy())
    hint = MigrationHint("g1", expected_hot_kib=96 * MIB, vm_type="db")
    agent.step(sig("g1", Signal.INCOMING, hint=hint))
    agent.step(sig("g1", Signal.POSTCOPY))
    agent.step(R.Sampled("g1", Phase.POSTCOPY, figures(100), 0.01))
    agent.step(sig("g1", Signal.COMPLETED))
    sess = agent.state.get("g1")
    assert sess.phase is Phase.STEADY and sess.hint == hint
    assert sess.figures == figures(100) and sess.planned_node == 1
    assert sess.changes.applied[J.Action.VCPU_AFFINITY] == [[2, 3], [2, 3]]
    assert not sess.changes.queued
    assert agent.worlds["g1"][J.Action.BALLOON] == 132 * MIB


# -- properties ------------------------------------------------------------
#: the signal that usually comes next in a guest's phase
NEXT = {None: [Signal.INCOMING],
        Phase.INCOMING: [Signal.POSTCOPY, Signal.COMPLETED],
        Phase.POSTCOPY: [Signal.COMPLETED, Signal.FAILED],
        Phase.STEADY: [Signal.GONE]}
TWO = GUESTS[:2]


def drive(data, agent):
    """A run of events drawn as the guests' state unfolds: mostly the
    signal a migration sends next (so that most runs shape a guest
    before it fails or ends), and any other signal, sampling rounds in
    the current phase, releases and newer hints."""
    for _ in range(data.draw(st.integers(3, 40), label="events")):
        uuid = data.draw(st.sampled_from(TWO))
        sess = agent.state.get(uuid)
        phase = sess.phase if sess is not None else None
        what = data.draw(st.sampled_from(
            ["next", "next", "next", "signal", "sample", "sample",
             "release", "hint"]))
        if what == "next" and phase in NEXT:
            hint = data.draw(st.sampled_from(
                [None, dataclasses.replace(HOT, instance_uuid=uuid)]))
            ev = R.SignalEvent(uuid, data.draw(st.sampled_from(NEXT[phase])),
                               hint)
        elif what == "sample" and phase in R.SAMPLED_PHASES:
            ev = R.Sampled(uuid, phase, figures(
                data.draw(st.integers(0, 512)),
                data.draw(st.sampled_from([0, 1]))), 0.01,
                data.draw(st.booleans()))
        elif what == "release":
            ev = R.Release(uuid)
        elif what == "hint":
            ev = R.HintEvent(uuid, MigrationHint(uuid, vm_type=data.draw(
                st.sampled_from(["db", "web"]))), S.Thresholds())
        else:
            ev = R.SignalEvent(uuid, data.draw(st.sampled_from(
                [s for s in Signal if s is not Signal.PREPARE])))
        yield ev


def _roundtrip(records):
    return [J.Record.from_dict(json.loads(json.dumps(r.to_dict())))
            for r in records]


@settings(max_examples=150, deadline=None)
@given(data=st.data(), cap=st.integers(1, 3),
       fails=st.sets(st.integers(1, 6), max_size=2))
def test_the_running_state_is_the_fold_of_the_journal(data, cap, fails):
    agent = Agent(policy(cap))
    for ev in drive(data, agent):
        todo, expected = agent.step(ev, fails)
        assert len(agent.state.live()) <= cap
        if not fails or not any(isinstance(a, R.Change) for a in todo):
            assert expected == agent.state
        # the same event again asks for no change (a guest over the cap
        # is journaled as skipped each time it is seen)
        if isinstance(ev, R.SignalEvent) and todo:
            again, more = R.step(agent.state, ev,
                                 readings(ev.uuid, agent.worlds[ev.uuid]),
                                 agent.policy)
            assert not [a for a in more if isinstance(a, R.Change)]
            assert again == agent.state or kinds(more) == [
                "note", "write open", "write close"]
    # one source of truth: the live state, the fold, the fold of the
    # file read back, the fold twice
    assert agent.state == S.fold(agent.journal) \
        == S.fold(_roundtrip(agent.journal)) == S.fold(agent.journal)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), fails=st.sets(st.integers(1, 6), max_size=2))
def test_a_restart_after_a_crash_mid_shaping_undoes_everything(data,
                                                               fails):
    agent = Agent(policy(3))
    for ev in drive(data, agent):
        agent.step(ev, fails)
    # the agent dies after any record (with the world as it was then)
    cut = data.draw(st.integers(0, len(agent.journal)))
    journal = _roundtrip(agent.journal[:cut])
    worlds = copy.deepcopy(agent.snapshots[cut - 1]) if cut \
        else {g: world() for g in GUESTS}
    # a restarted agent: the journal's fold, every session inherited
    restarted = Agent(policy(3), S.fold(journal).inherit(),
                      copy.deepcopy(worlds))
    assert all(s.inherited for s in restarted.state.sessions)
    assert restarted.state.live() == ()
    for sess in restarted.state.sessions:
        restarted.step(R.Restore(sess.uuid, "agent restarted"))
    assert restarted.state == S.AgentState()
    for uuid in GUESTS:
        # a guest whose session was open is as it was when it opened; a
        # released or gone one is left as it was
        opened = [i for i, r in enumerate(journal)
                  if r.vm == uuid and r.kind is J.Kind.OPEN]
        if any(s.uuid == uuid for s in S.fold(journal).sessions):
            assert restarted.worlds[uuid] == agent.snapshots[
                opened[-1]][uuid], uuid
        else:
            assert restarted.worlds[uuid] == worlds[uuid], uuid
    # restoring again changes nothing
    for uuid in GUESTS:
        assert R.step(restarted.state, R.Restore(uuid, "again"),
                      readings(uuid, restarted.worlds[uuid]),
                      restarted.policy)[1] == ()


def test_a_reading_is_asked_for_only_when_the_decision_needs_it():
    state = Agent(policy()).state
    with pytest.raises(R.Unobserved) as need:
        R.step(state, sig("g1", Signal.INCOMING), R.Readings(), policy())
    assert need.value.what == "guest"
    # no affinity is read for an incoming guest without a forecast node
    guest = Guest("g1", "g1", 2, GUEST_KIB, GUEST_KIB)
    with pytest.raises(R.Unobserved) as need:
        R.step(state, sig("g1", Signal.INCOMING),
               R.Readings.of(guest=guest), policy())
    assert need.value.what == "nova_instance"
    _, todo = R.step(state, sig("g1", Signal.INCOMING),
                     R.Readings.of(guest=guest, nova_instance=True),
                     policy())
    assert kinds(todo) == ["write open", "write phase", "mark", "probe"]
    # an agent told to shape every guest does not ask whose it is
    _, todo = R.step(state, sig("g1", Signal.INCOMING),
                     R.Readings.of(guest=guest),
                     dataclasses.replace(policy(), sessions=SessionPolicy(
                         2, nova_only=False)))
    assert kinds(todo) == ["write open", "write phase", "mark", "probe"]


@pytest.mark.parametrize("guest,nova,said", [
    # announced (RPC started) before the destination defined the guest
    (None, True, "incoming announced, the guest is not on this host "
                 "yet: waiting for it"),
    # a domain Nova does not own (another tool's, a test's)
    (Guest("g1", "g1", 2, GUEST_KIB, GUEST_KIB), False,
     "not a Nova instance (no Nova metadata in its domain): left alone"),
])
def test_an_incoming_guest_not_to_shape_opens_no_session(guest, nova, said):
    state = Agent(policy()).state
    after, todo = R.step(state, sig("g1", Signal.INCOMING),
                         R.Readings.of(guest=guest, nova_instance=nova),
                         policy())
    assert [(type(a).__name__, a.text) for a in todo] == [("Note", said)]
    assert after == state
