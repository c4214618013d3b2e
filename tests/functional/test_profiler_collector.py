"""The behavioural profiler for real: guest agents as separate
processes, the collector as its own process, a real Gnocchi server."""
from __future__ import annotations

import datetime
import time
import urllib.parse
import uuid

import numpy as np
import pytest

from tests.functional.collector_process import Collector
from tests.functional.collector_process import landed
from tests.functional.collector_process import make_instances
from tests.functional.collector_process import run_agent
from tests.functional.collector_process import start_traffic
from tests.functional.collector_process import traffic_report
from tests.functional.tcp_proxy import TcpProxy
from watcher_adaptive.adapters import gnocchi

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_agents_to_gnocchi_with_a_hostile_guest_beside_them(
        tmp_path, gnocchi_client, gnocchi_instances, gnocchi_endpoint,
        profile_policy, agent_pyz):
    good = [str(uuid.uuid4()) for _ in range(2)]
    hostile = str(uuid.uuid4())
    make_instances(gnocchi_client, gnocchi_instances, *good, hostile)
    col = Collector(tmp_path, gnocchi_endpoint, good + [hostile])
    try:
        agents = [run_agent(agent_pyz, col.socket(g), 6) for g in good]
        traffic_report(start_traffic(tmp_path, "hostile", {
            "guests": [{"socket": col.socket(hostile), "rate": 0}]}))
        for a in agents:
            assert a.wait(timeout=60) == 0
        st = col.wait(lambda s: s["pushed"] == 12 and sum(
            s["guests"].get(hostile, {}).values()) >= 9)
    finally:
        assert col.stop() == 0
    for g in good:
        assert st["guests"][g] == {"accepted": 6}
        assert landed(gnocchi_client, g, expect=6) == 6
    assert st["guests"][hostile] == {
        "oversize": 1, "malformed": 3, "future": 1, "range": 1,
        "schema": 1, "version": 1, "stale": 1}
    metrics = gnocchi_client.resource.get("instance", hostile)["metrics"]
    assert not [m for m in metrics if m.startswith("adaptive.")]
    assert st["lost"] == 0 and st["spool_depth"] == 0
    # what the strategy reads for its model's behaviour columns (metricd
    # aggregates each metric on its own schedule: wait for both guests)
    source = gnocchi.GnocchiMetricSource(gnocchi_client)
    deadline = time.monotonic() + 90
    while True:
        stop = datetime.datetime.now(datetime.timezone.utc)
        window = source.read_usage(
            good + [hostile], stop - datetime.timedelta(minutes=10),
            stop + datetime.timedelta(minutes=1), granularity=30,
            metrics=gnocchi.PROFILE_METRICS)
        mem = window.values["profile_mem_used"]
        if np.isfinite(mem[:2]).any(axis=1).all() or \
                time.monotonic() > deadline:
            break
        time.sleep(1)
    assert np.isfinite(mem[:2]).any(axis=1).all()
    assert ((mem[:2][np.isfinite(mem[:2])] > 0) &
            (mem[:2][np.isfinite(mem[:2])] < 1)).all()
    assert np.isnan(mem[2]).all()


@pytest.mark.hardening("gnocchi-collector")
def test_gnocchi_outage_spools_and_the_bound_is_counted(
        tmp_path, gnocchi_client, gnocchi_instances, gnocchi_endpoint,
        profile_policy, agent_pyz, hardening):
    guest = str(uuid.uuid4())
    make_instances(gnocchi_client, gnocchi_instances, guest)
    url = urllib.parse.urlsplit(gnocchi_endpoint)
    proxy = TcpProxy(url.hostname, url.port)        # not started: down
    col = Collector(tmp_path, proxy.url, [guest], spool_max_records=4)
    try:
        assert run_agent(agent_pyz, col.socket(guest), 8).wait(60) == 0
        down = col.wait(lambda s: s["totals"].get("accepted") == 8 and
                        s["push_failures"] > 0)
        assert down["pushed"] == 0 and down["spool_depth"] == 4
        assert down["lost"] == 4
        proxy.start()                               # Gnocchi is back
        up = col.wait(lambda s: s["spool_depth"] == 0)
        assert up["pushed"] == 4 and up["lost"] == 4
    finally:
        assert col.stop() == 0
        proxy.stop()
    assert landed(gnocchi_client, guest, expect=4) == 4
    hardening.record(
        happened=f"Gnocchi down while a guest sent 8 records: the "
        f"collector kept reading ({down['push_failures']} failed "
        f"push(es)), spooled its bound of 4 and counted 4 as lost; "
        f"Gnocchi back: the 4 spooled records landed, the spool emptied",
        lost="what exceeded the spool bound (4 of 8), counted in the "
        "collector's status")


def test_records_of_an_instance_gnocchi_does_not_know_yet_wait(
        tmp_path, gnocchi_client, gnocchi_instances, gnocchi_endpoint,
        profile_policy, agent_pyz):
    known, newcomer = str(uuid.uuid4()), str(uuid.uuid4())
    make_instances(gnocchi_client, gnocchi_instances, known)
    col = Collector(tmp_path, gnocchi_endpoint, [known, newcomer],
                    unknown_instance_retry=1)
    try:
        agents = [run_agent(agent_pyz, col.socket(g), 3)
                  for g in (known, newcomer)]
        for a in agents:
            assert a.wait(timeout=60) == 0
        waiting = col.wait(lambda s: s["pushed"] == 3 and
                           s["spool_depth"] == 3)
        assert waiting["lost"] == 0
        make_instances(gnocchi_client, gnocchi_instances, newcomer)
        col.wait(lambda s: s["pushed"] == 6 and s["spool_depth"] == 0)
    finally:
        assert col.stop() == 0
    assert landed(gnocchi_client, newcomer, expect=3) == 3
    assert landed(gnocchi_client, known, expect=3) == 3
