#!/usr/bin/env python3
"""Seconds per audit: adaptive_migration vs Watcher's built-ins.

Builds one synthetic cluster (default 1,000 hosts / 10,000 VMs, 10 % of
the hosts running hot, 30 samples of history per VM), turns it into a
Watcher ``ModelRoot`` once per strategy, and times ``execute()`` with the
data already in memory (no Gnocchi): ``adaptive_migration`` reads a
recorded usage window, the built-ins read the same numbers through an
in-memory Watcher datasource (the replay's).  Also times the pure core
alone (forecast + plan).

Prints a table on stderr and, last on stdout, one JSON object: the
cluster's size, ``core_s`` (forecast + plan), ``execute_s`` and
``migrations`` of ``adaptive_migration``'s first audit (its online
forecasters' state built from the window), ``next_execute_s`` (the audit
five minutes later: the state loaded, fed one sample, saved), and per
built-in its
``execute_s``, ``migrations`` and ``ratio_to_adaptive``.

Usage: python benchmarks/bench_audit.py [--hosts 1000] [--vms 10000]
       [--builtins workload_stabilization,vm_workload_consolidation]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings

import numpy as np

from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.core import demand
from watcher_adaptive.core import planner
from watcher_adaptive.replay import api
from watcher_adaptive.replay import watcher_bridge
from watcher_adaptive.strategy import schema

# The shape of the reference benchmark of Watcher's built-ins: hosts of
# 32 cores / 128 GiB admitting 64 vCPUs, flavors of 1-8 vCPUs and
# 2-32 GiB, 10 % of the hosts run hot (82-95 % CPU) and receive 1.5 x
# the VMs, the others 10-60 %.
HOST_CORES, CORE_MIPS, HOST_RAM_MB, VCPU_RATIO = 32, 2500.0, 131072, 2.0
FLAVORS = np.array([(1, 2), (1, 4), (2, 4), (2, 8), (4, 8), (4, 16),
                    (8, 16), (8, 32)])
FLAVOR_WEIGHTS = np.array([4, 2, 4, 2, 3, 1, 1, 0.5])
HISTORY = 30


def synthetic_view(n_hosts: int, n_vms: int,
                   seed: int = 42) -> api.ClusterView:
    rng = np.random.default_rng(seed)
    hosts = api.HostTable(
        names=tuple(f"compute-{i:05d}" for i in range(n_hosts)),
        pes=np.full(n_hosts, HOST_CORES),
        mips_per_pe=np.full(n_hosts, CORE_MIPS),
        ram_mb=np.full(n_hosts, HOST_RAM_MB, dtype=float),
        bw_mbps=np.full(n_hosts, 10_000.0),
        power_w=np.tile(np.linspace(100, 300, 11), (n_hosts, 1)),
        model=("synthetic",) * n_hosts)
    flavor = FLAVORS[rng.choice(len(FLAVORS), n_vms,
                                p=FLAVOR_WEIGHTS / FLAVOR_WEIGHTS.sum())]
    vms = api.VmTable(
        names=tuple(f"vm-{j:06d}" for j in range(n_vms)),
        mips=np.full(n_vms, CORE_MIPS), pes=flavor[:, 0].astype(float),
        ram_mb=flavor[:, 1] * 1024.0, bw_mbps=np.full(n_vms, 100.0))
    hot = np.zeros(n_hosts, dtype=bool)
    hot[rng.choice(n_hosts, max(1, n_hosts // 10), replace=False)] = True
    weights = np.where(hot, 1.5, 1.0)
    vcpus_used = np.zeros(n_hosts)
    ram_used = np.zeros(n_hosts)
    vm_host = np.empty(n_vms, dtype=np.int64)
    for j in range(n_vms):
        fits = ((vcpus_used + vms.pes[j] <= HOST_CORES * VCPU_RATIO)
                & (ram_used + vms.ram_mb[j] <= HOST_RAM_MB))
        p = np.where(fits, weights, 0.0)
        h = int(rng.choice(n_hosts, p=p / p.sum()))
        vm_host[j] = h
        vcpus_used[h] += vms.pes[j]
        ram_used[h] += vms.ram_mb[j]
    # each host's load split over its VMs with noise, as utilisation of
    # each VM's own vCPUs
    target = np.where(hot, rng.uniform(0.82, 0.95, n_hosts),
                      rng.uniform(0.10, 0.60, n_hosts))
    per_vcpu = target * HOST_CORES / np.maximum(vcpus_used, 1)
    level = np.clip(per_vcpu[vm_host] * rng.uniform(0.6, 1.4, n_vms),
                    0.005, 1.0)
    history = np.clip(level[:, None] + rng.normal(0, 0.05,
                                                  (n_vms, HISTORY)), 0, 1)
    return api.ClusterView(
        time_s=HISTORY * 300.0, interval_s=300.0, hosts=hosts, vms=vms,
        vm_host=vm_host, vm_migration_target=np.full(n_vms, -1),
        vm_cpu_util=history[:, -1], vm_cpu_history=history,
        host_enabled=np.ones(n_hosts, dtype=bool),
        host_allocated_mips=np.zeros(n_hosts),
        limits=api.Limits(ram_mb=np.full(n_hosts, float(HOST_RAM_MB)),
                          vcpus=np.full(n_hosts,
                                        float(HOST_CORES * VCPU_RATIO))))


#: the benchmark's clock: the last sample's time (on the 300 s grid)
NOW = 1_800_000_000


class _InMemory:
    """The window up to the audit's clock, on the store's 300 s grid."""

    def __init__(self, ids, cores) -> None:
        self.ids, self.cores = tuple(ids), cores

    def read_usage(self, resource_ids, start, stop, granularity=300):
        last = int(stop.timestamp()) // granularity * granularity
        width = min(self.cores.shape[1],
                    self.cores.shape[1] - (NOW - last) // granularity)
        times = (last - granularity * np.arange(width)[::-1]).astype(
            "datetime64[s]")
        return gnocchi.UsageWindow(self.ids, times,
                                   {"cpu_cores": self.cores[:, :width]}, 0)


def time_adaptive(view: api.ClusterView) -> tuple[float, float, int]:
    """Seconds of the first audit (the online forecasters' state is
    built from the window), of the next one five minutes later (it is
    loaded, fed the one new sample and saved) and the first's
    migrations."""
    from watcher.common import utils
    from watcher.decision_engine.loading import default as loading

    model, _, _ = watcher_bridge._build_model(view, VCPU_RATIO)
    uuids = [watcher_bridge._vm_uuid(n) for n in view.vms.names]
    source = _InMemory(uuids, view.vm_cpu_history * view.vms.pes[:, None])
    params: dict = {"max_migrations_per_audit": 1000,
                    "max_migrations_per_hour": 1000}
    seconds, actions = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clock in (NOW - 300, NOW):
            strategy = loading.DefaultStrategyLoader().load(
                "adaptive_migration")
            strategy._compute_model = model
            strategy._usage_source = source
            strategy._clock = lambda clock=clock: float(clock)
            utils.StrictDefaultValidatingDraft4Validator(
                strategy.get_schema()).validate(params)
            strategy.input_parameters.update(params)
            strategy.config.journal_path = f"{tmp}/moves.json"
            started = time.perf_counter()
            solution = strategy.execute()
            seconds.append(time.perf_counter() - started)
            actions.append(len(solution.actions))
            if strategy.fallback_reason:
                print(f"fallback: {strategy.fallback_reason}",
                      file=sys.stderr)
    return seconds[0], seconds[1], actions[0]


def time_core(view: api.ClusterView) -> float:
    from watcher_adaptive.replay import adaptive

    params = schema.to_parameters({"max_migrations_per_audit": 1000,
                                   "max_migrations_per_hour": 1000})
    strategy = adaptive.AdaptiveReplay()
    started = time.perf_counter()
    snap = strategy.snapshot(view)
    fc = demand.reactive_forecast(view.vm_cpu_history,
                                  view.vms.total_mips, params.quantile,
                                  params.horizon_s)
    planner.plan(snap, fc, params.policy)
    return time.perf_counter() - started


def time_builtin(view: api.ClusterView, name: str) -> tuple[float, float]:
    peer = watcher_bridge.WatcherPeer(name)
    peer.vcpu_ratio = VCPU_RATIO
    started = time.perf_counter()
    model, _, _ = watcher_bridge._build_model(view, VCPU_RATIO)
    build = time.perf_counter() - started
    del model
    started = time.perf_counter()
    decision = peer.decide(view)
    total = time.perf_counter() - started
    return total - build, len(decision.moves)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=10000)
    parser.add_argument("--builtins", default="workload_stabilization,"
                        "vm_workload_consolidation",
                        help="comma-separated; empty to skip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    watcher_bridge._ensure_watcher_conf()
    view = synthetic_view(args.hosts, args.vms)
    print(f"synthetic cluster: {args.hosts:,} hosts, {args.vms:,} VMs, "
          f"{HISTORY} samples of history each", file=sys.stderr)
    core_s = time_core(view)
    print(f"core forecast + plan              {core_s:8.2f} s",
          file=sys.stderr)
    ours, next_s, n_ours = time_adaptive(view)
    print(f"adaptive_migration execute()      {ours:8.2f} s  "
          f"({n_ours} migrations)", file=sys.stderr)
    print(f"  the next audit (state kept)     {next_s:8.2f} s",
          file=sys.stderr)
    builtins = {}
    for name in filter(None, args.builtins.split(",")):
        theirs, n = time_builtin(view, name)
        print(f"{name:33s} {theirs:8.2f} s  ({n} migrations)  "
              f"ratio {theirs / ours:6.1f}x", file=sys.stderr)
        builtins[name] = {"execute_s": round(theirs, 3),
                          "migrations": int(n),
                          "ratio_to_adaptive": round(theirs / ours, 1)}
    print(json.dumps({
        "hosts": args.hosts, "vms": args.vms, "history_samples": HISTORY,
        "core_s": round(core_s, 3), "execute_s": round(ours, 3),
        "next_execute_s": round(next_s, 3),
        "migrations": n_ours, "builtins": builtins}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
