"""The collector's validated profiles, for a Prometheus to scrape.

Every feature of an accepted record becomes the gauge
``adaptive_<feature>`` (``mem.used_ratio`` -> ``adaptive_mem_used_ratio``)
with the instance's uuid in the label Watcher reads instances by
(``resource``, its ``instance_uuid_label``), holding the guest's latest
value: the same series the Gnocchi sink writes as ``adaptive.<feature>``,
so the strategy reads profiles from either store
(:mod:`watcher_adaptive.adapters.prometheus`).  A guest whose records
stop drops out after ``max_age_s``, as a record that old would be
refused.  Only gated records reach here: a guest cannot name a series
or a label.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any
from typing import Callable
from typing import Iterator
from typing import Mapping

from watcher_adaptive.profiler.guest import schema

PREFIX = "adaptive_"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]")


def series_name(feature: str) -> str:
    """The gauge of a profile feature (``cpu.idle`` -> ``adaptive_cpu_
    idle``)."""
    return PREFIX + _NOT_IN_NAME.sub("_", feature)


class ProfileExposition:
    """A ``prometheus_client`` custom collector of the latest accepted
    value of each (guest, feature); fed by the collector's thread, read
    by the HTTP server's.

    :param label: the instance label (Watcher's ``instance_uuid_label``).
    :param max_age_s: a guest silent this long is no longer exposed.
    """

    def __init__(self, label: str = "resource", max_age_s: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.label = label
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()
        #: guest -> (time seen, {feature: value})
        self._latest: dict[str, tuple[float, dict[str, float]]] = {}

    def observe(self, guest_id: str, features: Mapping[str, float]) -> None:
        """The guest's newest accepted features."""
        with self._lock:
            _, known = self._latest.get(guest_id, (0.0, {}))
            self._latest[guest_id] = (self.clock(),
                                      {**known, **dict(features)})

    def forget(self, guest_id: str) -> None:
        with self._lock:
            self._latest.pop(guest_id, None)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = self.clock()
        with self._lock:
            for gid in [g for g, (seen, _) in self._latest.items()
                        if now - seen > self.max_age_s]:
                del self._latest[gid]
            rows = [(gid, dict(values))
                    for gid, (_, values) in sorted(self._latest.items())]
        families: dict[str, Any] = {}
        for gid, values in rows:
            for feature, value in sorted(values.items()):
                name = series_name(feature)
                family = families.get(name)
                if family is None:
                    what = schema.FEATURES.get(feature, (0, 0, feature))[2]
                    family = families[name] = GaugeMetricFamily(
                        name, f"guest profile: {what}",
                        labels=[self.label])
                family.add_metric([gid], float(value))
        yield from families.values()


def serve(exposition: ProfileExposition, host: str, port: int) -> Any:
    """Serve ``/metrics`` of ``exposition`` alone (no process metrics)
    on ``host:port`` in a daemon thread; returns the HTTP server (its
    ``server_port`` is the port bound, ``shutdown()`` stops it)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    registry.register(exposition)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
