"""Nova's versioned notifications: which ones the agent takes, from whom,
and what malformed ones cost (nothing)."""
from __future__ import annotations

from nova_hooks.agent.notifications import NotificationEndpoint
from nova_hooks.agent.notifications import interpret
from nova_hooks.core.lifecycle import Signal

UUID = "178b0921-8f85-4257-88b6-2e743b5a975c"


def payload(uuid=UUID, flavor="m1.db"):
    data = {"uuid": uuid, "host": "src", "node": "src"}
    if flavor is not None:
        data["flavor"] = {"nova_object.name": "FlavorPayload",
                          "nova_object.data": {"name": flavor}}
    return {"nova_object.name": "InstanceActionPayload",
            "nova_object.version": "1.8", "nova_object.data": data}


def test_the_three_destination_notifications_and_nothing_else():
    assert interpret("instance.live_migration_pre.start", payload()) == (
        UUID, "m1.db", None)
    assert interpret("instance.live_migration_post_dest.end",
                     payload()) == (UUID, "m1.db", Signal.COMPLETED)
    assert interpret("instance.live_migration_rollback_dest.end",
                     payload(flavor=None)) == (UUID, None, Signal.FAILED)
    assert interpret("instance.live_migration_post_dest.start",
                     payload())[2] is None
    assert interpret("instance.live_migration_abort.start",
                     payload()) is None
    assert interpret("instance.update", payload()) is None


def test_malformed_payloads_are_dropped():
    for bad in (None, "x", {}, {"nova_object.data": "x"},
                {"nova_object.data": {"uuid": 7}},
                {"nova_object.data": {"uuid": ""}}):
        assert interpret("instance.live_migration_pre.start", bad) is None
    assert interpret(None, payload()) is None


def test_only_this_hosts_notifications_reach_the_manager():
    got = []
    endpoint = NotificationEndpoint(
        "hostb", lambda u, f: got.append(("context", u, f)),
        lambda u, s: got.append(("signal", u, s)))
    endpoint.info({}, "nova-compute:hosta",
                  "instance.live_migration_pre.start", payload(), {})
    endpoint.info({}, "nova-compute:hostb",
                  "instance.live_migration_pre.start", payload(), {})
    endpoint.info({}, "nova-compute:hostb",
                  "instance.live_migration_rollback_dest.end",
                  payload(flavor=None), {})
    endpoint.info({}, "nova-compute:hostb",
                  "instance.live_migration_pre.start", "garbage", {})
    assert got == [("context", UUID, "m1.db"),
                   ("signal", UUID, Signal.FAILED)]
    assert endpoint.seen == 2


def test_the_listener_pool_is_not_the_rpc_servers_queue():
    from oslo_config import cfg

    from nova_hooks import conf as agent_conf
    from nova_hooks.agent.notifications import pool_name

    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], default_config_files=[])
    # RabbitMQ names the RPC server's queue <topic>.<server>
    rpc_queue = f"{conf.agent.rpc_topic}.hostb"
    assert pool_name("hostb") != rpc_queue
    assert pool_name("hostb") != pool_name("hosta")
