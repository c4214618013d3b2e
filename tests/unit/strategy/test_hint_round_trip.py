"""One hint, end to end: the strategy builds a MigrationHint, Watcher
validates the action that carries it, the action sends it over
oslo.messaging (the in-memory ``fake://`` driver: the same client and
server code as over RabbitMQ, tests/functional) and the agent's RPC
endpoint hands the same MigrationHint to its manager."""
from __future__ import annotations

import threading

import pytest

from nova_hooks.core import hint as H
from tests.unit.strategy import builders
from tests.unit.strategy.test_adaptive_migration import FakeHistory
from tests.unit.strategy.test_adaptive_migration import adaptive_cluster
from tests.unit.strategy.test_adaptive_migration import load_strategy

pytest.importorskip("watcher")
messaging = pytest.importorskip("oslo_messaging")

DEST = "cmp-dest"
TOPIC = "adaptive-agent-test"


@pytest.fixture(scope="module", autouse=True)
def watcher_conf():
    from oslo_config import cfg
    cfg.CONF([], project="watcher", default_config_files=[])


@pytest.fixture
def agent_over_fake_transport():
    """An AgentNotifier and, on its transport, the agent's endpoint
    served by a real oslo.messaging RPC server."""
    from nova_hooks.agent import rpc
    from watcher_adaptive.adapters.agent_rpc import AgentNotifier

    received: list = []
    arrived = threading.Event()

    def on_hint(hint):
        received.append(hint)
        arrived.set()

    notifier = AgentNotifier("fake://", TOPIC, 5.0)
    # the fake driver's queues live in one transport: the server shares
    # the notifier's
    transport = notifier._client(DEST).transport
    target = messaging.Target(exchange=rpc.EXCHANGE, topic=TOPIC,
                              server=DEST)
    endpoint = rpc.AgentEndpoint(on_hint, lambda *_: None)
    server = messaging.get_rpc_server(transport, target, [endpoint],
                                      executor="threading")
    server.start()
    try:
        yield notifier, endpoint, received
    finally:
        server.stop()
        server.wait()
        notifier.close()


def test_strategy_action_rpc_agent_carry_one_hint(tmp_path,
                                                  agent_over_fake_transport):
    from watcher.applier.loading import default

    from watcher_adaptive.action.adaptive_migrate import _Run

    notifier, endpoint, received = agent_over_fake_transport
    model, cpu = adaptive_cluster()
    strategy = load_strategy(tmp_path, builders.RecordingSource(cpu),
                             horizon=1800)
    strategy.config.action_type = "adaptive_migrate"
    strategy._history_source = FakeHistory({})
    strategy._compute_model = model
    planned = strategy.execute().actions
    assert planned
    for i, planned_action in enumerate(planned):
        params = dict(planned_action["input_parameters"])
        params["destination_node"] = DEST
        action = default.DefaultActionLoader().load("adaptive_migrate")
        action.input_parameters = params
        assert action.validate_parameters()     # Watcher's own check
        action._notifier = notifier
        answer = action._tell("prepare", _Run(correlation_id=f"c-{i}"))
        assert answer["accepted"] and "ignored" not in answer, answer
        got = received[-1]
        assert isinstance(got, H.MigrationHint)
        # the agent holds what the strategy built, field for field
        assert got == H.from_params(params["resource_id"], f"c-{i}",
                                    params["hint"])
        assert H.to_params(got) == params["hint"]
        assert got.expected_hot_kib and got.forecast is not None
    assert len(received) == len(planned)
    assert not endpoint.ignored
