"""libvirt lifecycle events of this host, delivered to a worker.

libvirt calls the callback on its event-loop thread; the callback only
turns the event into a :class:`~nova_hooks.core.lifecycle.Signal` and
queues it.  A worker thread hands signals to the manager in order, so a
job-taking libvirt call (which may wait 30 s) never runs on the loop
thread and never delays the next event.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable
from typing import Optional

from nova_hooks.core import lifecycle

LOG = logging.getLogger(__name__)
_loop_started = False
_loop_lock = threading.Lock()


def start_event_loop() -> None:
    """libvirt's default event implementation on a daemon thread (once
    per process; must run before the connection is opened)."""
    global _loop_started
    import libvirt

    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events",
                         daemon=True).start()
        _loop_started = True


class EventPump:
    """Lifecycle events of ``conn`` -> ``handle(uuid, signal)`` on a
    worker thread; ``timeline`` keeps when each event arrived."""

    def __init__(self, conn, handle: Callable[[str, lifecycle.Signal], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        import libvirt

        self.conn = conn
        self.handle = handle
        self.clock = clock
        self.queue: queue.Queue = queue.Queue()
        self.events: list[tuple[float, str, int, int]] = []
        self._lifecycle = libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE
        self._callback_id = conn.domainEventRegisterAny(
            None, self._lifecycle, self._on_event, None)
        self._worker = threading.Thread(target=self._work,
                                        name="agent-worker", daemon=True)
        self._worker.start()

    def _on_event(self, _conn, dom, event: int, detail: int,
                  _opaque) -> None:
        uuid = dom.UUIDString()
        self.events.append((self.clock(), uuid, event, detail))
        sig = lifecycle.lifecycle_signal(event, detail)
        if sig is not None:
            self.queue.put((uuid, sig))

    def inject(self, uuid: str, sig: lifecycle.Signal) -> None:
        """A signal from elsewhere (RPC, notification, restart)."""
        self.queue.put((uuid, sig))

    def inject_call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the worker, in order with the signals."""
        self.queue.put((fn, None))

    def _work(self) -> None:
        while True:
            item: Optional[tuple] = self.queue.get()
            if item is None:
                return
            uuid, sig = item
            try:
                if sig is None:
                    uuid()          # a call queued by inject_call
                else:
                    self.handle(uuid, sig)
            except Exception:  # noqa: BLE001 - the worker must live on
                LOG.exception("%s: %s not handled", uuid,
                              getattr(sig, "value", "call"))

    def reattach(self, conn) -> None:
        """Follow the events of a new connection (libvirtd came back);
        the worker and what is queued stay."""
        self._deregister()
        self.conn = conn
        self._callback_id = conn.domainEventRegisterAny(
            None, self._lifecycle, self._on_event, None)

    def _deregister(self) -> None:
        try:
            self.conn.domainEventDeregisterAny(self._callback_id)
        except Exception as exc:  # noqa: BLE001 - connection already gone
            LOG.debug("event callback not deregistered: %s", exc)

    def close(self) -> None:
        self._deregister()
        self.queue.put(None)
        self._worker.join(timeout=30)
