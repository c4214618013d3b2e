"""The agent's oslo.messaging RPC endpoint (topic ``[agent] rpc_topic``,
server ``[agent] host``): ``prepare``, ``started``, ``completed`` and
``aborted`` of :mod:`nova_hooks.core.contract`, and ``status``, a query
of what the agent measured and did for one guest (phase, figures,
backends, timeline), also for a session that ended lately.

Each call validates its payload and answers at once with what the agent
did (``{"accepted": true, ...}``) or why not; the work is queued for
the same worker as libvirt's events, so an RPC caller never waits for
a libvirt call.  Repeats of a message (same kind, instance, migration)
are answered ``duplicate`` and change nothing.  Names a message
carries that this agent does not know (a newer sender's fields, same
major version) are ignored: logged, counted in
:attr:`AgentEndpoint.ignored` and listed in the answer.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.core import contract
from nova_hooks.core.lifecycle import Signal

LOG = logging.getLogger(__name__)

_SIGNALS = {contract.MessageKind.STARTED: Signal.INCOMING,
            contract.MessageKind.COMPLETED: Signal.COMPLETED,
            contract.MessageKind.ABORTED: Signal.FAILED}
#: the exchange both sides name, whatever each one's control_exchange
EXCHANGE = "nova-adaptive-agent"
#: keys of messages already handled, kept for idempotency
MAX_SEEN = 10000


class AgentEndpoint:
    """RPC methods; ``prepare`` hands hints to ``on_hint``, the others
    queue lifecycle signals through ``on_signal``."""

    def __init__(self, on_hint: Callable, on_signal: Callable,
                 on_status: Optional[Callable] = None) -> None:
        self.on_hint = on_hint
        self.on_signal = on_signal
        self.on_status = on_status
        self._seen: dict[tuple, None] = {}
        #: field name -> how many messages carried it unknown
        self.ignored: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _handle(self, kind: str, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            return {"accepted": False, "error": "payload must be an object"}
        try:
            msg = contract.parse_message(kind, payload)
        except contract.ContractError as exc:
            LOG.warning("refused %s message: %s", kind, exc)
            return {"accepted": False, "error": str(exc),
                    "version": contract.VERSION}
        if msg.ignored:
            LOG.warning("%s for %s: ignored field(s) this agent does not "
                        "know (contract %s, agent %s): %s", kind,
                        msg.instance_uuid, msg.version, contract.VERSION,
                        ", ".join(msg.ignored))
        with self._lock:
            self.ignored.update(msg.ignored)
            if msg.key in self._seen:
                return {"accepted": True, "duplicate": True,
                        "version": contract.VERSION}
            self._seen[msg.key] = None
            while len(self._seen) > MAX_SEEN:
                self._seen.pop(next(iter(self._seen)))
        if msg.kind is contract.MessageKind.PREPARE:
            self.on_hint(msg.hint)
        else:
            self.on_signal(msg.instance_uuid, _SIGNALS[msg.kind])
        LOG.info("%s for %s accepted", kind, msg.instance_uuid)
        answer: dict[str, Any] = {"accepted": True, "duplicate": False,
                                  "version": contract.VERSION}
        if msg.ignored:
            answer["ignored"] = list(msg.ignored)
        return answer

    def prepare(self, ctxt, payload):
        return self._handle("prepare", payload)

    def started(self, ctxt, payload):
        return self._handle("started", payload)

    def completed(self, ctxt, payload):
        return self._handle("completed", payload)

    def aborted(self, ctxt, payload):
        return self._handle("aborted", payload)

    def status(self, ctxt, payload):
        """``{"found": bool, "status": {...}}`` for one guest; a query,
        so no idempotency key and no effect."""
        if not isinstance(payload, dict):
            return {"found": False, "error": "payload must be an object"}
        try:
            contract.check_version(payload.get("version"))
        except contract.ContractError as exc:
            return {"found": False, "error": str(exc),
                    "version": contract.VERSION}
        uuid = payload.get("instance_uuid")
        if not isinstance(uuid, str) or not uuid:
            return {"found": False, "error": "instance_uuid is required"}
        found = self.on_status(uuid) if self.on_status else None
        return {"accepted": True, "found": found is not None,
                "status": found, "version": contract.VERSION}


#: (module, list attribute = group) that oslo.messaging registers on the
#: global cfg.CONF only, yet reads from the conf it is given
_GLOBAL_ONLY_GROUPS = (
    ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
    ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
)


def _register_messaging_opts(conf) -> None:
    """Register on ``conf`` (this agent's own ``ConfigOpts``) the groups
    some oslo.messaging releases register on the global conf only, as
    oslo.messaging's own ConfFixture does."""
    import importlib

    for module_name, group in _GLOBAL_ONLY_GROUPS:
        try:
            opts = getattr(importlib.import_module(module_name), group)
        except (ImportError, AttributeError):   # not in this release
            continue
        for opt in opts:
            try:
                conf.register_opt(opt, group=group)
            except Exception as exc:  # noqa: BLE001 - there, differently
                LOG.debug("[%s] %s not registered: %s", group, opt.dest,
                          exc)


def make_server(conf, endpoint: AgentEndpoint):
    """A threading RPC server on ``conf``'s transport for this host."""
    import oslo_messaging as messaging

    _register_messaging_opts(conf)
    transport = messaging.get_rpc_transport(conf)
    target = messaging.Target(exchange=EXCHANGE, topic=conf.agent.rpc_topic,
                              server=conf.agent.host)
    return messaging.get_rpc_server(transport, target, [endpoint],
                                    executor="threading")


def make_client(conf, host: str, timeout_s: float = 5.0,
                url: str | None = None, topic: str | None = None):
    """The control plane's client for the agent on ``host`` (``url``:
    a transport URL instead of ``conf``'s ``transport_url``; ``topic``:
    the agents' RPC topic instead of ``conf``'s ``[agent] rpc_topic``)."""
    import oslo_messaging as messaging

    _register_messaging_opts(conf)
    transport = messaging.get_rpc_transport(conf, url=url)
    target = messaging.Target(exchange=EXCHANGE,
                              topic=topic or conf.agent.rpc_topic,
                              server=host, version="1.0")
    return messaging.get_rpc_client(transport, target, timeout=timeout_s) \
        if hasattr(messaging, "get_rpc_client") else \
        messaging.RPCClient(transport, target, timeout=timeout_s)
