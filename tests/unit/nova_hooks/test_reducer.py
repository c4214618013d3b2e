"""Properties of the agent's session reducer (nova_hooks.core.reducer).

Any sequence of lifecycle signals, for a few guests: the cap holds,
repeats do nothing, every session that opens is entered at once, a
restore or a close drops it, and the journal those intents
write folds back to the reducer's set of sessions; a restart restores
exactly what the journal shows open.
"""
from __future__ import annotations

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from nova_hooks.core import journal_model as J
from nova_hooks.core import reducer as R
from nova_hooks.core.lifecycle import Signal

GUESTS = ["g1", "g2", "g3", "g4"]
events = st.lists(st.builds(R.SignalEvent, st.sampled_from(GUESTS),
                            st.sampled_from([s for s in Signal
                                             if s is not Signal.PREPARE])),
                  max_size=40)
policies = st.builds(R.SessionPolicy, st.integers(1, 3))


def _records(intents, seq):
    """The journal records the manager writes for ``intents``."""
    out = []
    for intent in intents:
        if isinstance(intent, R.Skip):
            kinds = [J.Kind.OPEN, J.Kind.CLOSE]
        elif isinstance(intent, R.Open):
            kinds = [J.Kind.OPEN]
        elif isinstance(intent, (R.Restore, R.Close)):
            kinds = [J.Kind.CLOSE]
        else:
            kinds = []
        for kind in kinds:
            seq += 1
            out.append(J.Record(seq, float(seq), intent.uuid, kind))
    return out, seq


@settings(max_examples=300, deadline=None)
@given(evs=events, policy=policies)
def test_sessions_follow_the_signals(evs, policy):
    state, journal, seq = R.AgentState(), [], 0
    for ev in evs:
        new, todo = R.step(state, ev, policy)
        # the cap holds
        assert len(new.sessions) <= policy.max_sessions
        # a repeat of the same signal asks for nothing more (a guest
        # over the cap is skipped, and journaled, each time it is seen)
        again, more = R.step(new, ev, policy)
        assert again == new
        assert more == () or more == (R.Skip(ev.uuid, "concurrency cap"),)
        kinds = [type(i) for i in todo]
        if R.Open in kinds:
            # a session opens on INCOMING only, and is entered at once
            assert ev.signal is Signal.INCOMING
            assert kinds[kinds.index(R.Open) + 1] is R.Enter
        if R.Restore in kinds or R.Close in kinds:
            assert not new.managed(ev.uuid)
        if R.Skip in kinds:
            assert todo == (R.Skip(ev.uuid, "concurrency cap"),)
            assert new == state
        records, seq = _records(todo, seq)
        journal.extend(records)
        # the journal's fold is the reducer's set of sessions
        assert {u for u, _ in R.fold(journal).sessions} == \
            {u for u, _ in new.sessions}
        assert R.fold(journal) == R.fold(list(journal))
        state = new
    # a restart restores exactly what the journal shows open
    restarted, todo = R.step(R.fold(journal), R.Restart(), policy)
    assert restarted == R.AgentState()
    assert sorted(i.uuid for i in todo) == sorted(u for u, _ in
                                                  state.sessions)
    assert all(isinstance(i, R.Restore) for i in todo)


def test_a_failed_migration_is_entered_then_restored():
    policy = R.SessionPolicy(2)
    state, todo = R.step(R.AgentState(), R.SignalEvent("g", Signal.INCOMING),
                         policy)
    assert [type(i) for i in todo] == [R.Open, R.Enter]
    state, todo = R.step(state, R.SignalEvent("g", Signal.FAILED), policy)
    assert [type(i) for i in todo] == [R.Enter, R.Restore]
    assert state == R.AgentState()
    # a completion for a guest never seen arriving is not the agent's
    assert R.step(state, R.SignalEvent("g", Signal.COMPLETED),
                  policy) == (state, ())
