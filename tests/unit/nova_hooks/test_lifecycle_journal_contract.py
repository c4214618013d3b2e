"""Migration state machine, journal replay and the message contract."""
import pytest

from nova_hooks.core import contract
from nova_hooks.core import journal_model as jm
from nova_hooks.core import lifecycle as lc
from nova_hooks.core.types import Phase

S = lc.Signal


@pytest.mark.parametrize("event,detail,signal", [
    (lc.EV_STARTED, lc.STARTED_MIGRATED, S.INCOMING),
    (lc.EV_STARTED, 0, None),                       # booted: not ours
    (lc.EV_RESUMED, lc.RESUMED_POSTCOPY, S.POSTCOPY),
    (lc.EV_RESUMED, lc.RESUMED_MIGRATED, S.COMPLETED),
    (lc.EV_RESUMED, 0, None),
    (lc.EV_SUSPENDED, lc.SUSPENDED_POSTCOPY_FAILED, S.FAILED),
    (lc.EV_SUSPENDED, 1, None),
    (lc.EV_STOPPED, lc.STOPPED_FAILED, S.STOPPED),
    (lc.EV_STOPPED, lc.STOPPED_DESTROYED, S.STOPPED),   # e.g. deleted
    (lc.EV_STOPPED, lc.STOPPED_CRASHED, S.STOPPED),
    (lc.EV_STOPPED, lc.STOPPED_SHUTDOWN, S.GONE),
    (lc.EV_STOPPED, lc.STOPPED_MIGRATED, S.GONE),
])
def test_lifecycle_signal_table(event, detail, signal):
    assert lc.lifecycle_signal(event, detail) is signal


@pytest.mark.parametrize("signals,phases", [
    ([S.INCOMING, S.POSTCOPY, S.COMPLETED, S.GONE],
     [Phase.INCOMING, Phase.POSTCOPY, Phase.STEADY, Phase.DONE]),
    ([S.PREPARE, S.PREPARE, S.INCOMING, S.COMPLETED],
     [Phase.PREPARED, Phase.PREPARED, Phase.INCOMING, Phase.STEADY]),
    ([S.INCOMING, S.FAILED, S.GONE],
     [Phase.INCOMING, Phase.FAILED, Phase.FAILED]),
    ([S.INCOMING, S.POSTCOPY, S.FAILED],
     [Phase.INCOMING, Phase.POSTCOPY, Phase.FAILED]),
    ([S.INCOMING, S.STOPPED], [Phase.INCOMING, Phase.FAILED]),
    # stopped after completion (Nova deleted the server): the session
    # ends; a failure message after completion is stale
    ([S.INCOMING, S.POSTCOPY, S.COMPLETED, S.FAILED, S.STOPPED],
     [Phase.INCOMING, Phase.POSTCOPY, Phase.STEADY, None, Phase.DONE]),
    ([S.COMPLETED], [None]),           # never saw it arrive
    ([S.INCOMING, S.POSTCOPY, S.INCOMING],
     [Phase.INCOMING, Phase.POSTCOPY, None]),
])
def test_next_phase_sequences(signals, phases):
    phase = None
    for signal, want in zip(signals, phases, strict=True):
        got = lc.next_phase(phase, signal)
        assert got == want, (phase, signal)
        phase = got if got is not None else phase


def _rec(seq, kind, action=None, channel=None, before=None, after=None,
         vm="vm1"):
    return jm.Record(seq, float(seq), vm, kind, action, channel, before,
                     after)


B, V = jm.Action.BALLOON, jm.Action.VCPU_AFFINITY
K, C = jm.Kind, jm.Channel


def test_record_roundtrip():
    rec = _rec(3, K.INTENT, V, C.SCHED, [[0, 1]], [[1]])
    assert jm.Record.from_dict(rec.to_dict()) == rec
    assert "action" not in _rec(1, K.OPEN).to_dict()


@pytest.mark.parametrize("records,restore,open_", [
    # done changes are restored to the first "before"
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.QMP, 512, 400),
      _rec(3, K.DONE, B, C.QMP, 512, 400),
      _rec(4, K.INTENT, B, C.QMP, 400, 300),
      _rec(5, K.DONE, B, C.QMP, 400, 300)], {B: 512}, True),
    # an intent without outcome is in doubt: restore it too
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, V, C.SCHED, [[0, 1]], [[1]])],
     {V: [[0, 1]]}, True),
    # failed: nothing changed
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.LIBVIRT, 512, 400),
      _rec(3, K.FAILED, B, C.LIBVIRT, 512, 400)], {}, True),
    # dry-run and queued-only: nothing made
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.DRY_RUN, 512, 400),
      _rec(3, K.DONE, B, C.DRY_RUN, 512, 400),
      _rec(4, K.INTENT, V, C.QUEUED, [[0, 1]], [[1]])], {}, True),
    # changed back to the original already
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.QMP, 512, 400),
      _rec(3, K.DONE, B, C.QMP, 512, 400),
      _rec(4, K.INTENT, B, C.QMP, 400, 512),
      _rec(5, K.DONE, B, C.QMP, 400, 512)], {}, True),
    # a closed session
    ([_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.QMP, 512, 400),
      _rec(3, K.DONE, B, C.QMP, 512, 400), _rec(4, K.CLOSE)], {B: 512},
     False),
])
def test_replay_and_restore_table(records, restore, open_):
    state = jm.replay(records)["vm1"]
    assert state.open is open_
    assert jm.restore_actions(state) == restore


def test_replay_keeps_only_the_latest_session_and_queue():
    recs = [_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.QMP, 512, 400),
            _rec(3, K.DONE, B, C.QMP, 512, 400), _rec(4, K.CLOSE),
            _rec(5, K.OPEN), _rec(6, K.INTENT, V, C.QUEUED, [[0]], [[1]]),
            _rec(7, K.INTENT, B, C.QMP, 256, 200, vm="vm2")]
    states = jm.replay(recs)
    assert states["vm1"].queued == {V: [[1]]}
    assert states["vm1"].originals == {V: [[0]]}
    assert states["vm2"].in_doubt == {B: 200}


def test_queued_done_clears_queue():
    recs = [_rec(1, K.OPEN), _rec(2, K.INTENT, B, C.QUEUED, 512, 400),
            _rec(3, K.INTENT, B, C.LIBVIRT, 512, 400),
            _rec(4, K.DONE, B, C.LIBVIRT, 512, 400)]
    st = jm.replay(recs)["vm1"]
    assert st.queued == {} and st.applied == {B: 400}


def test_contract_prepare_roundtrip_and_key():
    payload = {"version": "1.3", "instance_uuid": "u1",
               "migration_id": "m1", "vm_type": "db", "profile_id": 2,
               "thresholds": {"hot_access_rate": 0.4},
               "working_set_kib": 1024, "dirty_rate_bps": 10.0,
               "preferred_node": 1, "future_field": "ignored"}
    msg = contract.parse_message("prepare", payload)
    assert msg.hint.profile_id == "2"
    assert msg.hint.thresholds.overrides() == (("hot_access_rate", 0.4),)
    assert msg.hint.expected_hot_kib == 1024      # 1.0's working_set_kib
    assert msg.ignored == ("future_field",)
    assert msg.key == ("prepare", "u1", "m1")
    again = contract.parse_message("prepare", contract.make_payload(msg))
    assert again.hint == msg.hint


@pytest.mark.parametrize("kind,payload,match", [
    ("prepare", {"version": "2.0", "instance_uuid": "u"}, "not supported"),
    ("prepare", {"version": 1, "instance_uuid": "u"}, "bad contract"),
    ("prepare", {"version": "1.0"}, "instance_uuid"),
    ("explode", {"version": "1.0", "instance_uuid": "u"}, "unknown"),
    ("prepare", {"version": "1.0", "instance_uuid": "u",
                 "thresholds": {"hot_access_rate": "x"}},
     "thresholds.hot_access_rate"),
    ("prepare", {"version": "1.0", "instance_uuid": "u",
                 "thresholds": {"hot_access_rate": 2}},
     "thresholds.hot_access_rate"),
    ("prepare", {"version": "1.0", "instance_uuid": "u",
                 "preferred_node": -1}, "preferred_node"),
    ("prepare", {"version": "1.0", "instance_uuid": "u",
                 "working_set_kib": True}, "working_set_kib"),
    ("aborted", {"version": "1.0", "instance_uuid": "u",
                 "migration_id": 5}, "migration_id"),
])
def test_contract_refuses(kind, payload, match):
    with pytest.raises(contract.ContractError, match=match):
        contract.parse_message(kind, payload)


def test_contract_other_kinds_have_no_hint():
    msg = contract.parse_message("completed", {"version": "1.0",
                                               "instance_uuid": "u"})
    assert msg.hint is None and msg.key == ("completed", "u", "")


@pytest.mark.parametrize("phase, state, expected", [
    (Phase.POSTCOPY, (1, 10), None),                  # still post-copy
    (Phase.INCOMING, (1, 10), lc.Signal.POSTCOPY),       # missed the switch
    (Phase.POSTCOPY, (1, 2), lc.Signal.COMPLETED),       # running, migrated
    (Phase.INCOMING, (1, 1), lc.Signal.COMPLETED),
    (Phase.INCOMING, (3, 2), None),                   # paused: incoming
    (Phase.POSTCOPY, (3, 13), lc.Signal.FAILED),         # post-copy failed
    (Phase.POSTCOPY, (5, 3), lc.Signal.FAILED),          # shut off
    (Phase.INCOMING, None, lc.Signal.FAILED),            # domain gone
    (Phase.STEADY, (5, 3), None),                     # not in transfer
    (None, (1, 2), None),
])
def test_state_signal_table(phase, state, expected):
    assert lc.state_signal(phase, state) is expected


@pytest.mark.parametrize("node, expected", [(0.0, 0), (2, 2), (3.0, 3)])
def test_preferred_node_takes_json_integers_in_any_spelling(node, expected):
    msg = contract.parse_message("prepare", {
        "version": "1.0", "instance_uuid": "x", "preferred_node": node})
    assert msg.hint.preferred_node == expected
    assert isinstance(msg.hint.preferred_node, int)


@pytest.mark.parametrize("node", [1.5, -1, True, "0"])
def test_preferred_node_refuses_what_is_not_a_node(node):
    with pytest.raises(contract.ContractError, match="preferred_node"):
        contract.parse_message("prepare", {
            "version": "1.0", "instance_uuid": "x", "preferred_node": node})
