"""The writer's loading in blocks and the wait for gnocchi-metricd, on a
fake client that records what a real one would be sent (no server; the
real round trip is in tests/functional)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.exceptions import MetricSourceError


class FakeClient:
    def __init__(self, existing=(), backlog=()) -> None:
        from gnocchiclient import exceptions as gexc

        self.created: list[dict] = []
        self.batches: list[dict] = []
        self.backlog = list(backlog)
        lock = threading.Lock()
        client = self

        class Resource:
            def create(self, rtype, body):
                if body["id"] in existing:
                    raise gexc.ResourceAlreadyExists(409)
                with lock:
                    client.created.append(body)

        class Metric:
            def batch_resources_metrics_measures(self, batch,
                                                 create_metrics):
                client.batches.append(batch)

        class Status:
            def get(self):
                left = client.backlog.pop(0) if client.backlog else 0
                return {"storage": {"summary": {"metrics": left}}}

        self.resource, self.metric, self.status = \
            Resource(), Metric(), Status()


def test_load_creates_and_pushes_block_by_block():
    client = FakeClient(existing={"vm-1"})
    ids = [f"vm-{i}" for i in range(5)]
    times = np.array([0, 300, 600], dtype="datetime64[s]")
    cores = np.full((5, 3), 0.5)
    done: list[int] = []
    writer = gnocchi.GnocchiWriter(client, "lean", chunk_size=2, parallel=3)
    requests = writer.load(ids, times, cores,
                           cpu_ns_start=np.arange(5) * 1e12, block=3,
                           progress=done.append)
    assert done == [3, 5]
    # two blocks: 3 instances in 2 requests, 2 in 1
    assert requests == len(client.batches) == 3
    assert sorted(b["id"] for b in client.created) == \
        ["vm-0", "vm-2", "vm-3", "vm-4"]
    assert all(b["metrics"] == {"cpu": {"archive_policy_name": "lean"}}
               for b in client.created)
    cpu = {rid: m["cpu"] for batch in client.batches
           for rid, m in batch.items()}
    # each instance's counter starts at its own start, 0.5 core more
    # every 300 s
    assert [p["value"] for p in cpu["vm-4"]] == \
        [4e12, 4e12 + 150e9, 4e12 + 300e9]
    assert all("memory.usage" not in m for batch in client.batches
               for m in batch.values())
    # instances created beforehand: measures only
    client.created.clear()
    writer.load(ids, times, cores, create=False)
    assert client.created == []


def test_wait_processed_until_the_backlog_is_gone():
    client = FakeClient(backlog=[5, 2, 0])
    seen: list[int] = []
    gnocchi.wait_processed(client, 10, progress=seen.append, poll_s=0)
    assert seen == [5, 2, 0]


def test_wait_processed_fails_clearly_when_metricd_lags():
    client = FakeClient(backlog=[7] * 1000)
    with pytest.raises(MetricSourceError,
                       match="7 metric.*waiting after 0 s"):
        gnocchi.wait_processed(client, 0.0, poll_s=0)
