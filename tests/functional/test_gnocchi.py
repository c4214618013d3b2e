"""The Gnocchi adapter against a real Gnocchi server (PostgreSQL
indexer, file storage, basic auth, gnocchi-metricd)."""
from __future__ import annotations

import datetime
import time
import uuid

import numpy as np
import pytest

from tests.functional.conftest import wait_for_measures
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.exceptions import MetricSourceError

pytestmark = pytest.mark.functional
STEP = 300


def _grid(n: int):
    now = int(time.time()) // STEP * STEP
    return np.arange(now - n * STEP, now, STEP).astype("datetime64[s]")


def _wait(client, ids, cpu, memory=None):
    """Until Gnocchi has aggregated every point of every metric the test
    reads: cpu and, when written, memory.usage (mean at 300 s: one point
    per finite sample)."""
    expected = {(rid, "cpu"): int(np.isfinite(row).sum())
                for rid, row in zip(ids, cpu, strict=True)}
    if memory is not None:
        expected.update({(rid, "memory.usage"): int(np.isfinite(row).sum())
                         for rid, row in zip(ids, memory, strict=True)})
    wait_for_measures(client, expected)


def _window(times):
    start = datetime.datetime.fromtimestamp(
        int(times[0].astype(np.int64)) - STEP, datetime.timezone.utc)
    stop = datetime.datetime.fromtimestamp(
        int(times[-1].astype(np.int64)) + 1, datetime.timezone.utc)
    return start, stop


def _load(client, owned, cpu, memory=None, vcpus=2):
    ids = owned.new(cpu.shape[0])
    writer = gnocchi.GnocchiWriter(client)
    assert writer.ensure_instances(
        [{"id": i, "vcpus": vcpus, "display_name": f"vm-{k}"}
         for k, i in enumerate(ids)]) == len(ids)
    times = _grid(cpu.shape[1])
    writer.push_usage(ids, times, cpu, memory)
    return ids, times


def test_usage_round_trips_with_gaps_and_missing_metrics(gnocchi_client,
                                                        gnocchi_instances):
    t = 12
    cpu = np.array([np.full(t, 0.5), np.linspace(0.1, 1.9, t),
                    np.r_[np.full(6, 0.25), np.full(6, np.nan)]])
    memory = np.array([np.full(t, 1024.0), np.full(t, 2048.0),
                       np.full(t, np.nan)])
    ids, times = _load(gnocchi_client, gnocchi_instances, cpu, memory)
    _wait(gnocchi_client, ids, cpu, memory)
    start, stop = _window(times)
    window = gnocchi.GnocchiMetricSource(gnocchi_client).read_usage(
        ids, start, stop, STEP)
    assert window.requests == 1
    cores = window.values["cpu_cores"]
    got_times = list(window.times)
    # the cumulative counter's rate at sample k is the usage of k
    for k in range(1, t):
        j = got_times.index(times[k])
        np.testing.assert_allclose(cores[0, j], 0.5, rtol=1e-6)
        np.testing.assert_allclose(cores[1, j], cpu[1, k], rtol=1e-6)
        if k < 6:
            np.testing.assert_allclose(cores[2, j], 0.25, rtol=1e-6)
        else:
            assert np.isnan(cores[2, j])
    mem = window.values["memory_mb"]
    assert np.nanmax(mem[0]) == 1024.0 and np.all(np.isnan(mem[2]))


def test_request_count_does_not_grow_per_instance(gnocchi_client,
                                                  gnocchi_instances):
    cpu = np.full((30, 4), 0.3)
    ids, times = _load(gnocchi_client, gnocchi_instances, cpu)
    _wait(gnocchi_client, ids, cpu)
    start, stop = _window(times)
    small = gnocchi.GnocchiMetricSource(gnocchi_client, chunk_size=500)
    assert small.read_usage(ids[:3], start, stop, STEP).requests == 1
    window = small.read_usage(ids, start, stop, STEP)
    assert window.requests == 1
    assert np.all(np.isfinite(window.values["cpu_cores"][:, -2]))
    chunked = gnocchi.GnocchiMetricSource(gnocchi_client, chunk_size=10)
    assert chunked.read_usage(ids, start, stop, STEP).requests == 3


def test_unknown_instances_give_nan_rows(gnocchi_client):
    start, stop = _window(_grid(4))
    window = gnocchi.GnocchiMetricSource(gnocchi_client).read_usage(
        [str(uuid.uuid4())], start, stop, STEP)
    assert np.all(np.isnan(window.values["cpu_cores"]))


def test_unreachable_gnocchi_raises_a_clear_error():
    client = gnocchi.make_client("http://127.0.0.1:1")
    source = gnocchi.GnocchiMetricSource(client, retries=2, backoff_s=0.01)
    start, stop = _window(_grid(2))
    with pytest.raises(MetricSourceError, match="unreachable"):
        source.read_usage(["x"], start, stop, STEP)


def test_watchers_own_gnocchi_helper_reads_what_we_wrote(gnocchi_client,
                                                        gnocchi_instances):
    from watcher.decision_engine.datasources import gnocchi as wgnocchi
    from watcher.decision_engine.model import element

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    cpu = np.full((1, 6), 1.5)  # cores in use of a 2-vCPU instance
    ids, _ = _load(gnocchi_client, gnocchi_instances, cpu, vcpus=2)
    _wait(gnocchi_client, ids, cpu)

    class Clients:  # what GnocchiHelper takes: an object with gnocchi()
        def gnocchi(self):
            return gnocchi_client

    helper = wgnocchi.GnocchiHelper(osc=Clients())
    instance = element.Instance(uuid=ids[0], vcpus=2, name="vm",
                                state="active", memory=1, disk=1)
    percent = helper.get_instance_cpu_usage(instance, 3600, "mean", STEP)
    assert percent == pytest.approx(75.0, rel=1e-6)
