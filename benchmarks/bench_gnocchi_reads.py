#!/usr/bin/env python3
"""Seconds and requests for one audit's Gnocchi reads, and the training
job's, at 10,000 instances.

Loads ``--vms`` synthetic instances (seeded) into a running Gnocchi at
300 s granularity for ``--hours`` of history, waits for gnocchi-metricd,
then times (a) one audit's read: the last 3 hours of CPU and memory of
every instance through :class:`GnocchiMetricSource`, and (b) the
training job's read of the last 24 hours.  Progress and a table go to
stderr; last on stdout, one JSON object: ``load_s``, and for the
``audit_read`` and the ``training_read`` their ``hours``, wall
``seconds``, HTTP ``requests`` and the share of instances with CPU
points.  Start Gnocchi with ``tools/services/20-gnocchi.sh up`` first.

Usage: python benchmarks/bench_gnocchi_reads.py [--vms 10000]
       [--hours 24] [--endpoint http://127.0.0.1:8041]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import tqdm

from watcher_adaptive.adapters import gnocchi

STEP = 300


def _default_endpoint() -> str:
    default = Path(tempfile.gettempdir()) / "watcher-adaptive-state"
    state = Path(os.environ.get("WA_STATE_DIR", default))
    f = state / "gnocchi" / "endpoint"
    return f.read_text().strip() if f.exists() else \
        "http://127.0.0.1:8041"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--endpoint", default=_default_endpoint())
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args(argv)
    client = gnocchi.make_client(args.endpoint)
    rng = np.random.default_rng(7)
    n_t = int(args.hours * 3600 // STEP)
    now = int(time.time()) // STEP * STEP
    times = np.arange(now - n_t * STEP, now, STEP).astype("datetime64[s]")
    ids = [str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | k))
           for k in range(args.vms)]
    level = rng.uniform(0.05, 1.5, (args.vms, 1))
    cores = np.clip(level + rng.normal(0, 0.1, (args.vms, n_t)), 0, 2)
    mem = np.full((args.vms, n_t), 2048.0)
    started = time.perf_counter()
    with tqdm.tqdm(desc="load", total=args.vms) as bar:
        gnocchi.GnocchiWriter(client, parallel=4).load(
            ids, times, cores, mem,
            progress=lambda done: bar.update(done - bar.n))
    load_s = time.perf_counter() - started
    print(f"loaded {args.vms:,} instances x {n_t} samples in "
          f"{load_s:.0f} s", file=sys.stderr)
    # metricd: wait until every instance is aggregated
    with tqdm.tqdm(desc="metricd (metrics waiting)") as bar:
        gnocchi.wait_processed(
            client, 3600,
            progress=lambda backlog: bar.set_postfix(waiting=backlog))
    source = gnocchi.GnocchiMetricSource(client, chunk_size=args.chunk,
                                         metrics=gnocchi.AUDIT_METRICS)
    stop = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    reads = {}
    for key, label, hours, metrics in (
            ("audit_read", "audit read (CPU), last 3 h", 3.0,
             gnocchi.AUDIT_METRICS),
            ("training_read",
             f"training read (CPU+RAM), last {args.hours:g} h",
             args.hours, gnocchi.DEFAULT_METRICS)):
        start = stop - datetime.timedelta(hours=hours)
        t0 = time.perf_counter()
        window = source.read_usage(ids, start, stop, STEP, metrics)
        wall = time.perf_counter() - t0
        have = np.isfinite(window.values["cpu_cores"]).any(axis=1).mean()
        print(f"{label:36s} {wall:7.2f} s  {window.requests} requests  "
              f"({have:.1%} of instances with CPU points)", file=sys.stderr)
        reads[key] = {"hours": hours, "seconds": round(wall, 2),
                      "requests": window.requests,
                      "instances_with_cpu": round(float(have), 4)}
    print(json.dumps({"vms": args.vms, "samples_per_instance": n_t,
                      "chunk": args.chunk, "load_s": round(load_s, 1),
                      **reads}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
