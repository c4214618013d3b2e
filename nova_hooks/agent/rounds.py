"""The sampling loop: runs each due guest's sampling round on its own
thread, so that neither libvirt's event loop nor the signal worker ever
waits for a backend."""
from __future__ import annotations

import logging
import threading

LOG = logging.getLogger(__name__)


def run(manager, stop: threading.Event, tick_s: float) -> None:
    """Until ``stop``: one round for every due guest, waking when the
    next one is due (at most every ``tick_s`` when no guest is sampled,
    so a new session is picked up soon)."""
    while True:
        wait = manager.next_round_in()
        if stop.wait(tick_s if wait is None else min(wait, tick_s)):
            return
        for uuid in manager.due():
            try:
                manager.sample(uuid)
            except Exception:  # noqa: BLE001 - the loop must live on
                LOG.exception("%s: sampling round failed", uuid)


def start(manager, stop: threading.Event, tick_s: float) -> threading.Thread:
    thread = threading.Thread(target=run, args=(manager, stop, tick_s),
                              name="agent-sampling", daemon=True)
    thread.start()
    return thread
