#!/usr/bin/env python3
"""Classification speed: 16.7 M page samples and DAMON-like regions.

Target (issue "Destination-host agent"): classifying 16.7 M page samples
(64 GiB of 4 KiB pages) in at most 50 ms; region classification cost
grows with the region count only.

Usage: python benchmarks/bench_page_classifier.py [--pages 16777216]
       [--nodes 2] [--repeat 7] [--seed 0]
Prints the best and median time of ``classify_pages`` (with and without
per-page NUMA nodes), of ``combine`` on top of it, and of
``classify_regions`` at 1,000 and 10,000 regions: as sentences on
stderr and, last on stdout, as one JSON object (``best_ms`` and
``median_ms`` per operation; the hot, warm and cold MiB found).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from nova_hooks.core import classify
from nova_hooks.core import types


def _time(fn, repeat):
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs) * 1e3, statistics.median(runs) * 1e3


def _ms(best: float, median: float) -> dict:
    return {"best_ms": round(best, 3), "median_ms": round(median, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1 << 24)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n = args.pages
    # skewed like real guests: most pages idle, a tail of hot ones
    acc = np.minimum(rng.geometric(0.35, n) - 1, 10).astype(np.uint8)
    wr = np.minimum(acc, rng.geometric(0.7, n) - 1).astype(np.uint8)
    samples = types.PageSamples(
        accesses=acc, writes=wr,
        idle_s=rng.integers(0, 600, n, dtype=np.uint16), intervals=10,
        node=rng.integers(0, args.nodes, n, dtype=np.int8))
    no_node = types.PageSamples(samples.accesses, samples.writes,
                                samples.idle_s, 10)
    th = types.Thresholds()
    print(f"pages: {n:,} ({n * 4096 / 2**30:.1f} GiB of 4 KiB pages), "
          f"numpy {np.__version__}", file=sys.stderr)
    out: dict = {"pages": n, "nodes": args.nodes, "repeat": args.repeat,
                 "numpy": np.__version__, "target_ms": 50}
    best, med = _time(lambda: classify.classify_pages(samples, th),
                      args.repeat)
    c = classify.classify_pages(samples, th)
    print(f"classify_pages, {args.nodes} nodes: best {best:.1f} ms, "
          f"median {med:.1f} ms (target <= 50 ms) -> hot "
          f"{c.hot_bytes >> 20} MiB, warm {c.warm_bytes >> 20} MiB, "
          f"cold {c.cold_bytes >> 20} MiB", file=sys.stderr)
    out["classify_pages"] = _ms(best, med)
    out.update(hot_mib=int(c.hot_bytes) >> 20,
               warm_mib=int(c.warm_bytes) >> 20,
               cold_mib=int(c.cold_bytes) >> 20)
    best, med = _time(lambda: classify.classify_pages(no_node, th),
                      args.repeat)
    print(f"classify_pages, no node array: best {best:.1f} ms, "
          f"median {med:.1f} ms", file=sys.stderr)
    out["classify_pages_no_node"] = _ms(best, med)
    obs = [types.Observation("bench", pages=samples, covers_all=True)]
    best, med = _time(lambda: classify.combine(obs, th, n * 4096),
                      args.repeat)
    print(f"combine (pages): best {best:.1f} ms, median {med:.1f} ms",
          file=sys.stderr)
    out["combine_pages"] = _ms(best, med)
    out["classify_regions"] = {}
    for count in (1_000, 10_000):
        size = (n * 4096) // count
        regions = [types.Region(i * size, size,
                                float(rng.random()), float(rng.random()) / 4,
                                float(rng.integers(0, 600)),
                                int(rng.integers(0, args.nodes)))
                   for i in range(count)]
        best, med = _time(lambda r=regions: classify.classify_regions(r, th),
                          args.repeat)
        print(f"classify_regions, {count:,} regions: best {best:.2f} ms, "
              f"median {med:.2f} ms", file=sys.stderr)
        out["classify_regions"][str(count)] = _ms(best, med)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
