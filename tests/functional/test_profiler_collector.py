"""The behavioural profiler for real: guest agents as separate
processes, the collector as its own process, a real Gnocchi server."""
from __future__ import annotations

import datetime
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.functional.tcp_proxy import TcpProxy
from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.profiler import zipapp

HOSTILE_SCRIPT = textwrap.dedent("""
    import json, socket, sys, time
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    now = time.time()
    good = {"v": "1.0", "ts": now, "seq": 1, "interval_s": 30,
            "f": {"cpu.user": 0.01}}
    bad = [b"A" * 100000, b"{]", b'{"v": "1.0", "ts": NaN}',
           json.dumps(dict(good, ts=now + 86400)).encode(),
           json.dumps(dict(good, f={"cpu.user": 50})).encode(),
           json.dumps(dict(good, f={"cpu.user": "idle"})).encode(),
           json.dumps(dict(good, v="9.0")).encode(),
           json.dumps(dict(good, ts=now - 86400)).encode(),
           json.dumps(dict(good, f={"net.rx_bps": 1}))
               .encode().replace(b": 1}", b": 1e999}")]
    s.sendall(b"\\n".join(bad) + b"\\n")
    s.close()
""")


@pytest.fixture(scope="module")
def agent_pyz(tmp_path_factory) -> Path:
    return zipapp.build(tmp_path_factory.mktemp("pyz") / "agent.pyz")


class Collector:
    def __init__(self, tmp: Path, endpoint: str, guests: list[str],
                 **options) -> None:
        self.tmp = tmp
        self.status_path = tmp / "status.json"
        # Unix socket paths are limited to 107 bytes: pytest's tmp_path
        # with a uuid file name can be longer
        self.socket_dir = Path(tempfile.mkdtemp(prefix="wa-", dir="/tmp"))
        opts = {"channel": "socket", "guest_discovery": "static",
                "guests": ",".join(guests), "socket_dir": self.socket_dir,
                "spool_path": tmp / "spool.sqlite",
                "status_path": self.status_path, "gnocchi_auth": "basic",
                "gnocchi_endpoint": endpoint, "flush_interval": 0.3,
                "status_interval": 0.2, "records_per_minute": 120,
                "burst": 10, "max_backoff": 1, "poll_interval": 1}
        opts.update(options)
        conf = tmp / "collector.conf"
        conf.write_text("[profiler_collector]\n" + "".join(
            f"{k} = {v}\n" for k, v in opts.items()))
        self.log = open(tmp / "collector.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher_adaptive.cmd.collector",
             "--config-file", str(conf)], stdout=self.log,
            stderr=subprocess.STDOUT)
        self.wait(lambda s: True)

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def wait(self, ok, timeout_s: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logs()
            st = self.status()
            if st and ok(st):
                return st
            time.sleep(0.2)
        raise AssertionError(f"status never matched: {self.status()}\n"
                             f"{self.logs()}")

    def socket(self, guest: str) -> str:
        return str(self.socket_dir / f"{guest}.sock")

    def logs(self) -> str:
        self.log.flush()
        return (self.tmp / "collector.log").read_text()[-3000:]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        return rc


def run_agent(pyz: Path, socket_path: str, count: int) -> subprocess.Popen:
    """A guest agent in its own process, on a bare interpreter."""
    return subprocess.Popen([sys.executable, "-I", str(pyz), "--channel",
                             f"unix:{socket_path}", "--interval", "1",
                             "--count", str(count), "--no-perf"])


def landed(client, resource_id: str, timeout_s: float = 90.0,
           expect: int | None = None,
           metric: str = "adaptive.cpu.count") -> int:
    """Records of ``resource_id`` Gnocchi holds (the count aggregate of
    one profile metric, once metricd caught up)."""
    deadline = time.monotonic() + timeout_s
    total = 0
    while time.monotonic() < deadline:
        try:
            points = client.metric.get_measures(
                metric, resource_id=resource_id,
                aggregation="count", granularity=30, refresh=True)
        except Exception:  # noqa: BLE001 - metric not created yet
            points = []
        total = int(sum(p[2] for p in points))
        if expect is None or total >= expect:
            return total
        time.sleep(0.5)
    return total


def make_instances(client, *ids: str) -> None:
    for rid in ids:
        client.resource.create("instance", {"id": rid})


def test_agents_to_gnocchi_with_a_hostile_guest_beside_them(
        tmp_path, gnocchi_client, gnocchi_endpoint, profile_policy,
        agent_pyz):
    good = [str(uuid.uuid4()) for _ in range(2)]
    hostile = str(uuid.uuid4())
    make_instances(gnocchi_client, *good, hostile)
    col = Collector(tmp_path, gnocchi_endpoint, good + [hostile])
    try:
        agents = [run_agent(agent_pyz, col.socket(g), 6) for g in good]
        subprocess.run([sys.executable, "-c", HOSTILE_SCRIPT,
                        col.socket(hostile)], check=True, timeout=60)
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
        tmp_path, gnocchi_client, gnocchi_endpoint, profile_policy,
        agent_pyz, hardening):
    guest = str(uuid.uuid4())
    make_instances(gnocchi_client, guest)
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
        tmp_path, gnocchi_client, gnocchi_endpoint, profile_policy,
        agent_pyz):
    known, newcomer = str(uuid.uuid4()), str(uuid.uuid4())
    make_instances(gnocchi_client, known)
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
        make_instances(gnocchi_client, newcomer)
        col.wait(lambda s: s["pushed"] == 6 and s["spool_depth"] == 0)
    finally:
        assert col.stop() == 0
    assert landed(gnocchi_client, newcomer, expect=3) == 3
    assert landed(gnocchi_client, known, expect=3) == 3
