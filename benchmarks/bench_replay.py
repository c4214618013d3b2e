#!/usr/bin/env python3
"""Replay speed and memory: one PlanetLab day, 800 hosts, one strategy.

Target (issue "Foundation"): the largest development day (20110322,
1,516 VMs) under LR-MMT in under 30 s and 1 GB peak RSS on a 2-core
machine.  CloudSim 3.0.3 needed 2 min 38 s and 1.2-2.3 GB for the same.

Usage: python benchmarks/bench_replay.py [--trace planetlab:20110322]
       [--traces-root DIR] [--strategy lr-mmt] [--repeat 3]
Prints the trace load time, the replay wall time per repeat and the
process's peak RSS.  Falls back to the embedded 20110303 day when the
shared traces are not available, and says so.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from watcher_adaptive import exceptions as errors
from watcher_adaptive.replay import registry
from watcher_adaptive.replay import runner
from watcher_adaptive.traces import resolve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="planetlab:20110322")
    default_root = os.environ.get("WATCHER_ADAPTIVE_TRACES") or str(
        Path(__file__).resolve().parents[2] / "shared" / "traces")
    parser.add_argument("--traces-root", default=default_root)
    parser.add_argument("--strategy", default="lr-mmt")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        trace = resolve.resolve_trace(args.trace, args.traces_root)
    except errors.TraceError as exc:
        print(f"note: {exc}; using the embedded 20110303 day instead")
        trace = resolve.resolve_trace("embedded:planetlab", None)
    load_s = time.perf_counter() - started
    print(f"trace {trace.name}: {trace.n_vms} VMs x {trace.n_samples} "
          f"samples, loaded in {load_s:.2f} s")
    walls = []
    for i in range(args.repeat):
        strategy = registry.build_strategies(args.strategy)[0]
        t0 = time.perf_counter()
        run = runner.run_all(trace, [strategy])[0]
        walls.append(time.perf_counter() - t0)
        m = run.metrics
        print(f"run {i + 1}: {walls[-1]:.2f} s wall  "
              f"energy {m.energy_kwh:.2f} kWh  migrations {m.migrations}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"replay wall: best {min(walls):.2f} s, median "
          f"{sorted(walls)[len(walls) // 2]:.2f} s over {len(walls)} runs")
    print(f"peak RSS: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
