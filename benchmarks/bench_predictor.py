#!/usr/bin/env python3
"""Predictor speed and memory.

Prints: training time on one PlanetLab day (about 1,000 VMs; goal < 60 s),
time to forecast every VM at one origin (goal < 1 s), training time and
peak RSS on Bitbrains (500 VMs x 30 days, about 4 M samples; goal < 2 GB;
measured first, so the peak is its own), and how training time grows
with fleet size toward 10,000 VMs.  Training draws at most 300,000 rows
uniformly before building any feature, so time and memory flatten once a
fleet yields more rows than that.

The figures go to stderr as sentences and, last on stdout, as one JSON
object: ``bitbrains`` (``train_s``, ``peak_rss_mb``, ... or ``skipped``
and why), ``planetlab_day`` (``train_s``), ``forecast_ms``, ``scaling``
(one entry per fleet size: ``vms``, ``rows_drawn``, ``train_s``,
``peak_rss_so_far_mb``) and ``peak_rss_mb``.

Usage: python benchmarks/bench_predictor.py [--traces-root DIR]
       [--skip-bitbrains]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from watcher_adaptive import exceptions as errors
from watcher_adaptive.evaluate import membership
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor as P
from watcher_adaptive.traces import resolve
from watcher_adaptive.traces.model import TraceSet

HORIZON = 6  # samples: 30 min at 300 s
#: rows drawn (uniformly, before any feature is built) for training
TRAIN_ROWS = 300_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _members(trace: TraceSet) -> dataset.Membership:
    """The host membership of an LR-MMT replay of ``trace`` (run anew:
    it is part of what a training costs)."""
    return membership.LrMmtMembership()(trace)


def _train(trace: TraceSet) -> tuple[P.Predictor, dataset.Rows, float]:
    started = time.perf_counter()
    mips = np.full(trace.n_vms, 1000.0)
    vm = dataset.vm_rows(trace, HORIZON, mips, max_rows=TRAIN_ROWS)
    host = dataset.host_rows(trace, HORIZON, _members(trace))
    model = P.Predictor(HORIZON * trace.interval_s,
                        trace.interval_s).fit(vm, host, [trace.name])
    return model, vm, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-root", default=os.environ.get(
        "WATCHER_ADAPTIVE_TRACES") or str(
            Path(__file__).resolve().parents[2] / "shared" / "traces"))
    parser.add_argument("--skip-bitbrains", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    out: dict = {"train_rows_max": TRAIN_ROWS,
                 "bitbrains": {"skipped": "--skip-bitbrains"}}
    if not args.skip_bitbrains:
        try:
            bb = resolve.resolve_trace("bitbrains:*.csv.gz", args.traces_root)
        except errors.TraceError as exc:
            print(f"bitbrains: skipped ({exc})", file=sys.stderr)
            out["bitbrains"] = {"skipped": str(exc)}
        else:
            _, rows, seconds = _train(bb)
            print(f"train, Bitbrains {bb.n_vms} VMs x {bb.n_samples} "
                  f"samples ({bb.n_vms * bb.n_samples:,}; {rows.y.size:,} "
                  f"rows drawn): {seconds:.1f} s; peak RSS {_rss_mb():.0f} "
                  "MB", file=sys.stderr)
            out["bitbrains"] = {
                "vms": bb.n_vms, "samples_per_vm": bb.n_samples,
                "rows_drawn": int(rows.y.size), "train_s": round(seconds, 1),
                "peak_rss_mb": round(_rss_mb())}
            del bb, rows

    day = resolve.resolve_trace("embedded:planetlab")
    model, vm, seconds = _train(day)
    print(f"train, one PlanetLab day ({day.n_vms} VMs, {vm.y.size:,} VM "
          f"rows incl. its LR-MMT replay): {seconds:.1f} s", file=sys.stderr)
    out["planetlab_day"] = {"vms": day.n_vms, "vm_rows": int(vm.y.size),
                            "train_s": round(seconds, 1)}
    one = dataset.vm_rows(day, HORIZON, np.full(day.n_vms, 1000.0),
                          origins=np.array([200]))
    X = one.X
    started = time.perf_counter()
    model.vm_quantiles(X)
    forecast_ms = (time.perf_counter() - started) * 1000
    print(f"forecast all {X.shape[0]} VMs at one origin: "
          f"{forecast_ms:.0f} ms", file=sys.stderr)
    out.update(forecast_vms=int(X.shape[0]),
               forecast_ms=round(forecast_ms, 1), scaling=[])

    for factor in (1, 2, 4, 10):
        big = TraceSet(name=f"x{factor}", interval_s=day.interval_s,
                       vm_ids=tuple(f"v{i}" for i in
                                    range(day.n_vms * factor)),
                       cpu=np.tile(day.cpu, (factor, 1)),
                       report=day.report)
        started = time.perf_counter()
        mips = np.full(big.n_vms, 1000.0)
        rows = dataset.vm_rows(big, HORIZON, mips, max_rows=TRAIN_ROWS)
        P.Predictor(1800.0).fit(rows, dataset.host_rows(day, HORIZON,
                                                        _members(day)))
        train_s = time.perf_counter() - started
        print(f"scaling: {big.n_vms:6,} VMs ({big.n_vms * 270:,} rows "
              f"available, {rows.y.size:,} drawn): "
              f"{train_s:.1f} s; peak RSS so far "
              f"{_rss_mb():.0f} MB", file=sys.stderr)
        out["scaling"].append({
            "vms": big.n_vms, "rows_available": big.n_vms * 270,
            "rows_drawn": int(rows.y.size), "train_s": round(train_s, 1),
            "peak_rss_so_far_mb": round(_rss_mb())})
    print(f"peak RSS: {_rss_mb():.0f} MB", file=sys.stderr)
    out["peak_rss_mb"] = round(_rss_mb())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
