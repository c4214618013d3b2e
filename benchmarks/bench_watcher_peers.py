#!/usr/bin/env python3
"""Seconds per audit of each Watcher built-in inside the replay.

Replays the embedded PlanetLab day (800 hosts, 1,052 VMs) once per peer
with an audit every ``--every`` seconds (default 6 h: four audits) and
prints the time each audit took: a line per peer on stderr and, last on
stdout, one JSON object (per peer its ``audit_s`` list, ``mean_audit_s``
and ``migrations``).  The default audit intervals in
``watcher_adaptive/replay/watcher_bridge.py`` come from these figures.

Usage: python benchmarks/bench_watcher_peers.py [--every 21600]
       [--peers workload_balance,basic]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings

from watcher_adaptive.replay import runner
from watcher_adaptive.replay import watcher_bridge
from watcher_adaptive.traces import resolve

PEERS = ("workload_balance", "workload_stabilization",
         "vm_workload_consolidation", "basic")


class TimedPeer(watcher_bridge.WatcherPeer):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.seconds: list[float] = []

    def decide(self, view):
        started = time.perf_counter()
        decision = super().decide(view)
        self.seconds.append(time.perf_counter() - started)
        return decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=21600.0)
    parser.add_argument("--peers", default=",".join(PEERS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    trace = resolve.resolve_trace("embedded:planetlab")
    print(f"{trace.name}: {trace.n_vms} VMs on 800 hosts, an audit every "
          f"{args.every:g} s", file=sys.stderr)
    peers = {}
    for name in args.peers.split(","):
        peer = TimedPeer(name)
        peer.audit_interval_s = args.every
        run = runner.run_all(trace, [peer])[0]
        per = ", ".join(f"{s:.2f}" for s in peer.seconds)
        mean = sum(peer.seconds) / max(1, len(peer.seconds))
        migrations = int(run.metrics.migrations) if run.metrics else None
        print(f"{name:28s} per audit: {per} s  (mean {mean:.2f} s; "
              f"{'-' if migrations is None else migrations} migrations)",
              file=sys.stderr)
        peers[name] = {"audit_s": [round(s, 3) for s in peer.seconds],
                       "mean_audit_s": round(mean, 3),
                       "migrations": migrations}
    print(json.dumps({"trace": trace.name, "vms": trace.n_vms,
                      "hosts": 800, "every_s": args.every, "peers": peers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
