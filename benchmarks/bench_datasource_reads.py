#!/usr/bin/env python3
"""Seconds and requests of one audit's usage read, from Prometheus or
Gnocchi, for many instances.

Starts the service through ``tools/services/`` when it is not running
(and stops what it started), loads ``--hours`` of 5-minute CPU history
for ``--vms`` fresh instances (Prometheus: remote write; Gnocchi:
resources through its indexer, measures through the batch endpoint,
then gnocchi-metricd), times the audit's read of the last 3 hours
through the datasource the strategy uses, deletes what it loaded and
prints one JSON line ``{"backend", "vms", "seconds", "requests", ...}``.

With ``--audits N`` the read is repeated as N consecutive audits of one
strategy process would make it, one step apart, through the strategy's
window cache (``gnocchi_incremental``, ``prometheus_incremental``): the
first reads the whole window, the next ones only what is new
(``seconds`` is then the last audit's, ``first_seconds`` the first's).
With ``--feed`` as well, one new point per instance is written before
each later audit (Gnocchi: and processed by gnocchi-metricd, not timed),
so that the tail read holds what a live cloud's would.
``load1`` is the machine's load average when the last read ended.

Usage: python benchmarks/bench_datasource_reads.py --backend prometheus
       [--vms 10000] [--hours 3] [--audits 1 [--feed]]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from watcher_adaptive.adapters import datasource

STEP = 300
ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"prometheus": "50-prometheus.sh", "gnocchi": "20-gnocchi.sh"}


def _state(backend: str) -> Path:
    default = Path(tempfile.gettempdir()) / "watcher-adaptive-state"
    return Path(os.environ.get("WA_STATE_DIR", default)) / backend


def _answers(backend: str, endpoint: str) -> bool:
    import requests

    path = "/-/ready" if backend == "prometheus" else "/v1/status"
    try:
        return requests.get(endpoint + path, auth=("admin", ""),
                            timeout=5).ok
    except requests.RequestException:
        return False


def _service(backend: str, action: str) -> None:
    script = ROOT / "tools" / "services" / SCRIPTS[backend]
    subprocess.run(["bash", str(script), action], check=True,
                   stdout=sys.stderr)


def ensure_service(backend: str) -> tuple[str, bool]:
    """The endpoint, and whether this run started the service."""
    f = _state(backend) / "endpoint"
    if f.exists() and _answers(backend, f.read_text().strip()):
        return f.read_text().strip(), False
    _service(backend, "up")
    if not f.exists():
        reason = _state(backend) / "unavailable"
        said = reason.read_text().strip() if reason.exists() else "?"
        raise SystemExit(f"{backend} unavailable: {said}")
    return f.read_text().strip(), True


def _usage(n: int, n_t: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    run = uuid.uuid4()
    ids = [str(uuid.uuid5(run, f"vm-{k}")) for k in range(n)]
    now = int(time.time()) // STEP * STEP
    times = np.arange(now - n_t * STEP, now, STEP).astype("datetime64[s]")
    level = rng.uniform(0.05, 1.5, (n, 1))
    cores = np.clip(level + rng.normal(0, 0.1, (n, n_t)), 0, 2)
    return ids, times, cores


def other_series(endpoint: str, times: np.ndarray) -> int:
    """``ceilometer_cpu`` series already in the server over the window
    (an earlier run's: Prometheus 2.42 does not delete remote-written
    history that arrived out of order), which a read of the whole metric
    also gets."""
    import requests

    end = int(times[-1].astype(np.int64)) + 3600
    span = end - int(times[0].astype(np.int64)) + 3600
    body = requests.get(f"{endpoint}/api/v1/query", params={
        "query": f"count(count_over_time(ceilometer_cpu[{span}s]))",
        "time": end}, timeout=120).json()
    result = body.get("data", {}).get("result") or []
    return int(float(result[0]["value"][1])) if result else 0


def load_prometheus(endpoint: str, ids, times, cores,
                    incremental: bool = False) -> Any:
    from watcher_adaptive.adapters import prometheus
    from watcher_adaptive.adapters import prometheus_write
    from watcher_adaptive.adapters import window_cache

    prometheus_write.PrometheusWriter(endpoint).push_usage(ids, times, cores)
    # the strategy's defaults: the window cache kept across audits, the
    # set matcher up to 2,000 instances
    return prometheus.PrometheusSource(
        prometheus.prometheus_adapter(endpoint),
        metrics=datasource.AUDIT_METRICS,
        cache=window_cache.WindowCache() if incremental else None)


def load_gnocchi(endpoint: str, ids, times, cores,
                 incremental: bool = False) -> Any:
    from tests.functional.conftest import seed_instances
    from watcher_adaptive.adapters import gnocchi
    from watcher_adaptive.adapters import window_cache

    client = gnocchi.make_client(endpoint)
    seeded = seed_instances(ids, "watcher-adaptive")
    gnocchi.GnocchiWriter(client, chunk_size=500, parallel=4).load(
        ids, times, cores, create=not seeded)
    gnocchi.wait_processed(client, 3600)
    # the strategy's default: the window cache kept across audits
    return gnocchi.GnocchiMetricSource(
        client, metrics=datasource.AUDIT_METRICS,
        cache=window_cache.WindowCache() if incremental else None)


def feed(backend: str, endpoint: str, source: Any, ids, times: np.ndarray,
         cores: np.ndarray, j: int) -> None:
    """Write column ``j`` of ``cores`` (at ``times[j]``) as the next
    point of every instance, as the loaders wrote the earlier ones."""
    if backend == "prometheus":
        from watcher_adaptive.adapters import prometheus_write

        # the same cumulative counter the loader integrated
        cum = np.cumsum(cores[:, :j + 1] * STEP * 1e9, axis=1)[:, -1] \
            - cores[:, 0] * STEP * 1e9
        prometheus_write.PrometheusWriter(endpoint).push_series(
            "ceilometer_cpu", [{"resource": r} for r in ids],
            times[j:j + 1], cum[:, None])
        return
    from watcher_adaptive.adapters import gnocchi

    start = np.cumsum(cores[:, 1:j + 1] * STEP * 1e9, axis=1)[:, -1]
    gnocchi.GnocchiWriter(source.client, chunk_size=500).push_usage(
        ids, times[j:j + 1], cores[:, j:j + 1], cpu_ns_start=start)
    gnocchi.wait_processed(source.client, 3600)


def cleanup(backend: str, endpoint: str, ids) -> None:
    if backend == "gnocchi":
        from tests.functional.conftest import delete_instances
        from watcher_adaptive.adapters import gnocchi

        delete_instances(gnocchi.make_client(endpoint), ids)
        return
    import requests

    for lo in range(0, len(ids), 1000):
        requests.post(f"{endpoint}/api/v1/admin/tsdb/delete_series",
                      params={"match[]": '{resource=~"%s"}'
                              % "|".join(ids[lo:lo + 1000])}, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True,
                        choices=sorted(SCRIPTS))
    parser.add_argument("--vms", type=int, default=10000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--audits", type=int, default=1)
    parser.add_argument("--feed", action="store_true",
                        help="write one new point per instance before "
                             "each later audit")
    args = parser.parse_args(argv)
    if args.vms < 1 or args.hours * 3600 < 2 * STEP or args.audits < 1:
        parser.error("--vms, --audits >= 1 and --hours >= 0.17 please")
    endpoint, started = ensure_service(args.backend)
    n_t = int(args.hours * 3600 // STEP)
    # the points fed to the later audits are the last ones, so that
    # none is in the future
    ids, times, cores = _usage(args.vms, n_t + args.audits - 1)
    others = other_series(endpoint, times) \
        if args.backend == "prometheus" else 0
    if others:
        print(f"warning: {others:,} other ceilometer_cpu series in the "
              "window (an earlier run's); restart the server for a clean "
              "figure", file=sys.stderr)
    try:
        t0 = time.perf_counter()
        print(f"loading {args.vms:,} instances x {n_t} points into "
              f"{args.backend} ...", file=sys.stderr)
        load = load_prometheus if args.backend == "prometheus" \
            else load_gnocchi
        source = load(endpoint, ids, times[:n_t], cores[:, :n_t],
                      args.audits > 1)
        print(f"loaded in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        stop = datetime.datetime.fromtimestamp(
            int(times[n_t - 1].astype(np.int64)) + STEP,
            datetime.timezone.utc)
        runs = []
        for k in range(args.audits):
            # audit k sees the clock k steps later: without --feed
            # nothing new was written, which costs a reader that
            # re-reads everything as much as ever
            at = stop + datetime.timedelta(seconds=k * STEP)
            if k and args.feed:
                feed(args.backend, endpoint, source, ids, times, cores,
                     n_t - 1 + k)
            t1 = time.perf_counter()
            window = source.read_usage(ids, at - datetime.timedelta(
                hours=3), at, STEP)
            runs.append((time.perf_counter() - t1, window.requests))
            have = float(np.isfinite(window.values["cpu_cores"])
                         .any(axis=1).mean())
        seconds, requests = runs[-1]
        print(json.dumps({
            "backend": args.backend, "vms": args.vms,
            "seconds": round(seconds, 2), "requests": requests,
            "first_seconds": round(runs[0][0], 2),
            "first_requests": runs[0][1], "audits": args.audits,
            "feed": args.feed, "other_series": others,
            "instances_with_data": round(have, 4),
            "load1": round(os.getloadavg()[0], 2)}))
    finally:
        cleanup(args.backend, endpoint, ids)
        if started:
            _service(args.backend, "down")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
