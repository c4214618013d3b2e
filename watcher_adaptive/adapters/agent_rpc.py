"""Messages from the ``adaptive_migrate`` action to the destination
host's ``nova-adaptive-agent`` over oslo.messaging RPC (the contract of
:mod:`nova_hooks.core.contract`).

The agent is an optimisation: a message it does not answer within the
timeout, a refused one or a broker that cannot be reached is logged and
answered ``None``; nothing here raises to the action.  Each call runs in
its own daemon thread with a hard deadline on top of oslo.messaging's
timeout, so a broker that hangs (rather than refuses) cannot hold the
migration either.

NOTE: oslo.messaging opens the connection of an RPC call's reply queue
without the call's ``retry`` bound and retries it for as long as the
broker stays away.  The notifier therefore first checks that a broker
of the URL accepts a TCP connection, and skips the message when none
does; a broker lost between that check and the call leaves one daemon
thread retrying until the broker returns (logged).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.parse
from typing import Any
from typing import Optional

LOG = logging.getLogger(__name__)


class AgentNotifier:
    """One transport for the messages of one action.

    :param transport_url: the agents' broker (``None``: the default of a
        fresh configuration, i.e. oslo.messaging's own default).
    :param topic: the agents' ``[agent] rpc_topic``.
    :param timeout_s: how long each call may take.
    """

    def __init__(self, transport_url: Optional[str], topic: str,
                 timeout_s: float) -> None:
        self.transport_url = transport_url
        self.topic = topic
        self.timeout_s = float(timeout_s)
        self._conf = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        #: (kind, host, answer or None, seconds) of every call, in order
        self.sent: list[tuple[str, str, Optional[dict], float]] = []

    def _client(self, host: str):
        from oslo_config import cfg

        from nova_hooks import conf as agent_conf
        from nova_hooks.agent import rpc

        with self._lock:
            if self._conf is None:
                conf = cfg.ConfigOpts()
                agent_conf.register_opts(conf)
                conf([], project="watcher-adaptive-action",
                     default_config_files=[])
                self._conf = conf
            client = self._clients.get(host)
            if client is None:
                client = rpc.make_client(self._conf, host, self.timeout_s,
                                         url=self.transport_url,
                                         topic=self.topic)
                self._clients[host] = client
            return client

    def broker_reachable(self) -> bool:
        """Whether a broker of the transport URL accepts a TCP
        connection within the timeout (no URL: assumed reachable)."""
        brokers = broker_addresses(self.transport_url)
        if not brokers:
            return True
        for addr in brokers:
            try:
                with socket.create_connection(
                        addr, timeout=min(1.0, self.timeout_s)):
                    return True
            except OSError:
                continue
        return False

    def send(self, host: str, kind: str, payload: dict
             ) -> Optional[dict]:
        """Call ``kind`` on the agent of ``host``; its answer, or
        ``None`` (logged) when there is none in time."""
        started = time.monotonic()
        box: dict[str, Any] = {}
        if not self.broker_reachable():
            LOG.warning("destination agent on %s: %s not sent, no broker "
                        "of the transport URL answers; going on without "
                        "it", host, kind)
            self.sent.append((kind, host, None, time.monotonic() - started))
            return None

        def call() -> None:
            try:
                client = self._client(host).prepare(
                    timeout=self.timeout_s, retry=1)
                box["answer"] = client.call({}, kind, payload=payload)
            except Exception as exc:  # noqa: BLE001 - reported below
                box["error"] = exc

        worker = threading.Thread(target=call, daemon=True,
                                  name=f"agent-{kind}")
        self._workers.append(worker)
        worker.start()
        worker.join(self.timeout_s * 2 + 2.0)
        took = time.monotonic() - started
        answer = box.get("answer")
        if worker.is_alive():
            LOG.warning("destination agent on %s: %s not delivered "
                        "within %.1f s (broker hanging?); going on "
                        "without it", host, kind, took)
            answer = None
        elif "error" in box:
            exc = box["error"]
            LOG.warning("destination agent on %s: no answer to %s "
                        "(%s: %s); going on without it", host, kind,
                        type(exc).__name__, exc)
            answer = None
        elif not isinstance(answer, dict):
            LOG.warning("destination agent on %s: odd answer to %s: %r",
                        host, kind, answer)
            answer = None
        elif not answer.get("accepted"):
            LOG.warning("destination agent on %s refused %s: %s", host,
                        kind, answer.get("error"))
        else:
            LOG.info("destination agent on %s accepted %s%s in %.2f s",
                     host, kind, " (repeat)" if answer.get("duplicate")
                     else "", took)
        self.sent.append((kind, host, answer, took))
        return answer

    def close(self) -> None:
        """Release the transport's connections (bounded: a transport
        whose call still retries is left to its daemon thread)."""
        with self._lock:
            clients, self._clients = self._clients, {}
        stuck = [w.name for w in self._workers if w.is_alive()]
        if stuck:
            LOG.warning("%d message(s) to the destination agents still "
                        "retrying (%s); their connection is left to "
                        "close when the broker returns", len(stuck),
                        ", ".join(stuck))
            return

        def cleanup() -> None:
            for client in clients.values():
                try:
                    client.transport.cleanup()
                except Exception as exc:  # noqa: BLE001 - best effort
                    LOG.debug("transport cleanup: %s", exc)

        worker = threading.Thread(target=cleanup, daemon=True,
                                  name="agent-cleanup")
        worker.start()
        worker.join(self.timeout_s + 2.0)
        if worker.is_alive():
            LOG.warning("closing the agents' transport takes longer than "
                        "%.1f s; left to a daemon thread",
                        self.timeout_s + 2.0)


def broker_addresses(url: Optional[str]) -> list[tuple[str, int]]:
    """``(host, port)`` of every broker in an oslo.messaging transport
    URL (``rabbit://u:p@h1:5672,u:p@h2:5672/vhost``)."""
    if not url or "://" not in url:
        return []
    scheme, rest = url.split("://", 1)
    default = 5671 if scheme.endswith("s") else 5672
    netloc = rest.split("/", 1)[0]
    out = []
    for part in netloc.split(","):
        hostport = part.rsplit("@", 1)[-1]
        if not hostport:
            continue
        parsed = urllib.parse.urlsplit(f"//{hostport}")
        try:
            port = parsed.port or default
        except ValueError:
            port = default
        if parsed.hostname:
            out.append((parsed.hostname, port))
    return out
