#!/usr/bin/env python3
"""What one cold-page reclaim round costs the destination agent, without
libvirt: the round's reading of the host (the guest-RAM mapping's
pagemap, its resident size, host free memory) and its plan
(:func:`nova_hooks.core.reclaim.plan`), on a stand-in QEMU: a child
process holding a ``--guest-mib`` anonymous mapping of which a random
``--present`` share of pages is resident, in runs of 1-64 pages (as
post-copy leaves a guest's RAM arriving), with ``--hot`` 256 KiB hot
ranges and as many warm ones protected.  No page is paged out (the
kernel's ``process_madvise`` is not the agent's cost).

Target (issue "The destination agent, proven to help during
post-copy"): the agent's own cost at most 2 % of one core during the
migration; reclaim runs a round a second, so a round must stay well
under 20 ms of CPU.

Usage: python benchmarks/bench_reclaim_round.py [--guest-mib 256]
       [--present 0.6] [--hot 64] [--rounds 50] [--seed 0]
Prints the median and best CPU milliseconds of a round, of its reading
(``view``) and of its plan, with the present runs counted: as a
sentence on stderr and, last on stdout, as one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nova_hooks.agent import reclaim as adapter  # noqa: E402
from nova_hooks.core import reclaim as core  # noqa: E402
from nova_hooks.core.types import PAGE_SIZE  # noqa: E402

#: the stand-in QEMU: maps the guest's RAM, makes the chosen pages
#: resident, says so on stdout and waits for stdin to close
_CHILD = r"""
import mmap, sys
import numpy as np
size, present, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ram = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
rng = np.random.default_rng(seed)
pages, page, n = size // 4096, 0, 0
while page < pages:
    run = int(rng.integers(1, 65))
    if rng.random() < present:
        for p in range(page, min(page + run, pages)):
            ram[p * 4096] = 1
            n += 1
    page += run
print(n, flush=True)
sys.stdin.read()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--guest-mib", type=int, default=256)
    ap.add_argument("--present", type=float, default=0.6)
    ap.add_argument("--hot", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    guest = a.guest_mib << 20
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(guest), str(a.present),
         str(a.seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert child.stdout is not None
        resident_pages = int(child.stdout.readline())
        slice_b = 256 << 10
        stride = max(1, guest // slice_b // max(1, 2 * a.hot))
        hot = core.merge((i * stride * slice_b, slice_b)
                         for i in range(a.hot))
        warm = core.merge(((i * stride + stride // 2) * slice_b, slice_b)
                          for i in range(a.hot))
        # a quota of nothing: every round plans, none pages out
        policy = core.ReclaimPolicy(quota_bytes_per_s=guest,
                                    headroom_bytes=16 << 20)
        r = adapter.Reclaimer(child.pid, guest, policy,
                              adapter.ReclaimJournal("/dev/null"))
        view_ms, plan_ms, runs = [], [], 0
        for _ in range(a.rounds):
            t0 = time.process_time()
            v = r.view(hot, warm, None)
            t1 = time.process_time()
            p = core.plan(v, core.ReclaimState(), policy)
            t2 = time.process_time()
            view_ms.append((t1 - t0) * 1e3)
            plan_ms.append((t2 - t1) * 1e3)
            runs = len(v.present or ())
        r.close()
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)
    rounds = [v + p for v, p in zip(view_ms, plan_ms, strict=True)]
    out = {
        "guest_mib": a.guest_mib, "resident_mib":
            round(resident_pages * PAGE_SIZE / 2**20, 1),
        "present_runs": runs, "hot_ranges": len(hot),
        "planned_mib": round(p.bytes / 2**20, 1),
        "round_cpu_ms": {"median": round(statistics.median(rounds), 3),
                         "best": round(min(rounds), 3)},
        "view_cpu_ms": round(statistics.median(view_ms), 3),
        "plan_cpu_ms": round(statistics.median(plan_ms), 3),
        "cpu_pct_at_1_round_per_s":
            round(statistics.median(rounds) / 10, 3)}
    print(f"reclaim round on a {a.guest_mib} MiB guest "
          f"({out['resident_mib']} MiB resident in {runs} runs): "
          f"{out['round_cpu_ms']['median']} ms CPU (view "
          f"{out['view_cpu_ms']}, plan {out['plan_cpu_ms']})",
          file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
