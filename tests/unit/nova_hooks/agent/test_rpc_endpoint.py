"""The agent's RPC endpoint without a broker: validation, idempotency,
and the status query (over RabbitMQ in tests/functional)."""
from __future__ import annotations

from nova_hooks.agent.rpc import AgentEndpoint
from nova_hooks.core import contract
from nova_hooks.core.lifecycle import Signal

UUID = "3d9e2c8a-1b4f-4a6e-8c2d-5f7a9b0c1d2e"


def endpoint(status=None):
    got = []
    ep = AgentEndpoint(lambda hint: got.append(("hint", hint)),
                       lambda uuid, sig: got.append(("signal", uuid, sig)),
                       (status or {}).get)
    return ep, got


def test_prepare_hands_the_hint_over_once():
    ep, got = endpoint()
    payload = {"version": "1.3", "instance_uuid": UUID,
               "migration_id": "m1", "working_set_kib": 4096,
               "vm_type": "db", "unknown_field": "ignored"}
    first = ep.prepare({}, payload)
    again = ep.prepare({}, payload)
    assert first == {"accepted": True, "duplicate": False,
                     "version": contract.VERSION,
                     "ignored": ["unknown_field"]}
    assert again["duplicate"] is True
    # a newer sender's field: ignored, said and counted once per message
    assert ep.ignored == {"unknown_field": 2}
    assert len(got) == 1 and got[0][1].expected_hot_kib == 4096
    assert got[0][1].vm_type == "db"


def test_lifecycle_messages_become_signals():
    ep, got = endpoint()
    for kind, sig in (("started", Signal.INCOMING),
                      ("completed", Signal.COMPLETED),
                      ("aborted", Signal.FAILED)):
        answer = getattr(ep, kind)({}, {"version": "1.0",
                                        "instance_uuid": UUID})
        assert answer["accepted"], answer
        assert got[-1] == ("signal", UUID, sig)


def test_refusals_say_why_and_change_nothing():
    ep, got = endpoint()
    assert ep.prepare({}, "x")["error"] == "payload must be an object"
    answer = ep.prepare({}, {"version": "2.0", "instance_uuid": UUID})
    assert not answer["accepted"] and "not supported" in answer["error"]
    answer = ep.prepare({}, {"version": "1.0", "instance_uuid": UUID,
                             "working_set_kib": -1})
    assert not answer["accepted"] and "working_set_kib" in answer["error"]
    assert got == []


def test_status_answers_what_the_agent_knows():
    known = {"phase": "steady", "figures": {"hot_bytes": 1 << 20}}
    ep, _ = endpoint({UUID: known})
    answer = ep.status({}, {"version": "1.0", "instance_uuid": UUID})
    assert answer == {"accepted": True, "found": True, "status": known,
                      "version": contract.VERSION}
    other = ep.status({}, {"version": "1.0", "instance_uuid": "nope"})
    assert other["found"] is False and other["status"] is None
    assert ep.status({}, {"version": "9.0", "instance_uuid": UUID}
                     )["found"] is False
