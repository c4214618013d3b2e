"""The application recorder (``tools/record_app_run.py``) on a real
Redis in its own namespaces and cgroup, with the schedule played 25
times faster: the demand measured from the cgroup follows the
schedule's request rate, the agent inside sees the namespace's own
sockets, and nothing of a run is left behind, also when it is stopped."""
from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "record_app_run.py"

pytestmark = [pytest.mark.functional, pytest.mark.slow, pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in (
        "unshare", "ip", "redis-server", "redis-benchmark", "redis-cli")),
    reason="needs root, unshare, ip and Redis "
    "(tools/services/42-recorder-tools.sh installs them)")]


def test_redis_run_follows_its_schedule_in_its_own_namespaces(tmp_path):
    out = tmp_path / "redis-1.jsonl.gz"
    done = subprocess.run(
        [sys.executable, str(TOOL), "--kind", "redis", "--seed", "1",
         "--time-scale", "0.04", "--interval", "2", "--output", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in gzip.open(out, "rt")]
    assert len(rows) >= 10
    schedule = json.loads((ROOT / "tools" / "data" / "profile-schedules"
                           / "redis-1.json").read_text())
    names = [p["name"] for p in schedule["phases"]]
    # the phases come in the schedule's order
    seen = [r["phase"] for r in rows]
    order = [n for i, n in enumerate(seen) if i == 0 or seen[i - 1] != n]
    it = iter(names)
    assert all(any(n == m for m in it) for n in order), (order, names)
    # the demand measured outside rises with the request rate
    low = [r["cpu_cores"] for r in rows if r["level"] < 0.2]
    high = [r["cpu_cores"] for r in rows if r["level"] > 0.6]
    assert low and high
    assert statistics.median(high) > 1.5 * statistics.median(low)
    assert all(r["mem_mib"] > 0 for r in rows)
    # inside, the agent sees the namespace's sockets only: Redis's one
    # listening socket (the host has many), its clients' connections
    assert all(r["record"]["f"]["net.tcp_listen"] == 1 for r in rows)
    assert any(r["record"]["f"]["net.tcp_established"] > 0
               for r in rows if r["level"] > 0.6)
    # the run's cgroups are gone
    for controller in ("cpuacct", "memory"):
        left = [p.name for p in Path("/sys/fs/cgroup", controller).iterdir()
                if p.name.startswith("wa-record-redis-1-")]
        assert not left


def test_a_stopped_recording_leaves_no_process_or_cgroup(tmp_path):
    out = tmp_path / "redis-2.jsonl.gz"
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), "--kind", "redis", "--seed", "2",
         "--output", str(out)], stderr=subprocess.PIPE, text=True)
    cgroup = Path("/sys/fs/cgroup/cpuacct") / f"wa-record-redis-2-{proc.pid}"
    deadline = time.monotonic() + 60
    # stopped once the application runs in its cgroup
    while time.monotonic() < deadline and not (
            cgroup.exists() and len((cgroup / "tasks").read_text().split())
            >= 3):
        time.sleep(0.2)
    assert cgroup.exists(), "the recording never started"
    pids = (cgroup / "tasks").read_text().split()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    for controller in ("cpuacct", "memory"):
        assert not (Path("/sys/fs/cgroup", controller)
                    / cgroup.name).exists()
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]
