"""Properties of the agent's decisions and of its journal.

The decisions (:mod:`nova_hooks.core.intents`) are carried out by the
real :class:`~nova_hooks.agent.executor.Executor` into a real
:class:`~nova_hooks.agent.journal.Journal` on disk, against an in-memory
host that implements the same protocol as the libvirt one (its values
are what a guest would show).  Whatever the decisions and whichever
changes fail or never get their outcome journaled (a crash):

* the balloon is never set below the floor (nor above the maximum);
* every change has its undo: restoring from the journal's fold puts
  every value back as it was before the session;
* the journal's fold is the state: a restarted agent (a new Journal on
  the same file) replays the same state, replaying twice gives the same
  state, and a restore done twice changes nothing the second time.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any
from typing import Optional

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.agent.executor import Executor
from nova_hooks.agent.host import Affinity
from nova_hooks.agent.host import Guest
from nova_hooks.agent.journal import Journal
from nova_hooks.core import balloon
from nova_hooks.core import intents
from nova_hooks.core import journal_model as J
from nova_hooks.core.types import BalloonPolicy
from nova_hooks.core.types import VmFigures

UUID = "6a0f3a35-3b5e-4a39-9d6c-6d4b8a1f2c10"
MIB = 1024
SETTINGS = settings(max_examples=100, deadline=None)
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else None


class MemoryQmp:
    def __init__(self, host: "MemoryHost") -> None:
        self.host = host

    def set_balloon(self, kib: int) -> None:
        self.host.make(J.Action.BALLOON, kib)


class MemoryHost:
    """A guest's values in memory, behind the Host protocol; ``failing``
    actions raise OSError as a vanished thread or a full disk would."""

    def __init__(self, values: dict[J.Action, Any], has_qmp: bool,
                 failing: frozenset[J.Action] = frozenset()) -> None:
        self.values = dict(values)
        self.has_qmp = has_qmp
        self.failing = failing

    def make(self, action: J.Action, value: Any) -> None:
        if action in self.failing:
            raise OSError(5, f"{action.value} refused")
        self.values[action] = value

    def guest(self, uuid: str) -> Guest:
        return Guest(uuid, "guest", 2, self.values[J.Action.BALLOON],
                     4096 * MIB)

    def qmp(self, guest: Guest) -> Optional[MemoryQmp]:
        return MemoryQmp(self) if self.has_qmp else None

    def affinity(self, guest: Guest) -> Affinity:
        return Affinity(self.values[J.Action.VCPU_AFFINITY],
                        self.values[J.Action.EMULATOR_AFFINITY], True)

    def set_balloon(self, guest: Guest, kib: int) -> None:
        self.make(J.Action.BALLOON, kib)

    def set_vcpu_affinity(self, guest: Guest, cpus: Any) -> None:
        self.make(J.Action.VCPU_AFFINITY, [list(c) for c in cpus])

    def set_emulator_affinity(self, guest: Guest, cpus: Any) -> None:
        self.make(J.Action.EMULATOR_AFFINITY, list(cpus))

    def set_stats_period(self, guest: Guest, seconds: int) -> None:
        self.make(J.Action.STATS_PERIOD, seconds)


kib = st.integers(1, 4096).map(lambda m: m * MIB)
policies = st.builds(
    BalloonPolicy, floor_kib=st.integers(64, 2048).map(lambda m: m * MIB),
    headroom_kib=st.integers(0, 256).map(lambda m: m * MIB),
    headroom_ratio=st.floats(0, 1),
    max_step_kib=st.integers(1, 512).map(lambda m: m * MIB),
    min_change_kib=st.integers(0, 64).map(lambda m: m * MIB),
    require_guest_need=st.booleans())


@st.composite
def figures(draw):
    guest = draw(kib)
    hot = draw(st.integers(0, guest))
    warm = draw(st.integers(0, guest - hot))
    need = draw(st.one_of(st.none(), st.integers(0, guest // 1024)))
    return VmFigures(guest_bytes=guest * 1024, hot_bytes=hot * 1024,
                     warm_bytes=warm * 1024,
                     cold_bytes=(guest - hot - warm) * 1024,
                     guest_need_kib=need)


@SETTINGS
@given(current=kib, maximum=kib, figs=figures(), policy=policies,
       postcopy=st.booleans(), qmp=st.booleans(),
       applied=st.one_of(st.none(), kib))
def test_the_balloon_is_never_set_below_the_floor(current, maximum, figs,
                                                  policy, postcopy, qmp,
                                                  applied):
    current = min(current, maximum)
    plan = balloon.plan_balloon(current, maximum, figs, policy)
    todo = intents.balloon_intents(current, plan, applied, postcopy, qmp)
    level = current
    for intent in todo:
        assert intent.action is J.Action.BALLOON
        assert min(policy.floor_kib, maximum) <= intent.after <= maximum
        if intent.after < level and intent.channel is not J.Channel.QUEUED:
            # a shrink made now goes in bounded steps (a queued one is
            # the target, planned again in steps at completion)
            assert level - intent.after <= policy.max_step_kib
        level = intent.after
    if todo:
        assert todo[-1].after == plan.target_kib
        assert applied != plan.target_kib


cpu_sets = st.lists(st.integers(0, 7), min_size=1, max_size=4,
                    unique=True).map(sorted)
#: one decision of a session: an affinity move, a balloon plan or the
#: statistics period, as the manager makes them
decisions = st.one_of(
    st.tuples(st.just("affinity"), st.lists(cpu_sets, min_size=2,
                                            max_size=2), cpu_sets),
    st.tuples(st.just("balloon"), figures(), st.booleans()),
    st.tuples(st.just("stats"), st.integers(1, 10)))


def _decide(host: MemoryHost, guest: Guest, decision: tuple,
            policy: BalloonPolicy, applied: Optional[int]
            ) -> tuple[intents.Intent, ...]:
    kind = decision[0]
    if kind == "affinity":
        now = host.affinity(guest)
        return intents.affinity_intents(now.vcpus, decision[1],
                                        now.emulator, decision[2], True,
                                        "test", "planned")
    if kind == "balloon":
        plan = balloon.plan_balloon(guest.current_kib, guest.maximum_kib,
                                    decision[1], policy)
        return intents.balloon_intents(guest.current_kib, plan, applied,
                                       decision[2], host.has_qmp)
    return (intents.Intent(J.Action.STATS_PERIOD, J.Channel.LIBVIRT,
                           host.values[J.Action.STATS_PERIOD], decision[1],
                           "test"),)


def _restore(executor: Executor, host: MemoryHost, journal: Journal
             ) -> None:
    state = journal.sessions()[UUID]
    guest = host.guest(UUID)
    for intent in intents.undo_intents(J.restore_actions(state),
                                       host.has_qmp, "restore"):
        executor.carry_out(UUID, guest, intent)


@SETTINGS
@given(steps=st.lists(decisions, min_size=1, max_size=8), policy=policies,
       has_qmp=st.booleans(),
       failing=st.frozensets(st.sampled_from(list(J.Action)), max_size=2),
       crash_after=st.one_of(st.none(), st.integers(0, 12)))
def test_every_change_has_its_undo_and_the_journal_is_the_state(
        steps, policy, has_qmp, failing, crash_after):
    original = {J.Action.BALLOON: 2048 * MIB,
                J.Action.VCPU_AFFINITY: [[0, 1, 2, 3], [0, 1, 2, 3]],
                J.Action.EMULATOR_AFFINITY: [0, 1, 2, 3],
                J.Action.STATS_PERIOD: 0}
    host = MemoryHost(original, has_qmp, failing)
    # the journal fsyncs every record: on tmpfs when there is one, so
    # that many examples stay cheap
    with tempfile.TemporaryDirectory(dir=SHM) as tmp:
        path = f"{tmp}/journal.jsonl"
        journal = Journal(path)
        executor = Executor(host, journal)
        executor.record(UUID, J.Kind.OPEN, detail="incoming")
        made = 0
        for decision in steps:
            state = journal.sessions()[UUID]
            todo = _decide(host, host.guest(UUID), decision, policy,
                           state.applied.get(J.Action.BALLOON))
            for intent in todo:
                if crash_after is not None and made == crash_after:
                    # the agent dies between the intent and its outcome
                    executor.record(UUID, J.Kind.INTENT, intent.action,
                                    intent.channel, intent.before,
                                    intent.after, intent.why)
                    if intent.channel is not J.Channel.QUEUED:
                        host.values[intent.action] = intent.after  # landed
                    break
                executor.carry_out(UUID, host.guest(UUID), intent)
                made += 1
            else:
                continue
            break
        # a restart: a new journal on the same file is the same state,
        # and replaying it twice gives that state again
        again = Journal(path)
        assert again.sessions() == journal.sessions()
        assert J.replay(again.load()) == J.replay(again.load())
        assert again.sessions()[UUID].open
        host.failing = frozenset()      # the fault is gone
        restarted = Executor(host, again)
        _restore(restarted, host, again)
        # every value the session touched is back as it was
        assert host.values == original
        # a second restore has nothing left to put back
        assert J.restore_actions(again.sessions()[UUID]) == {} or all(
            host.values[a] == v for a, v in
            J.restore_actions(again.sessions()[UUID]).items())
        before = dict(host.values)
        _restore(restarted, host, again)
        assert host.values == before
