"""Backends that ask libvirt, hence only after the migration completed
(libvirt's job is held by the incoming migration until then).

``balloon_stats``: the guest's own view of its memory (virtio-balloon
statistics: total, free, available), which bounds how far the balloon
may go.  ``dirty_rate``: QEMU's dirty-page rate over a short window
(``startDirtyRateCalc`` + ``getStats``), a size for the write-hot set.
"""
from __future__ import annotations

import time
from typing import Optional

from nova_hooks.agent.backends import Backend
from nova_hooks.core.types import Observation


class BalloonStatsBackend(Backend):
    name = "balloon_stats"
    during_postcopy = False

    def probe(self, guest) -> Optional[str]:
        try:
            stats = self.host.balloon_stats(guest)
        except Exception as exc:  # noqa: BLE001 - libvirt's reason
            return f"memoryStats failed: {exc}"
        if stats is None or stats.available_kib is None \
                or stats.usable_kib is None:
            return ("the guest reports no balloon statistics (virtio "
                    "balloon driver loaded? stats period set?)")
        return None

    def sample(self, guest) -> Observation:
        return Observation(backend=self.name,
                           balloon=self.host.balloon_stats(guest))


class DirtyRateBackend(Backend):
    name = "dirty_rate"
    during_postcopy = False

    #: QEMU's calculation dirties the guest's own pages a little and
    #: takes ``seconds``: measured at most this often, reused in between
    min_period_s = 30.0

    def __init__(self, host, conf=None, clock=time.monotonic) -> None:
        super().__init__(host, conf)
        self.seconds = 1
        self.clock = clock
        self.last: dict[str, tuple[float, Optional[float]]] = {}
        if conf is not None:
            self.seconds = conf.page_sampling.dirty_rate_calc_s

    def probe(self, guest) -> Optional[str]:
        if not hasattr(self.host, "dirty_rate_bps"):
            return "this host adapter cannot measure the dirty rate"
        return None

    def sample(self, guest) -> Observation:
        when, rate = self.last.get(guest.uuid, (float("-inf"), None))
        now = self.clock()
        if now - when >= self.min_period_s:
            rate = self.host.dirty_rate_bps(guest, self.seconds,
                                            sleep=time.sleep)
            self.last[guest.uuid] = (now, rate)
        return Observation(backend=self.name, dirty_rate_bps=rate)
