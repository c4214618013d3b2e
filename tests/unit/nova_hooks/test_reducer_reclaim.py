"""Cold-page reclaim decided by the agent's reducer while post-copy runs.

The reducer pages out only what a sampling backend located outside the
hot and warm sets, within the quota and the floor, journals every round
with its bounds, and asks every paged range back when the migration
fails, also after a restart that found a round in doubt.  The host is
not touched: the readings are values and the "world" is the journal.
"""
from __future__ import annotations

import tempfile

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from oslo_config import cfg

from nova_hooks import conf as agent_conf
from nova_hooks.agent.executor import Executor
from nova_hooks.agent.journal import Journal
from nova_hooks.cmd.agent import reclaim_policy
from nova_hooks.core import agent_state as S
from nova_hooks.core import classify
from nova_hooks.core import journal_model as J
from nova_hooks.core import reclaim
from nova_hooks.core import reducer as R
from nova_hooks.core.intents import Intent
from nova_hooks.core.lifecycle import Signal
from nova_hooks.core.settings import AgentPolicy
from nova_hooks.core.types import Guest
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Phase
from nova_hooks.core.types import Region
from nova_hooks.core.types import Thresholds
from nova_hooks.core.types import VmFigures
from tests.unit.nova_hooks import builders as B

MiB = 1 << 20
GUEST = 256 * MiB
UUID = "g1"
QUOTA = 32 * MiB
HEADROOM = 16 * MiB
#: the first 64 MiB arrived; the guest asked for [0, 8) MiB (hot) and
#: [8, 12) MiB (warm)
PRESENT = ((0, 64 * MiB),)
HOT = ((0, 8 * MiB),)
WARM = ((8 * MiB, 4 * MiB),)


def policy(**kw) -> AgentPolicy:
    return AgentPolicy(pinning_enabled=False, balloon_enabled=False,
                       reclaim=reclaim.ReclaimPolicy(
                           quota_bytes_per_s=QUOTA,
                           headroom_bytes=HEADROOM, **kw))


def ram(now: float = 100.0, present=PRESENT,
        free_pct: float = 50.0) -> reclaim.RamReading:
    return reclaim.RamReading(GUEST, tuple(present), free_pct, now)


def readings(gone: bool = False, **ram_kw) -> R.Readings:
    guest = None if gone else Guest(UUID, UUID, 2, GUEST >> 10,
                                    GUEST >> 10)
    return R.Readings.of(guest=guest, ram=ram(**ram_kw),
                         nova_instance=True)


def figures() -> VmFigures:
    return VmFigures(GUEST, 8 * MiB, 4 * MiB, GUEST - 12 * MiB,
                     sources=("postcopy_trace",))


def sampled(hot=HOT, warm=WARM, phase=Phase.POSTCOPY,
            reclaim_free: bool = True) -> R.Sampled:
    return R.Sampled(UUID, phase, figures(), 0.01, True, hot, warm,
                     reclaim_free)


class Agent:
    """The reducer with a journal: every record it asks for is written
    and applied, every change done (or failed when told)."""

    def __init__(self, pol: AgentPolicy) -> None:
        self.policy = pol
        self.state = S.AgentState()
        self.journal: list[J.Record] = []

    def write(self, kind, action=None, channel=None, before=None,
              after=None, detail="") -> None:
        rec = J.Record(len(self.journal) + 1, 0.0, UUID, kind, action,
                       channel, before, after, detail)
        self.journal.append(rec)
        self.state = S.apply(self.state, rec)

    def step(self, event, obs: R.Readings, crash: bool = False):
        expected, todo = R.step(self.state, event, obs, self.policy)
        for a in todo:
            if isinstance(a, R.Write):
                self.write(a.kind, a.action, a.channel, after=a.after,
                           detail=a.detail)
            elif isinstance(a, R.Change):
                i = a.intent
                self.write(J.Kind.INTENT, i.action, i.channel, i.before,
                           i.after, i.why)
                if crash:
                    return todo     # the agent died before the outcome
                self.write(J.Kind.DONE, i.action, i.channel, after=i.after)
        assert expected == self.state
        return todo

    def in_postcopy(self) -> "Agent":
        for s in (Signal.INCOMING, Signal.POSTCOPY):
            self.step(R.SignalEvent(UUID, s), readings())
        return self


def page_outs(todo) -> list[Intent]:
    return [a.intent for a in todo if isinstance(a, R.Change)
            and a.intent.action is J.Action.PAGE_OUT]


def test_a_postcopy_round_pages_out_cold_present_pages_only():
    agent = Agent(policy()).in_postcopy()
    todo = agent.step(sampled(), readings())
    [intent] = page_outs(todo)
    assert intent.channel is J.Channel.MADVISE
    ranges = reclaim.ranges_of(intent.after)
    # never a hot or warm byte, only present pages, at most the quota
    assert not reclaim.intersect(ranges, HOT + WARM)
    assert reclaim.subtract(ranges, PRESENT) == ()
    assert reclaim.total(ranges) == intent.after["bytes"] == QUOTA
    assert intent.after["bounds"]["quota_bytes_per_s"] == QUOTA
    assert intent.after["bounds"]["resident_bytes"] == 64 * MiB
    assert reclaim.ranges_of({"ranges": intent.after["protected"]}) == \
        ((0, 12 * MiB),)
    assert agent.state.get(UUID).reclaim.paged == ranges


def test_the_quota_holds_across_rounds_of_one_second_and_renews():
    agent = Agent(policy()).in_postcopy()
    agent.step(sampled(), readings(now=100.0))
    # the same second: the window is spent
    assert page_outs(agent.step(sampled(), readings(now=100.5))) == []
    # the next: up to the floor (64 - 32 paged ... present shrank)
    left = reclaim.subtract(PRESENT, agent.state.get(UUID).reclaim.paged)
    [intent] = page_outs(agent.step(sampled(), readings(now=101.0,
                                                        present=left)))
    floor = 8 * MiB + 4 * MiB + HEADROOM
    assert intent.after["bytes"] == reclaim.total(left) - floor
    assert intent.after["bounds"]["floor_bytes"] == floor


def test_a_round_holds_the_next_for_a_second_and_a_held_one_reads_nothing():
    agent = Agent(policy()).in_postcopy()
    todo = agent.step(sampled(), readings())
    assert [a.seconds for a in todo if isinstance(a, R.Hold)
            and a.lever is J.Action.PAGE_OUT] == \
        [R.RECLAIM_ROUND_S]
    # held: no guest-RAM reading is asked for (none is given here)
    todo = agent.step(sampled(reclaim_free=False),
                      R.Readings.of(guest=Guest(UUID, UUID, 2, GUEST >> 10,
                                                GUEST >> 10)))
    assert page_outs(todo) == []
    assert not any(isinstance(a, R.Hold) and a.lever is J.Action.PAGE_OUT
                   for a in todo)


@pytest.mark.parametrize("event,obs,why", [
    (sampled(hot=None, warm=None), readings(), "not located"),
    (sampled(), R.Readings.of(guest=None, ram=None), "RAM unreadable"),
    (sampled(), readings(free_pct=2.0), "below the low watermark"),
    (sampled(phase=Phase.INCOMING), readings(), "pre-copy"),
])
def test_no_reclaim_without_a_located_hot_set_or_outside_its_bounds(
        event, obs, why):
    agent = Agent(policy()).in_postcopy()
    assert page_outs(agent.step(event, obs)) == [], why


def test_no_reclaim_unless_the_policy_asks_for_it():
    agent = Agent(AgentPolicy(pinning_enabled=False,
                              balloon_enabled=False)).in_postcopy()
    todo = agent.step(sampled(), readings())
    assert page_outs(todo) == []
    assert not any(isinstance(a, R.Note) and "reclaim" in a.text
                   for a in todo)


def test_no_reclaim_in_steady_state():
    agent = Agent(policy()).in_postcopy()
    agent.step(R.SignalEvent(UUID, Signal.COMPLETED), readings())
    assert page_outs(agent.step(sampled(phase=Phase.STEADY),
                                readings())) == []


def test_a_failed_migration_asks_every_paged_range_back():
    agent = Agent(policy()).in_postcopy()
    agent.step(sampled(), readings(now=100.0))
    agent.step(sampled(), readings(now=101.0))
    paged = agent.state.get(UUID).reclaim.paged
    assert reclaim.total(paged) > QUOTA
    todo = agent.step(R.SignalEvent(UUID, Signal.FAILED), readings())
    [back] = [a for a in todo if isinstance(a, R.Change)
              and a.intent.action is J.Action.PAGE_IN]
    assert back.undo and reclaim.ranges_of(back.intent.after) == paged
    assert agent.state.get(UUID) is None        # restored and closed


def test_a_restart_finds_the_round_in_doubt_and_asks_it_back():
    agent = Agent(policy()).in_postcopy()
    todo = agent.step(sampled(), readings(), crash=True)
    [intent] = page_outs(todo)
    # a new run folds the journal: the session is inherited, restored
    state = S.fold(agent.journal).inherit()
    _, undo = R.step(state, R.Restore(UUID, "agent restarted"), readings(),
                     policy())
    [back] = [a.intent for a in undo if isinstance(a, R.Change)]
    assert back.action is J.Action.PAGE_IN
    assert reclaim.ranges_of(back.after) == reclaim.ranges_of(intent.after)


def test_a_guest_gone_on_failure_needs_nothing_back():
    agent = Agent(policy()).in_postcopy()
    agent.step(sampled(), readings())
    todo = agent.step(R.SignalEvent(UUID, Signal.FAILED),
                      readings(gone=True))
    assert not [a for a in todo if isinstance(a, R.Change)]
    done = [a for a in todo if isinstance(a, R.Write)
            and a.action is J.Action.PAGE_IN]
    assert done and done[0].detail == "guest gone"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(1, 16)),
                min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(0, 255), st.integers(1, 64)),
                min_size=1, max_size=8),
       st.integers(1, 6))
def test_rounds_never_take_a_located_page_nor_exceed_quota_or_floor(
        hot_mib, present_mib, rounds):
    hot = reclaim.merge((s * MiB, n * MiB) for s, n in hot_mib)
    present = reclaim.intersect(
        reclaim.merge((s * MiB, n * MiB) for s, n in present_mib),
        ((0, GUEST),))
    agent = Agent(policy()).in_postcopy()
    floor = reclaim.total(hot) + HEADROOM
    for k in range(rounds):
        left = reclaim.subtract(present, agent.state.get(UUID).reclaim.paged)
        for intent in page_outs(agent.step(
                sampled(hot=hot, warm=()), readings(now=100.0 + k,
                                                    present=left))):
            ranges = reclaim.ranges_of(intent.after)
            assert not reclaim.intersect(ranges, hot)
            assert reclaim.total(ranges) <= QUOTA
            assert reclaim.total(left) - reclaim.total(ranges) >= floor


# -- where the ranges come from, and the way to the host -----------------
def test_located_ranges_come_from_a_sampling_backend_not_the_forecast():
    t = Thresholds()
    trace = Observation("postcopy_trace", regions=(
        Region(0, MiB, 1.0), Region(MiB, MiB, 0.1), Region(2 * MiB, MiB,
                                                          0.0, idle_s=99)))
    forecast = classify.hint_observation(
        __import__("nova_hooks.core.hint", fromlist=["x"]).MigrationHint(
            UUID, expected_hot_kib=4096), GUEST)
    assert classify.located([trace, forecast], t) == (((0, MiB),),
                                                      ((MiB, MiB),))
    assert classify.located([forecast], t) is None
    pages = Observation("idle_page", pages=B.samples(
        [10, 10, 0, 1, 10], idle=[0, 0, 999, 0, 0]))
    hot, warm = classify.located([pages, trace], t)
    assert hot == ((0, 2 * 4096), (4 * 4096, 4096))
    assert warm == ((3 * 4096, 4096),)


class RamHost:
    """The host as the executor sees it, for the madvise channel."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def page_out(self, guest, ranges) -> int:
        self.calls.append(("out", tuple(ranges)))
        return reclaim.total(ranges)

    def page_in(self, guest, ranges) -> int:
        self.calls.append(("in", tuple(ranges)))
        return reclaim.total(ranges)


def test_the_executor_pages_out_and_in_through_the_host():
    host = RamHost()
    with tempfile.TemporaryDirectory() as tmp:
        executor = Executor(host, Journal(f"{tmp}/journal.jsonl"))
        guest = Guest(UUID, UUID, 2, GUEST >> 10, GUEST >> 10)
        value = {"ranges": [[0, 4096], [8192, 4096]], "bytes": 8192}
        for action in (J.Action.PAGE_OUT, J.Action.PAGE_IN):
            assert executor.carry_out(UUID, guest, Intent(
                action, J.Channel.MADVISE, None, value, "test"))
    assert host.calls == [("out", ((0, 4096), (8192, 4096))),
                          ("in", ((0, 4096), (8192, 4096)))]


def test_reclaim_is_off_by_default_and_its_defaults_are_the_cores():
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([])
    assert reclaim_policy(conf) is None
    conf.set_override("reclaim_enabled", True, "resource_manager")
    assert reclaim_policy(conf) == reclaim.ReclaimPolicy()
    conf.set_override("reclaim_free_low_pct", 60.0, "resource_manager")
    conf.set_override("reclaim_free_high_pct", 50.0, "resource_manager")
    with pytest.raises(ValueError, match="watermarks"):
        reclaim_policy(conf)
