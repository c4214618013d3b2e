"""The guest agent's channels and the zipapp a guest image carries."""
from __future__ import annotations

import subprocess
import sys
import time

from tests.unit.profiler.records import NOW
from watcher_adaptive.profiler import record as R
from watcher_adaptive.profiler import zipapp
from watcher_adaptive.profiler.guest import agent


def test_file_channel_keeps_the_newest_records(tmp_path):
    ch = agent.FileChannel(str(tmp_path / "d" / "p.jsonl"), keep=3)
    for i in range(5):
        ch.send(f'{{"n":{i}}}')
    assert (tmp_path / "d" / "p.jsonl").read_text().splitlines() == [
        '{"n":2}', '{"n":3}', '{"n":4}']


def test_a_host_that_does_not_listen_costs_a_bounded_queue(tmp_path):
    ch = agent.UnixChannel(str(tmp_path / "nobody.sock"), backlog=4)
    assert not any(ch.send(f"r{i}") for i in range(100))
    assert len(ch._queue) <= 4


def test_the_agent_records_pass_the_hosts_checks(tmp_path):
    ch = agent.FileChannel(str(tmp_path / "p.jsonl"))
    clock = iter([NOW, NOW + 1, NOW + 2])
    mono = iter(float(i) for i in range(10))
    a = agent.Agent(ch, 1.0, use_perf=False, clock=lambda: next(clock),
                    monotonic=lambda: next(mono))
    a.start()
    for _ in range(2):
        rec = R.parse(a.tick().encode(), NOW + 2)
        assert rec.features["cpu.count"] >= 1


def test_zipapp_runs_on_a_bare_python(tmp_path):
    pyz = zipapp.build(tmp_path / "agent.pyz")
    # -I: no site-packages, no current directory: only the zipapp
    out = subprocess.run([sys.executable, "-I", str(pyz), "--channel",
                          "stdout", "--interval", "1", "--count", "1",
                          "--no-perf"], capture_output=True, timeout=30,
                         cwd=tmp_path, check=True).stdout
    rec = R.parse(out.strip(), time.time())
    assert rec.seq == 1 and "mem.total_mb" in rec.features
