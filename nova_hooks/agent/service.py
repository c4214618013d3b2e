"""The agent's wiring: libvirt's events, timers and messaging in, the
manager's entry points out.

:class:`AgentService` holds what ``nova-adaptive-agent`` runs besides
the manager: the event pump, the release timers, the RPC endpoint and
Nova's notifications (retried while the broker is away), the periodic
catch-up with libvirt's states and the reconnection to libvirtd.  It
decides nothing about guests: every signal goes to
:meth:`nova_hooks.agent.manager.Manager.signal`.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.agent import events
from nova_hooks.agent import markers
from nova_hooks.agent import rounds
from nova_hooks.agent.manager import Manager
from nova_hooks.core import lifecycle

LOG = logging.getLogger(__name__)
#: seconds between attempts to start RPC / notifications that failed
RETRY_MESSAGING_S = 30.0
#: seconds between catch-ups of open sessions with libvirt's states
RESYNC_S = 15.0


class AgentService:
    """:param conf: the agent's configuration (``[agent]``).
    :param manager: the sessions of incoming guests.
    :param host: the libvirt host (its ``conn`` is replaced on a
        reconnection).
    """

    def __init__(self, conf: Any, manager: Manager, host: Any) -> None:
        self.conf = conf
        self.opts = conf.agent
        self.manager = manager
        self.host = host
        self.pump = events.EventPump(host.conn, self.on_signal)
        #: messaging services started so far, by name
        self.services: dict[str, Any] = {}
        self.sampling_stop = threading.Event()

    def start(self) -> bool:
        """Start the messaging and the sampling rounds; whether the
        messaging is still pending (see :meth:`start_messaging`)."""
        pending = self.start_messaging()
        rounds.start(self.manager, self.sampling_stop,
                     self.conf.page_sampling.transfer_interval_s)
        LOG.info("nova-adaptive-agent up on %s (journal %s%s)",
                 self.opts.libvirt_uri, self.opts.journal_path,
                 ", dry run" if self.opts.dry_run else "")
        return pending

    def on_signal(self, uuid: str, sig: lifecycle.Signal) -> None:
        """One lifecycle signal (libvirt, RPC or Nova), on the worker."""
        self.manager.signal(uuid, sig)
        if sig is lifecycle.Signal.INCOMING:
            marker = markers.take(self.opts.hook_marker_dir, uuid)
            if marker is not None:
                self.manager.note(uuid, "hook_migrate_begin", marker["ts"])
        if sig is lifecycle.Signal.COMPLETED:
            timer = threading.Timer(self.opts.steady_manage_s,
                                    self.manager.release, (uuid,))
            timer.daemon = True
            timer.start()

    def start_messaging(self) -> bool:
        """Start what is enabled and not running yet; whether something
        is still pending (the broker away, refused credentials: the
        agent then shapes guests on libvirt's events alone)."""
        opts, manager, pump = self.opts, self.manager, self.pump
        pending = False
        if opts.rpc_enabled and "rpc" not in self.services:
            from nova_hooks.agent import rpc
            pending |= not _start(
                self.services, "rpc", lambda: rpc.make_server(
                    self.conf, rpc.AgentEndpoint(manager.prepare,
                                                 pump.inject,
                                                 manager.status)),
                f"RPC endpoint: topic {opts.rpc_topic}, server {opts.host}")
        if opts.notifications_enabled and \
                "notifications" not in self.services:
            from nova_hooks.agent import notifications
            pending |= not _start(
                self.services, "notifications",
                lambda: notifications.make_listener(
                    self.conf, notifications.NotificationEndpoint(
                        opts.host,
                        lambda u, flavor: manager.context(u, flavor),
                        pump.inject)),
                f"listening to Nova's {opts.notifications_topic} for host "
                f"{opts.host}")
        return pending

    def serve(self, stop: threading.Event,
              reconnect: Callable[[], Optional[Any]],
              messaging_pending: bool) -> None:
        """Until ``stop``: retry the messaging while
        ``messaging_pending``, catch up with libvirt's states now and
        then, reconnect when libvirtd goes away (``reconnect()`` is a
        new connection, or ``None`` on stop)."""
        next_resync = time.monotonic() + RESYNC_S
        next_messaging_try = time.monotonic() + RETRY_MESSAGING_S
        while not stop.wait(1.0):
            if messaging_pending and time.monotonic() >= next_messaging_try:
                messaging_pending = self.start_messaging()
                next_messaging_try = time.monotonic() + RETRY_MESSAGING_S
            if self.host.conn.isAlive():
                if time.monotonic() >= next_resync:
                    # events missed (e.g. while libvirtd restarted) are
                    # caught up from the guests' states
                    self.pump.inject_call(
                        lambda: self.manager.resync(self.host.state))
                    next_resync = time.monotonic() + RESYNC_S
                continue
            LOG.error("libvirt connection to %s lost; reconnecting",
                      self.opts.libvirt_uri)
            new = reconnect()
            if new is None:
                return
            self.host.conn = new
            # the same worker and queue: what RPC injected meanwhile stays
            self.pump.reattach(new)
            next_resync = 0.0       # catch up at once
            LOG.info("reconnected to %s; events followed again",
                     self.opts.libvirt_uri)

    def close(self) -> None:
        """Stop the sampling rounds, the messaging services and the
        event pump; release the sampling backends (e.g. a DAMON context
        the agent created) and the libvirt connection."""
        self.sampling_stop.set()
        for service in self.services.values():
            service.stop()
            service.wait()
        self.pump.close()
        for backend in self.manager.backends:
            release = getattr(backend, "release", None)
            if release is not None:
                release()
        try:
            self.host.conn.close()
        except Exception as exc:  # noqa: BLE001 - libvirtd already gone
            LOG.debug("libvirt connection not closed: %s", exc)


def _start(services: dict[str, Any], name: str, make: Callable[[], Any],
           started: str) -> bool:
    """Make and start one messaging service; a failure is logged with
    what to check, never raised."""
    try:
        service = make()
        service.start()
    except Exception as exc:  # noqa: BLE001 - the agent lives on without it
        LOG.error("%s could not start (%s: %s); check [DEFAULT] "
                  "transport_url and the broker; shaping goes on from "
                  "libvirt's events, retrying in %.0f s", name,
                  type(exc).__name__, exc, RETRY_MESSAGING_S)
        return False
    services[name] = service
    LOG.info(started)
    return True
