"""The collector's /metrics: accepted profiles as adaptive_* gauges by
instance uuid; refused records, forgotten and silent guests are not
exposed.  The text is prometheus_client's exposition of the same
registry ``serve()`` serves (served over HTTP and scraped by a real
Prometheus in tests/functional/test_prometheus.py: an in-process server
here would hang under the eventlet some Watcher tests leave behind)."""
from __future__ import annotations

import uuid

import pytest

from tests.unit.profiler.records import FEATURES
from tests.unit.profiler.records import NOW
from tests.unit.profiler.records import line
from watcher_adaptive.profiler import collector as C
from watcher_adaptive.profiler import exposition as E
from watcher_adaptive.profiler import gate as G
from watcher_adaptive.profiler.spool import Spool


@pytest.fixture
def fed(tmp_path):
    """A collector feeding an exposition in its own registry."""
    from prometheus_client import CollectorRegistry

    clock = [NOW]
    exposition = E.ProfileExposition("resource", max_age_s=600,
                                     clock=lambda: clock[0])
    spool = Spool(str(tmp_path / "spool.db"), 100)
    coll = C.Collector(spool, G.GatePolicy(records_per_minute=60, burst=10),
                       clock=lambda: NOW, exposition=exposition)
    registry = CollectorRegistry()
    registry.register(exposition)
    yield coll, registry, clock
    spool.close()


def _scrape(registry) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()


def test_series_names_follow_the_gnocchi_metric_names():
    assert E.series_name("mem.used_ratio") == "adaptive_mem_used_ratio"
    assert E.series_name("net.rx_bps") == "adaptive_net_rx_bps"


def test_accepted_features_are_scraped_by_instance(fed):
    coll, url, _ = fed
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    assert coll.offer(good, [line(seq=1)]) == 1
    assert coll.offer(bad, [b"{not json"]) == 0
    text = _scrape(url)
    assert f'adaptive_mem_used_ratio{{resource="{good}"}} ' \
        f'{FEATURES["mem.used_ratio"]}' in text
    assert f'adaptive_net_rx_bps{{resource="{good}"}} 1200.0' in text
    assert "# TYPE adaptive_cpu_idle gauge" in text
    assert bad not in text


def test_forgotten_and_silent_guests_drop_out(fed):
    coll, url, clock = fed
    gone, silent = str(uuid.uuid4()), str(uuid.uuid4())
    coll.offer(gone, [line(seq=1)])
    coll.forget(gone)
    assert gone not in _scrape(url)
    coll.offer(silent, [line(seq=1)])
    assert silent in _scrape(url)
    clock[0] += 601
    assert silent not in _scrape(url)
