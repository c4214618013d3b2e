#!/usr/bin/env python3
"""Guest agent overhead, and the host's cost per record.

Target (issue "Behavioural profiler"): the in-guest agent costs at most
0.5 % of one core at a 30 s interval and at most 40 MB of RSS.

The agent runs as the zipapp a guest image carries, on a bare
interpreter (``python -I``), as its own process.  Two runs, with 1 and
with ``1 + ticks`` records, are measured with ``getrusage`` of the
child; the difference is the steady-state CPU per record, free of the
interpreter's start-up.  CPU per record / 30 s is the share of one core.
The host side: parse + gate of valid records, and the cost of refusing
a flood (the token bucket is charged before any parsing).

The figures go to stderr as sentences and, last on stdout, as one JSON
object (``agent_cpu_ms_per_record``, ``agent_core_pct_at_30s``,
``agent_peak_rss_mb``, ``host_check_us``, ``host_refuse_us``, ...).

Usage: python benchmarks/bench_guest_agent.py [--ticks 20]
       [--interval 1] [--records 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from watcher_adaptive.profiler import gate as G
from watcher_adaptive.profiler import zipapp
from watcher_adaptive.profiler.guest import agent
from watcher_adaptive.profiler.guest import samplers


def _child_run(pyz: Path, count: int, interval: float) -> tuple[float, int]:
    """CPU seconds and peak RSS (KiB) of one agent process."""
    proc = subprocess.Popen([sys.executable, "-I", str(pyz), "--channel",
                             "stdout", "--interval", str(interval),
                             "--count", str(count), "--no-perf"],
                            stdout=subprocess.DEVNULL)
    # wait4 rather than Popen.wait: it returns the child's own rusage
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the agent failed")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args(argv)
    n_procs = sum(1 for p in os.listdir("/proc") if p.isdigit())
    with tempfile.TemporaryDirectory() as tmp:
        pyz = zipapp.build(Path(tmp) / "agent.pyz")
        cpu1, rss1 = _child_run(pyz, 1, args.interval)
        cpun, rssn = _child_run(pyz, 1 + args.ticks, args.interval)
    per_tick = max(0.0, cpun - cpu1) / args.ticks
    print(f"guest agent ({n_procs} processes visible): "
          f"{per_tick * 1000:.1f} ms CPU per record; at a 30 s interval "
          f"{per_tick / 30 * 100:.3f} % of one core (goal <= 0.5 %)",
          file=sys.stderr)
    print(f"guest agent peak RSS {max(rss1, rssn) / 1024:.1f} MB "
          f"(goal <= 40 MB); start-up {cpu1 * 1000:.0f} ms CPU",
          file=sys.stderr)

    t0 = time.monotonic()
    prev = samplers.read_counters(now=t0)
    line = agent.make_record(1, time.time(), 30.0,
                             *samplers.interval_features(
                                 prev, samplers.read_counters(
                                     now=t0 + 1.0)))
    now = time.time()
    payload = line.encode()
    gate = G.GuestGate("bench", G.GatePolicy(records_per_minute=1e9,
                                             burst=10**9), now)
    start = time.perf_counter()
    for _ in range(args.records):
        # the same record each time: forget it was seen, or the order
        # check would refuse it before the full parse this measures
        gate.last_ts = None
        assert gate.admit(payload, now) is not None
    valid_s = (time.perf_counter() - start) / args.records
    flood = G.GuestGate("flood", G.GatePolicy(), now)
    flood.admit(payload, now)
    flood.bucket._tokens = 0.0
    start = time.perf_counter()
    for _ in range(args.records):
        flood.admit(payload, now)
    refuse_s = (time.perf_counter() - start) / args.records
    print(f"host: {valid_s * 1e6:.0f} us to check a valid record "
          f"({len(payload)} bytes, {1 / valid_s:,.0f} records/s per core); "
          f"{refuse_s * 1e6:.2f} us to refuse a flooded one",
          file=sys.stderr)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"benchmark process peak RSS {usage.ru_maxrss / 1024:.0f} MB",
          file=sys.stderr)
    print(json.dumps({
        "processes_visible": n_procs, "ticks": args.ticks,
        "interval_s": args.interval,
        "agent_cpu_ms_per_record": round(per_tick * 1000, 2),
        "agent_core_pct_at_30s": round(per_tick / 30 * 100, 4),
        "goal_core_pct": 0.5,
        "agent_peak_rss_mb": round(max(rss1, rssn) / 1024, 1),
        "goal_rss_mb": 40,
        "agent_startup_cpu_ms": round(cpu1 * 1000, 1),
        "record_bytes": len(payload), "records": args.records,
        "host_check_us": round(valid_s * 1e6, 2),
        "host_records_per_s_per_core": round(1 / valid_s),
        "host_refuse_us": round(refuse_s * 1e6, 3),
        "bench_peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
