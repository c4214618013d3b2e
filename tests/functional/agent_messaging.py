"""What a test needs to talk to a destination agent of its own over
RabbitMQ: the agent's names, and a client that is closed when the test
is done with it.

Every agent a test starts has a unique host name (its RPC server) and a
notifications topic of its own.  Its RPC topic stays the default one:
with an RPC topic per agent, every in-process agent after the first of
a run went unanswered (test_adaptive_migrate.py in file order: 10 of 17
failed; each passes alone) -- RPC state that outlives a transport in
one process, not understood yet (#18)."""
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
