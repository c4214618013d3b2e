#!/usr/bin/env python3
"""Replay speed and memory: one PlanetLab day, 800 hosts, one strategy.

Target (issue "Foundation"): the largest development day (20110322,
1,516 VMs) under LR-MMT in under 30 s and 1 GB peak RSS on a 2-core
machine.  CloudSim 3.0.3 needed 2 min 38 s and 1.2-2.3 GB for the same.

Usage: python benchmarks/bench_replay.py [--trace planetlab:20110322]
       [--traces-root DIR] [--strategy lr-mmt] [--repeat 3]
Prints the trace load time, the replay wall time per repeat and the
process's peak RSS: as sentences on stderr and, last on stdout, as one
JSON object (``load_s``, ``runs`` with each run's ``wall_s``,
``energy_kwh`` and ``migrations``, ``best_wall_s``, ``median_wall_s``,
``peak_rss_mb``).  Falls back to the embedded 20110303 day when the
shared traces are not available, and says so (``fallback``).
"""
from __future__ import annotations

import argparse
import json
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
    fallback = None
    try:
        trace = resolve.resolve_trace(args.trace, args.traces_root)
    except errors.TraceError as exc:
        fallback = f"{exc}; using the embedded 20110303 day instead"
        print(f"note: {fallback}", file=sys.stderr)
        trace = resolve.resolve_trace("embedded:planetlab", None)
    load_s = time.perf_counter() - started
    print(f"trace {trace.name}: {trace.n_vms} VMs x {trace.n_samples} "
          f"samples, loaded in {load_s:.2f} s", file=sys.stderr)
    walls = []
    runs = []
    for i in range(args.repeat):
        strategy = registry.build_strategies(args.strategy)[0]
        t0 = time.perf_counter()
        run = runner.run_all(trace, [strategy])[0]
        walls.append(time.perf_counter() - t0)
        m = run.metrics
        print(f"run {i + 1}: {walls[-1]:.2f} s wall  "
              f"energy {m.energy_kwh:.2f} kWh  migrations {m.migrations}",
              file=sys.stderr)
        runs.append({"wall_s": round(walls[-1], 2),
                     "energy_kwh": round(float(m.energy_kwh), 3),
                     "migrations": int(m.migrations)})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = sorted(walls)[len(walls) // 2]
    print(f"replay wall: best {min(walls):.2f} s, median "
          f"{median:.2f} s over {len(walls)} runs", file=sys.stderr)
    print(f"peak RSS: {peak_mb:.0f} MB", file=sys.stderr)
    print(json.dumps({
        "trace": trace.name, "vms": trace.n_vms,
        "samples": trace.n_samples, "strategy": args.strategy,
        "fallback": fallback, "load_s": round(load_s, 2), "runs": runs,
        "best_wall_s": round(min(walls), 2),
        "median_wall_s": round(median, 2), "peak_rss_mb": round(peak_mb)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
