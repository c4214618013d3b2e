#!/usr/bin/env python3
"""Resident memory of the destination QEMU over a real post-copy
migration, sampled every 100 ms: does a balloon target set while the
incoming post-copy runs free anything on the destination before the
migration completes?

Needs the two libvirt hosts of ``tools/services/30-libvirt-hosts.sh``
(``WA_STATE_DIR`` as when it was started) and libvirt-python.  Each run
boots the tiny guest (with a second QMP monitor) on host A, migrates it
with post-copy to host B (:func:`tests.functional.libvirt_hosts.
postcopy_migrate`) and samples, on B, the QEMU process's RSS and the
resident part of its guest-RAM mapping every ``--period`` s from the
moment B's QEMU exists until ``--tail`` s after completion.  Variants:

* ``none``: no balloon change;
* ``during``: balloon set to ``--target`` MiB through B's second QMP
  monitor as soon as B reports RESUMED/POSTCOPY;
* ``after``: the same target set once the migration completed.

Prints progress on stderr; writes ``--out`` (JSON: the samples, the
phase times, the balloon as QEMU reports it) and ``--svg`` (the plot for
the docs); the last line of stdout is one JSON object with, per variant,
the guest-RAM resident MiB at post-copy start, at completion, the
largest drop between them, and after the tail.

Usage: WA_STATE_DIR=... python benchmarks/bench_dest_resident.py
       [--variants none,during,after] [--target 96] [--tail 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_agent_migration import guest_ram_rss_mib  # noqa: E402
from bench_agent_migration import rss_mib  # noqa: E402

from nova_hooks.agent.qmp import Qmp  # noqa: E402
from tests.functional import libvirt_hosts as lh  # noqa: E402

VARIANTS = ("none", "during", "after")
LABELS = {"none": "no balloon", "during": "target in post-copy",
          "after": "target after"}


def say(msg: str) -> None:
    print(f"[bench-dest-resident {time.strftime('%H:%M:%S')}] {msg}",
          file=sys.stderr, flush=True)


def resident_mib(pid: int, guest_mib: int) -> tuple[float, float]:
    """(process RSS, resident MiB of the guest-RAM mapping)."""
    return rss_mib(pid), guest_ram_rss_mib(pid, guest_mib)


class Sampler(threading.Thread):
    """B's QEMU for ``name``: RSS and guest-RAM RSS every ``period`` s,
    the balloon (second monitor) every second."""

    def __init__(self, hosts: dict, name: str, period: float, t0: float):
        super().__init__(daemon=True)
        self.hosts, self.name, self.period, self.t0 = hosts, name, period, t0
        self.guest_mib = hosts["guest"]["memory_mib"]
        run = Path(hosts["hosts"]["B"]["qemu_run_dir"])
        self.pidfile, self.qmp = run / f"{name}.pid", run / f"{name}.qmp2"
        self.samples: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        pid, last_balloon = None, 0.0
        while not self.stop.is_set():
            t = time.monotonic()
            if pid is None:
                try:
                    pid = int(self.pidfile.read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pid = None
            if pid is not None:
                try:
                    rss, ram = resident_mib(pid, self.guest_mib)
                except (OSError, ValueError):
                    rss = ram = None
                s = {"t": round(t - self.t0, 3), "rss_mib": rss,
                     "guest_ram_mib": ram}
                if t - last_balloon >= 1.0 and self.qmp.exists():
                    last_balloon = t
                    try:
                        s["balloon_mib"] = Qmp(str(self.qmp), 0.5) \
                            .balloon_kib() / 1024
                    except Exception as e:  # noqa: BLE001 (recorded)
                        s["balloon_error"] = str(e)[:80]
                self.samples.append(s)
            self.stop.wait(max(0.0, self.period - (time.monotonic() - t)))


def one_run(hosts: dict, variant: str, target_mib: int, period: float,
            tail_s: float) -> dict:
    name = f"wa-res-{variant}-{uuid.uuid4().hex[:6]}"
    say(f"{variant}: booting {name} on A")
    try:
        lh.start_guest(hosts, name, "A", second_monitor=True)
        t0 = time.monotonic()
        sampler = Sampler(hosts, name, period, t0)
        sampler.start()
        qmp = Path(hosts["hosts"]["B"]["qemu_run_dir"]) / f"{name}.qmp2"
        balloon_set: dict = {}

        if variant == "during":
            def balloon_when_postcopy():
                # B's QEMU takes the balloon command on its second monitor
                # once the guest runs there (RESUMED/POSTCOPY): poll its
                # status rather than share the libvirt event thread
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    try:
                        st = Qmp(str(qmp), 0.5).execute("query-status")
                        if st.get("status") in ("running", "postmigrate") \
                                and st.get("running"):
                            Qmp(str(qmp), 0.5).set_balloon(target_mib * 1024)
                            balloon_set["t"] = round(time.monotonic() - t0, 3)
                            return
                    except Exception:  # noqa: BLE001, S110 (not up yet)
                        pass
                    time.sleep(0.05)
            threading.Thread(target=balloon_when_postcopy,
                             daemon=True).start()
        say(f"{variant}: migrating A -> B (post-copy)")
        tl = lh.postcopy_migrate(hosts, name, "A", "B")
        if not tl["ok"]:
            raise RuntimeError(f"migration failed: {tl['error']}")
        # postcopy_migrate's times are from its own start: shift them
        shift = tl["t0_wall"] - (time.time() - (time.monotonic() - t0))
        pc = tl["postcopy_on_dst"] + shift
        done = tl["resumed_on_dst"] + shift
        if variant == "after":
            Qmp(str(qmp), 2.0).set_balloon(target_mib * 1024)
            balloon_set["t"] = round(time.monotonic() - t0, 3)
        say(f"{variant}: completed; post-copy {done - pc:.1f} s; "
            f"tail {tail_s:.0f} s")
        time.sleep(tail_s)
        sampler.stop.set()
        sampler.join()
        return {"variant": variant, "label": LABELS[variant], "name": name,
                "postcopy_start_s": round(pc, 3),
                "completed_s": round(done, 3),
                "balloon_set_s": balloon_set.get("t"),
                "target_mib": target_mib, "samples": sampler.samples}
    finally:
        lh.remove_guest(hosts, name)


def summary(run: dict) -> dict:
    s = [x for x in run["samples"] if x.get("guest_ram_mib") is not None]
    pc, done = run["postcopy_start_s"], run["completed_s"]

    def at(t: float) -> float | None:
        before = [x["guest_ram_mib"] for x in s if x["t"] <= t]
        return round(before[-1], 1) if before else None

    during = [x["guest_ram_mib"] for x in s if pc <= x["t"] <= done]
    # the largest fall of the guest-RAM resident size inside post-copy
    drop, peak = 0.0, None
    for v in during:
        peak = v if peak is None else max(peak, v)
        drop = max(drop, peak - v)
    balloons = [x["balloon_mib"] for x in s if "balloon_mib" in x]
    return {"postcopy_s": round(done - pc, 2),
            "ram_at_postcopy_start_mib": at(pc),
            "ram_at_completion_mib": at(done),
            "largest_drop_during_postcopy_mib": round(drop, 1),
            "ram_end_mib": round(s[-1]["guest_ram_mib"], 1) if s else None,
            "rss_end_mib": round(s[-1]["rss_mib"], 1) if s else None,
            "balloon_end_mib": balloons[-1] if balloons else None,
            "balloon_set_s": run["balloon_set_s"],
            "samples": len(s)}


def svg(runs: list[dict], path: Path) -> None:
    """A small line plot of guest-RAM resident MiB over time, one line
    per run, time from post-copy start (no plotting library needed)."""
    colours = {"none": "#444444", "during": "#d62728", "after": "#1f77b4",
               "plain": "#444444", "reclaim": "#d62728",
               "reclaim_prepaging": "#2ca02c"}
    W, H, L, R, T, B = 720, 360, 60, 150, 20, 45
    pts = [(x["t"] - r["postcopy_start_s"], x["guest_ram_mib"], r)
           for r in runs for x in r["samples"]
           if x.get("guest_ram_mib") is not None]
    if not pts:
        return
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y1 = max(p[1] for p in pts) * 1.1 or 1
    sx = lambda x: L + (x - x0) / ((x1 - x0) or 1) * (W - L - R)  # noqa
    sy = lambda y: H - B - y / y1 * (H - T - B)  # noqa
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" '
           f'height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" '
           'stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for i in range(6):
        y = y1 * i / 5
        out.append(f'<text x="{L - 5}" y="{sy(y) + 4:.1f}" '
                   f'text-anchor="end">{y:.0f}</text>')
    step = max(1, round((x1 - x0) / 8))
    t = int(x0)
    while t <= x1:
        out.append(f'<text x="{sx(t):.1f}" y="{H - B + 15}" '
                   f'text-anchor="middle">{t}</text>')
        t += step
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 8}" '
               'text-anchor="middle">seconds since post-copy started on '
               'the destination</text>')
    out.append(f'<text x="14" y="{(T + H - B) / 2}" transform="rotate(-90 '
               f'14 {(T + H - B) / 2})" text-anchor="middle">guest RAM '
               'resident on the destination (MiB)</text>')
    out.append(f'<line x1="{sx(0):.1f}" y1="{T}" x2="{sx(0):.1f}" '
               f'y2="{H - B}" stroke="#999" stroke-dasharray="3,3"/>')
    for k, r in enumerate(runs):
        c = colours.get(r["variant"], "#8c564b")
        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, rr in pts
                        if rr is r)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" '
                   f'points="{line}"/>')
        d = r["completed_s"] - r["postcopy_start_s"]
        out.append(f'<line x1="{sx(d):.1f}" y1="{T}" x2="{sx(d):.1f}" '
                   f'y2="{H - B}" stroke="{c}" stroke-dasharray="2,4"/>')
        if r.get("balloon_set_s") is not None:
            b = r["balloon_set_s"] - r["postcopy_start_s"]
            out.append(f'<circle cx="{sx(b):.1f}" cy="{T + 6}" r="4" '
                       f'fill="{c}"/>')
        label = r.get("label", r["variant"])
        out.append(f'<line x1="{W - R + 10}" y1="{T + 14 + 16 * k}" '
                   f'x2="{W - R + 30}" y2="{T + 14 + 16 * k}" stroke="{c}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{W - R + 35}" y="{T + 18 + 16 * k}">'
                   f'{label}</text>')
    if any(r.get("balloon_set_s") is not None for r in runs):
        out.append(f'<text x="{W - R + 10}" y="{T + 30 + 16 * len(runs)}">'
                   'dots: balloon set</text>')
    out.append(f'<text x="{W - R + 10}" y="{T + 44 + 16 * len(runs)}">'
               'dashes: completion</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--target", type=int, default=96,
                    help="balloon target, MiB")
    ap.add_argument("--period", type=float, default=0.1)
    ap.add_argument("--tail", type=float, default=20.0)
    ap.add_argument("--out", type=Path,
                    default=Path("bench-dest-resident.json"))
    ap.add_argument("--svg", type=Path, default=None)
    a = ap.parse_args()
    variants = [v for v in a.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        print(f"bench_dest_resident: unknown variant(s) {bad}; choose from "
              f"{', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if not 0.01 <= a.period <= 5:
        print("bench_dest_resident: --period must be 0.01-5 s",
              file=sys.stderr)
        return 2
    try:
        hosts = lh.load_hosts()
    except lh.Unavailable as e:
        print(f"bench_dest_resident: {e}", file=sys.stderr)
        return 2
    runs = [one_run(hosts, v, a.target, a.period, a.tail) for v in variants]
    a.out.write_text(json.dumps(runs))
    if a.svg:
        svg(runs, a.svg)
    print(json.dumps({r["variant"]: summary(r) for r in runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
