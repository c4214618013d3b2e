#!/usr/bin/env python3
"""Sweep speed: the default grid of adaptive, LR-MMT and THR-MMT over the
five PlanetLab development days, realistic world.

Goal (issue "watcher-adaptive sweep"): at most 15 minutes on a 2-core
machine.  Runs ``watcher-adaptive sweep`` itself (the command a user
runs) and prints one JSON object on stdout: the wall time, the runs and
runs per minute, the processes, the machine's load average before and
after (the machine may be shared: a load above the core count slows
every run), the mean wall and CPU time of one run per strategy, and the
runs' CPU time over the jobs: what the sweep would take on idle cores.

Usage: python benchmarks/bench_sweep.py [--traces-root DIR] [--jobs N]
       [--output DIR] [--days 20110303,...]
The sweep's progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from watcher_adaptive.cmd import main as cli
from watcher_adaptive.traces import resolve

GOAL_S = 15 * 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.environ.get(resolve.ENV_ROOT) or str(
        Path(__file__).resolve().parents[2] / "shared" / "traces")
    parser.add_argument("--traces-root", default=default_root)
    parser.add_argument("--days", default=",".join(resolve.DEVELOPMENT_DAYS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path,
                        help="keep the sweep's report here (default: a "
                             "temporary directory, removed)")
    args = parser.parse_args(argv)
    days = [d for d in args.days.split(",") if d]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        out = args.output or Path(tmp) / "sweep"
        argv_sweep = ["sweep", "--traces-root", args.traces_root,
                      "--constraints", "realistic", "--jobs",
                      str(args.jobs), "--output", str(out)]
        for day in days:
            argv_sweep += ["--trace", f"planetlab:{day}"]
        load_before = os.getloadavg()
        started = time.perf_counter()
        code = cli.main(argv_sweep)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        if code != 0:
            return code
        doc = json.loads((out / "sweep.json").read_text())
    per_family: dict[str, list[float]] = {}
    cpu_family: dict[str, list[float]] = {}
    for p in doc["points"]:
        run = doc["runs"][p["id"]]
        per_family.setdefault(p["strategy"], []).append(run["wall_s"])
        cpu_family.setdefault(p["strategy"], []).append(run["cpu_s"])
    cpu_total = sum(sum(c) for c in cpu_family.values())
    runs = len(doc["points"])
    print(json.dumps({
        "what": "sweep, default grid, adaptive+lr-mmt+thr-mmt, realistic",
        "days": days,
        "runs": runs,
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall, 1),
        "runs_per_minute": round(runs / wall * 60, 2),
        "goal_s": GOAL_S,
        "within_goal": wall <= GOAL_S,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "mean_run_wall_s": {f: round(statistics.mean(w), 1)
                            for f, w in per_family.items()},
        "mean_run_cpu_s": {f: round(statistics.mean(c), 1)
                           for f, c in cpu_family.items()},
        # what the runs alone would take on idle cores, one per job: the
        # figure to hold against the goal on a shared machine
        "runs_cpu_s": round(cpu_total, 1),
        "idle_estimate_wall_s": round(cpu_total / args.jobs, 1),
        "failed": sum(p["error"] is not None for p in doc["points"]),
        "dominated": doc["summary"]["dominated"],
        "baseline_points": doc["summary"]["baseline_points"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
