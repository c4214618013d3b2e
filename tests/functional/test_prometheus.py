"""The Prometheus datasource against a real Prometheus (Debian's 2.42,
tools/services/50-prometheus.sh): history loaded by remote write,
profiles scraped from the collector's /metrics, hosts matched through
the scrape targets' fqdn label."""
from __future__ import annotations

import datetime
import time

import numpy as np
import pytest

from tests.functional.waiting import until
from watcher_adaptive.adapters import datasource
from watcher_adaptive.adapters import prometheus
from watcher_adaptive.adapters import prometheus_write
from watcher_adaptive.exceptions import MetricSourceError

pytestmark = pytest.mark.functional
STEP = 300
UTC = datetime.timezone.utc


def _grid(n: int) -> tuple[np.ndarray, datetime.datetime]:
    now = int(time.time()) // STEP * STEP
    times = np.arange(now - n * STEP, now, STEP).astype("datetime64[s]")
    return times, datetime.datetime.fromtimestamp(now, UTC)


def _source(endpoint: str, **kwargs) -> prometheus.PrometheusSource:
    return prometheus.PrometheusSource(
        prometheus.prometheus_adapter(endpoint), **kwargs)


def test_every_instance_in_one_query_per_metric(prometheus_endpoint,
                                                prometheus_series):
    times, stop = _grid(12)
    ids = prometheus_series.new(40)
    level = np.linspace(0.1, 1.9, len(ids))[:, None]
    cores = np.repeat(level, times.size, axis=1)
    cores[3, 5] = np.nan                         # a missed poll
    memory = np.full(cores.shape, 1024.0) + np.arange(len(ids))[:, None]
    prometheus_write.PrometheusWriter(prometheus_endpoint).push_usage(
        ids, times, cores, memory)
    absent = prometheus_series.new(1)[0]
    window = _source(prometheus_endpoint).read_usage(
        [absent, *ids], stop - datetime.timedelta(hours=1), stop, STEP)
    assert window.requests == 2 and window.source == "prometheus"
    assert window.resource_ids[0] == absent
    assert np.isnan(window.values["cpu_cores"][0]).all()
    cpu = window.values["cpu_cores"][1:]
    # from the second point on, the rate of the last step; the missed
    # poll is bridged by the step after it (the writer counts no CPU
    # time over the missed one, so that rate is half)
    expected = np.repeat(level, times.size, axis=1)
    expected[3, 6] /= 2
    np.testing.assert_allclose(cpu[:, 1:], expected[:, 1:], rtol=1e-6)
    np.testing.assert_allclose(window.values["memory_mb"][1:, -1],
                               memory[:, -1])


def test_profiles_scraped_from_the_collector_are_read(
        tmp_path, prometheus_endpoint, prometheus_series):
    from tests.unit.profiler.records import FEATURES
    from tests.unit.profiler.records import line
    from watcher_adaptive.profiler import collector as C
    from watcher_adaptive.profiler import exposition as E
    from watcher_adaptive.profiler import gate as G
    from watcher_adaptive.profiler.spool import Spool

    guest = prometheus_series.new(1)[0]
    exposition = E.ProfileExposition("resource")
    spool = Spool(str(tmp_path / "spool.db"), 100)
    coll = C.Collector(spool, G.GatePolicy(records_per_minute=60),
                       exposition=exposition)
    server = E.serve(exposition, "127.0.0.1", 0)
    try:
        assert coll.offer(guest, [line(seq=1, ts=time.time())]) == 1
        prometheus_series.scrape(f"127.0.0.1:{server.server_port}",
                                 {"job_owner": guest})
        source = _source(prometheus_endpoint)

        def read():
            stop = datetime.datetime.now(UTC)
            return source.read_usage(
                [guest], stop - datetime.timedelta(minutes=5), stop, 10,
                metrics=datasource.PROFILE_METRICS)

        window = until(read, 30, 0.5, lambda w: np.isfinite(
            w.values["profile_mem_used"]).any())
    finally:
        server.shutdown()
        spool.close()
    seen = window.values["profile_mem_used"][0]
    assert seen[np.isfinite(seen)][-1] == FEATURES["mem.used_ratio"]


def test_hosts_read_from_node_exporter_series(tmp_path,
                                              prometheus_endpoint,
                                              prometheus_series):
    from watcher_adaptive.profiler import exposition as E

    times, stop = _grid(12)
    short = prometheus_series.new(1)[0]
    fqdn = f"{short}.compute.test"
    prometheus_series.adopt(fqdn)
    # a scrape target carrying the host's fqdn label, as node-exporter's
    # would (any endpoint does: only the target's labels are read)
    server = E.serve(E.ProfileExposition(), "127.0.0.1", 0)
    try:
        prometheus_series.scrape(f"127.0.0.1:{server.server_port}",
                                 {"fqdn": fqdn})
        writer = prometheus_write.PrometheusWriter(prometheus_endpoint)
        seconds = (times - times[0]).astype(np.int64).astype(float)
        # 4 CPUs, each idle 75 % of the time: one core busy
        writer.push_series(
            "node_cpu_seconds_total",
            [{"fqdn": fqdn, "cpu": str(c), "mode": "idle"}
             for c in range(4)], times, np.tile(0.75 * seconds, (4, 1)))
        writer.push_series("node_memory_MemTotal_bytes", [{"fqdn": fqdn}],
                           times, np.full((1, times.size), 8 * 2.0**30))
        writer.push_series("node_memory_MemAvailable_bytes",
                           [{"fqdn": fqdn}], times,
                           np.full((1, times.size), 6 * 2.0**30))
        source = _source(prometheus_endpoint)
        window = until(lambda: source.read_host_usage(
            [short, "no-such-host"], stop - datetime.timedelta(hours=1),
            stop, STEP), 30, 0.5,
            lambda w: np.isfinite(w.values["cpu_cores"]).any())
    finally:
        server.shutdown()
    np.testing.assert_allclose(window.values["cpu_cores"][0, 2:], 1.0)
    np.testing.assert_allclose(window.values["memory_mb"][0, :], 2048.0)
    assert np.isnan(window.values["cpu_cores"][1]).all()


def test_hostile_label_values_select_nothing_else(prometheus_endpoint,
                                                  prometheus_series):
    """Values are escaped, never spliced: a uuid-looking value with
    PromQL or regex syntax in it matches only a series of that exact
    value."""
    times, stop = _grid(6)
    ids = prometheus_series.new(2)
    prometheus_write.PrometheusWriter(prometheus_endpoint).push_usage(
        ids, times, np.ones((2, times.size)))
    hostile = [f'{ids[0]}"}} or ceilometer_cpu{{resource=~".*',
               f"{ids[1][:8]}.*", ".*"]
    window = _source(prometheus_endpoint).read_usage(
        hostile, stop - datetime.timedelta(minutes=30), stop, STEP)
    assert np.isnan(window.values["cpu_cores"]).all()


def test_unreachable_prometheus_is_a_clear_error():
    import socket

    with socket.socket() as sock:       # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = _source(f"http://127.0.0.1:{port}", retries=1, timeout_s=2.0)
    stop = datetime.datetime.now(UTC)
    with pytest.raises(MetricSourceError, match="unreachable after 1"):
        source.read_usage(["x"], stop - datetime.timedelta(hours=1), stop)
