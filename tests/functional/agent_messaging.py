"""What a test needs to talk to a destination agent of its own over
RabbitMQ: the agent's names, and a client that is closed when the test
is done with it.

Every agent a test starts has a unique host name (its RPC server) and a
notifications topic of its own, on the broker's virtual host of this
run (``tools/services/10-rabbitmq.sh``, deleted when the run ends).  Its
RPC topic is the default one, as in a deployment.

(An RPC topic per agent once left every in-process agent after the
first unanswered, and a unit test's topic made the destination agent's
calls time out in the functional tests run after it: the agent's option
groups were shared by every ``ConfigOpts`` of the process, so one conf's
``set_override`` was every conf's value; see
``nova_hooks.conf.register_opts``, #18.)"""
from __future__ import annotations

from typing import Any


def notifications_topic(host: str) -> str:
    """The versioned-notifications topic of the test agent of ``host``
    (its ``[agent] notifications_topic``)."""
    return f"wa-test-notifications-{host}"


class AgentClient:
    """The control plane's RPC client for one agent: one transport for
    all of a test's calls, released by :meth:`close`."""

    def __init__(self, transport_url: str, host: str,
                 timeout_s: float = 10.0) -> None:
        self.transport_url = transport_url
        self.host = host
        self.timeout_s = timeout_s
        self._client: Any = None

    def call(self, method: str, **payload) -> Any:
        if self._client is None:
            from oslo_config import cfg

            from nova_hooks import conf as agent_conf
            from nova_hooks.agent import rpc

            conf = cfg.ConfigOpts()
            agent_conf.register_opts(conf)
            conf([], project="nova-adaptive-test", default_config_files=[])
            self._client = rpc.make_client(conf, self.host,
                                           timeout_s=self.timeout_s,
                                           url=self.transport_url)
        return self._client.call({}, method, payload=payload)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.transport.cleanup()
