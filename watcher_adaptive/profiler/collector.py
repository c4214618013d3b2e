"""The host collector: guests' records in, validated profiles to Gnocchi
(and, when configured, to ``/metrics`` for a Prometheus to scrape:
:mod:`.exposition`).

Threads: the caller's thread serves the channel (socket readiness or
qemu-ga polls) and writes accepted records to the spool; a flusher
thread pushes the spool to Gnocchi with back-off.  Neither waits on a
guest: sockets are non-blocking and read in bounded chunks, and qemu-ga
reads run in a pool with a timeout, a guest whose previous read has not
returned being skipped for the round.
"""
from __future__ import annotations

import collections
import json
import logging
import os
import sqlite3
import threading
import time
from typing import Callable
from typing import Iterable
from typing import Optional

from watcher_adaptive.exceptions import SinkRefused
from watcher_adaptive.exceptions import SinkUnavailable
from watcher_adaptive.profiler import framing
from watcher_adaptive.profiler import gate as G
from watcher_adaptive.profiler import sink as S
from watcher_adaptive.profiler.exposition import ProfileExposition
from watcher_adaptive.profiler.spool import Spool

LOG = logging.getLogger(__name__)


class Collector:
    """Per-guest gates and the spool writer; channels feed it."""

    def __init__(self, spool: Spool, policy: G.GatePolicy,
                 clock: Callable[[], float] = time.time,
                 exposition: Optional[ProfileExposition] = None) -> None:
        self.spool = spool
        #: where accepted features are also exposed for scraping
        self.exposition = exposition
        self.policy = policy
        self.clock = clock
        self.gates: dict[str, G.GuestGate] = {}
        self.spool_dropped = 0
        #: accepted records the spool could not take (disk full, I/O
        #: error): lost, and counted here since the disk cannot count them
        self.spool_refused = 0
        self._refusal_logged = float("-inf")

    def gate(self, guest_id: str) -> G.GuestGate:
        g = self.gates.get(guest_id)
        if g is None:
            g = self.gates[guest_id] = G.GuestGate(guest_id, self.policy,
                                                   self.clock())
        return g

    def forget(self, guest_id: str) -> None:
        self.gates.pop(guest_id, None)
        if self.exposition is not None:
            self.exposition.forget(guest_id)

    def offer(self, guest_id: str,
              items: Iterable[bytes | framing.Oversize]) -> int:
        """Admit a guest's lines; spool what passes.  Returns how many
        were accepted."""
        g = self.gate(guest_id)
        now = self.clock()
        accepted = []
        for item in items:
            rec = g.admit(item, now)
            if rec is not None and rec.features:
                accepted.append((guest_id, rec.ts, dict(rec.features)))
                if self.exposition is not None:
                    self.exposition.observe(guest_id, rec.features)
        try:
            self.spool_dropped += self.spool.put(accepted)
        except sqlite3.Error as exc:
            # a full disk must not stop the reading of other guests
            self.spool_refused += len(accepted)
            if now - self._refusal_logged >= 60.0:
                LOG.error("spool %s refused %d record(s) (%s); they are "
                          "lost and counted (%d so far)", self.spool.path,
                          len(accepted), exc, self.spool_refused)
                self._refusal_logged = now
            return 0
        return len(accepted)


class Flusher(threading.Thread):
    """Pushes the spool to Gnocchi until stopped; its own spool handle
    (SQLite connections are per thread)."""

    def __init__(self, spool_path: str, spool_max: int,
                 sink: S.GnocchiProfileSink,
                 batch_size: int, interval_s: float, max_backoff_s: float,
                 unknown_retry_s: float) -> None:
        super().__init__(name="profile-flusher", daemon=True)
        self.spool_path, self.spool_max = spool_path, spool_max
        self.sink = sink
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.unknown_retry_s = unknown_retry_s
        self.stop_event = threading.Event()
        self.pushed = 0
        self.failures = 0
        self.last_error: Optional[str] = None

    def flush_once(self, spool: Spool) -> int:
        """Push every due record; how many landed.  Raises
        :class:`~watcher_adaptive.exceptions.SinkUnavailable` /
        :class:`~watcher_adaptive.exceptions.SinkRefused`."""
        landed = 0
        while True:
            items = spool.take(self.batch_size, time.time())
            if not items:
                return landed
            result = self.sink.push(items)
            spool.done(result.landed)
            if result.unknown:
                waiting = set(result.unknown)
                LOG.warning("Gnocchi does not know %d instance(s) yet; "
                            "their %d record(s) stay spooled",
                            len({i.resource_id for i in items
                                 if i.id in waiting}), len(waiting))
                spool.defer(result.unknown,
                            time.time() + self.unknown_retry_s)
            landed += len(result.landed)
            self.pushed += len(result.landed)

    def run(self) -> None:
        spool = Spool(self.spool_path, self.spool_max)
        delay = self.interval_s
        try:
            while not self.stop_event.is_set():
                try:
                    self.flush_once(spool)
                    delay = self.interval_s
                    self.last_error = None
                except (SinkUnavailable, SinkRefused) as exc:
                    self.failures += 1
                    self.last_error = str(exc)[:300]
                    delay = min(self.max_backoff_s,
                                max(self.interval_s, delay * 2))
                    LOG.warning("profiles not pushed (%s); %d spooled, "
                                "retry in %.0f s", self.last_error,
                                spool.depth(), delay)
                self.stop_event.wait(delay)
            # one last try on the way out; what fails stays spooled
            try:
                self.flush_once(spool)
            except (SinkUnavailable, SinkRefused) as exc:
                LOG.warning("on exit: %s; %d record(s) stay spooled",
                            exc, spool.depth())
        finally:
            spool.close()


def status(collector: Collector, flusher: Optional[Flusher]) -> dict:
    """What the status file and the periodic log line report."""
    totals: collections.Counter = collections.Counter()
    guests = {}
    for gid, g in sorted(collector.gates.items()):
        guests[gid] = dict(g.counters)
        totals.update(g.counters)
    return {
        "time": collector.clock(),
        "guests": guests,
        "totals": dict(totals),
        "spool_depth": collector.spool.depth(),
        "lost": _spool_lost(collector.spool),
        "lost_spool_refused": collector.spool_refused,
        "pushed": flusher.pushed if flusher else 0,
        "push_failures": flusher.failures if flusher else 0,
        "last_push_error": flusher.last_error if flusher else None,
    }


def _spool_lost(spool: Spool) -> Optional[int]:
    try:
        return spool.lost
    except sqlite3.Error:
        return None


def write_status(path: str, doc: dict) -> bool:
    """Rewrite the status file; ``False`` (logged) when it cannot be
    written (the log line still carries the figures)."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError as exc:
        LOG.error("status file %s not written: %s", path, exc)
        return False
    return True
