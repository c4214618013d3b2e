"""Nova's versioned notifications as context for incoming migrations.

Nova's destination compute emits ``instance.live_migration_pre``
(before the transfer; its payload carries the flavor), and
``instance.live_migration_post_dest`` or
``instance.live_migration_rollback_dest`` at the end.  The listener
keeps only those published by this host (``nova-compute:<host>``) and
turns them into context (the flavor name is the VM type the
per-type thresholds use) and lifecycle signals: libvirt's own events
usually come first, and the manager ignores repeats.  A malformed
notification is logged and dropped.
"""
from __future__ import annotations

import logging
from typing import Any
from typing import Callable
from typing import Mapping
from typing import Optional

from nova_hooks.core.lifecycle import Signal

LOG = logging.getLogger(__name__)

PRE = "instance.live_migration_pre"
POST_DEST = "instance.live_migration_post_dest"
ROLLBACK_DEST = "instance.live_migration_rollback_dest"
EVENT_TYPES = (PRE, POST_DEST, ROLLBACK_DEST)


def _data(obj: Any) -> Mapping[str, Any]:
    """The fields of a serialized versioned object (or {})."""
    if isinstance(obj, Mapping):
        inner = obj.get("nova_object.data")
        if isinstance(inner, Mapping):
            return inner
    return {}


def interpret(event_type: str, payload: Any
              ) -> Optional[tuple[str, Optional[str], Optional[Signal]]]:
    """``(instance uuid, flavor name, signal)`` of one notification, or
    ``None`` when it is not about an incoming migration's destination."""
    if not isinstance(event_type, str):
        return None
    base, _, stage = event_type.rpartition(".")
    if base not in EVENT_TYPES or stage not in ("start", "end"):
        return None
    data = _data(payload)
    uuid = data.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        return None
    flavor = _data(data.get("flavor")).get("name")
    flavor = flavor if isinstance(flavor, str) and flavor else None
    signal = None
    if stage == "end" and base == POST_DEST:
        signal = Signal.COMPLETED
    elif stage == "end" and base == ROLLBACK_DEST:
        signal = Signal.FAILED
    return uuid, flavor, signal


def publisher_host(publisher_id: Any) -> Optional[str]:
    if not isinstance(publisher_id, str) or ":" not in publisher_id:
        return None
    return publisher_id.split(":", 1)[1]


class NotificationEndpoint:
    """oslo.messaging notification endpoint (``info`` priority)."""

    def __init__(self, host: str,
                 on_context: Callable[[str, Optional[str]], None],
                 on_signal: Callable[[str, Signal], None]) -> None:
        self.host = host
        self.on_context = on_context
        self.on_signal = on_signal
        self.seen = 0

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        try:
            found = interpret(event_type, payload)
            if found is None or publisher_host(publisher_id) != self.host:
                return None
            uuid, flavor, signal = found
            self.seen += 1
            if flavor is not None:
                self.on_context(uuid, flavor)
            if signal is not None:
                self.on_signal(uuid, signal)
            LOG.info("%s: %s from %s", uuid, event_type, publisher_id)
        except Exception:  # noqa: BLE001 - a bad notification is dropped
            LOG.exception("notification %s dropped", event_type)
        return None


def make_listener(conf, endpoint: NotificationEndpoint,
                  url: Optional[str] = None):
    """A threading notification listener on Nova's versioned topic."""
    import oslo_messaging as messaging

    from nova_hooks.agent.rpc import _register_messaging_opts

    _register_messaging_opts(conf)
    transport = messaging.get_notification_transport(conf, url=url)
    targets = [messaging.Target(topic=conf.agent.notifications_topic)]
    return messaging.get_notification_listener(
        transport, targets, [endpoint], executor="threading",
        pool=pool_name(conf.agent.host))


def pool_name(host: str) -> str:
    """The listener's pool (RabbitMQ names its queue after it): one per
    host, so every agent sees every notification and nothing is taken
    from other consumers of the topic; and never ``<rpc topic>.<host>``,
    the RPC server's own queue, or the two would share it and each take
    half of the other's messages (seen: RPC calls timed out)."""
    return f"nova-adaptive-agent-notifications.{host}"
