#!/usr/bin/env python3
"""The destination agent on a real post-copy migration, with and without
it: reaction latency, its own cost, the guest's memory and workload.

Needs the two libvirt hosts of ``tools/services/30-libvirt-hosts.sh``
(``WA_STATE_DIR`` as when it was started) and libvirt-python.  Each run
boots the tiny TCG guest on host A, live-migrates it to host B (post-copy
after 3 s, as the functional tests do), lets it settle, and measures:

* reaction latency: libvirt's RESUMED/POSTCOPY on B to the agent's first
  change (journal), target <= 1 s;
* the agent process's CPU (% of one core) while it samples the guest
  every second in steady state (the last two thirds of the settling
  time) and its peak RSS, targets <= 1 % and <= 150 MB;
* QEMU's RSS on B after settling, with and without the agent, and the
  resident part of its guest-RAM mapping alone (the process RSS also
  holds TCG's translation cache, which varies by tens of MiB);
* the guest's workload (its loop writes 8 MiB to tmpfs, prints a
  heartbeat, sleeps 1 s): heartbeats per second and the busy time per
  iteration (guest uptime step minus the 1 s sleep) before, during and
  after the migration; target: within 5 % of the run without the agent.

Usage: WA_STATE_DIR=... python benchmarks/bench_agent_migration.py
       [--runs 2] [--settle 40]

Progress and a table of medians go to stderr; stdout is one JSON object
on one line: the medians per variant, the agent's own figures and their
targets.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.functional import libvirt_hosts as lh  # noqa: E402

HB = re.compile(r"HB (\d+) ([0-9.]+)")


class Heartbeats(threading.Thread):
    """Timestamps (wall clock) each heartbeat as it appears on A or B."""

    def __init__(self, hosts, name):
        super().__init__(daemon=True)
        self.hosts, self.name = hosts, name
        self.seen: dict[int, tuple[float, float]] = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.1):
            now = time.time()
            for host in ("A", "B"):
                try:
                    text = lh.serial_log(self.hosts, host, self.name) \
                        .read_text(errors="replace")
                except FileNotFoundError:
                    continue
                for n, up in HB.findall(text):
                    self.seen.setdefault(int(n), (now, float(up)))

    def window(self, lo: float, hi: float) -> dict:
        beats = sorted((w, n, up) for n, (w, up) in self.seen.items()
                       if lo <= w < hi)
        pairs = zip(beats, beats[1:], strict=False)
        busy = [b[2] - a[2] - 1.0 for a, b in pairs if b[1] == a[1] + 1]
        return {"beats_per_s": len(beats) / max(hi - lo, 1e-9),
                "busy_s": statistics.median(busy) if busy else None}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def guest_ram_rss_mib(pid: int, guest_mib: int) -> float:
    """Resident MiB of QEMU's guest-RAM mapping alone (smaps): the
    process RSS also holds TCG's translation cache, which differs from
    run to run by tens of MiB."""
    rss, in_ram = 0.0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                in_ram = (hi - lo) >= guest_mib * 1024 * 1024 // 2 \
                    and head[1].startswith("rw")
            elif in_ram and head[0] == "Rss:":
                rss = max(rss, int(head[1]) / 1024)
    return rss


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BACKENDS = None


def start_agent(tmp: Path, hosts: dict) -> tuple[subprocess.Popen, Path]:
    b = hosts["hosts"]["B"]
    journal, log = tmp / "journal.jsonl", tmp / "agent.log"
    conf = tmp / "agent.conf"
    conf.write_text(f"""[DEFAULT]
log_file = {log}
[agent]
libvirt_uri = {b['uri']}
# the benchmark's guests are not Nova's instances
guests = all
journal_path = {journal}
qemu_run_dir = {b['qemu_run_dir']}
qemu_log_dir = {b['serial_dir']}
hook_marker_dir = {tmp / 'markers'}
steady_manage_s = 3600
[page_sampling]
interval_s = 1
{f"backends = {BACKENDS}" if BACKENDS else ""}
[resource_manager]
balloon_floor_mib = 96
guest_cpus = {max(os.sched_getaffinity(0))}
""")
    proc = subprocess.Popen([sys.executable, "-m", "nova_hooks.cmd.agent",
                             "--config-file", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and "nova-adaptive-agent up" in log.read_text():
            return proc, journal
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"agent did not start:\n{log.read_text()}")


def one_run(hosts: dict, with_agent: bool, settle_s: float) -> dict:
    name = f"wa-bench-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="wa-bench-"))
    agent = journal = None
    if with_agent:
        agent, journal = start_agent(tmp, hosts)
    beats = Heartbeats(hosts, name)
    try:
        lh.start_guest(hosts, name, "A")
        beats.start()
        time.sleep(10)                       # the "before" window
        tl = lh.postcopy_migrate(hosts, name, "A", "B")
        if not tl["ok"]:
            raise SystemExit(f"migration failed: {tl['error']}")
        t0 = tl["t0_wall"]
        done = t0 + tl["resumed_on_dst"]
        peak_rss = 0.0
        settle_end = time.time() + settle_s
        # steady state: from a third into the settling time (completion
        # handling and the first balloon steps are over by then)
        steady_from = time.time() + settle_s / 3
        cpu0 = None
        while time.time() < settle_end:
            if agent:
                peak_rss = max(peak_rss, rss_mib(agent.pid))
                if cpu0 is None and time.time() >= steady_from:
                    cpu0, cpu_t0 = cpu_s(agent.pid), time.time()
            time.sleep(1)
        out = {
            "with_agent": with_agent,
            "migration_s": tl["resumed_on_dst"],
            "postcopy_s": tl["resumed_on_dst"] - tl["postcopy_on_dst"],
            "before": beats.window(t0 - 10, t0),
            "during": beats.window(t0, done),
            "after": beats.window(done, done + settle_s),
        }
        pid = lh_qemu_pid(hosts, name)
        out["qemu_rss_b_mib"] = rss_mib(pid)
        out["guest_ram_rss_b_mib"] = guest_ram_rss_mib(
            pid, hosts["guest"]["memory_mib"])
        with lh.connection(hosts, "B") as conn:
            out["balloon_mib"] = conn.lookupByName(name).info()[2] / 1024
        if agent:
            out["agent_cpu_pct"] = 100 * (cpu_s(agent.pid) - cpu0) / (
                time.time() - cpu_t0)
            out["agent_peak_rss_mib"] = peak_rss
            records = [json.loads(x) for x in journal.read_text().split("\n")
                       if x.strip()]
            first = min((r["ts"] for r in records if r["kind"] == "done"),
                        default=None)
            pc = t0 + tl["postcopy_on_dst"]
            out["reaction_ms"] = None if first is None \
                else 1000 * (first - pc)
            rounds = [r["after"]["round_ms"] for r in records
                      if r["kind"] == "observe"]
            out["journal_observe_records"] = len(rounds)
        return out
    finally:
        beats.stop.set()
        if agent:
            agent.terminate()
            agent.wait(timeout=60)
        lh.remove_guest(hosts, name)


def lh_qemu_pid(hosts: dict, name: str) -> int:
    from nova_hooks.agent import qemu

    return qemu.qemu_pid(hosts["hosts"]["B"]["qemu_run_dir"], name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--settle", type=float, default=40.0)
    parser.add_argument("--backends", default=None,
                        help="[page_sampling] backends of the agent "
                             "(default: the agent's own default)")
    parser.add_argument("--agent-only", action="store_true",
                        help="skip the runs without the agent")
    args = parser.parse_args(argv)
    global BACKENDS
    BACKENDS = args.backends
    hosts = lh.load_hosts()
    results = []
    for i in range(args.runs):
        for with_agent in ((True,) if args.agent_only else (False, True)):
            print(f"run {i + 1}/{args.runs}, "
                  f"{'with' if with_agent else 'without'} agent ...",
                  file=sys.stderr, flush=True)
            r = one_run(hosts, with_agent, args.settle)
            print("  " + json.dumps(r), file=sys.stderr, flush=True)
            results.append(r)

    def med(key, agent, sub=None):
        vals = [(r[key][sub] if sub else r[key]) for r in results
                if r["with_agent"] is agent]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def show(value, fmt):
        return "n/a".rjust(10) if value is None else format(value, fmt)

    medians = {}
    for label, agent in (("without_agent", False), ("with_agent", True)):
        medians[label] = {
            **{f"{phase}_{sub}": med(phase, agent, sub)
               for phase in ("before", "during", "after")
               for sub in ("beats_per_s", "busy_s")},
            **{key: med(key, agent)
               for key in ("migration_s", "qemu_rss_b_mib",
                           "guest_ram_rss_b_mib", "balloon_mib")}}
    agent = {"reaction_ms": med("reaction_ms", True),
             "agent_cpu_pct": med("agent_cpu_pct", True),
             "agent_peak_rss_mib": med("agent_peak_rss_mib", True)}
    # the human-readable table goes to stderr; stdout is one JSON line
    print("\nmedians            without agent   with agent",
          file=sys.stderr)
    for key in medians["with_agent"]:
        print(f"  {key:22} {show(medians['without_agent'][key], '10.3f')}"
              f"   {show(medians['with_agent'][key], '10.3f')}",
              file=sys.stderr)
    print(f"  agent reaction     {show(agent['reaction_ms'], '10.1f')} ms "
          "(target <= 1000)", file=sys.stderr)
    print(f"  agent CPU          {show(agent['agent_cpu_pct'], '10.2f')} % "
          "of a core at 1 s sampling (target <= 1)", file=sys.stderr)
    print(f"  agent peak RSS     "
          f"{show(agent['agent_peak_rss_mib'], '10.1f')} MiB "
          "(target <= 150)", file=sys.stderr)
    print(json.dumps({"runs": args.runs, "settle_s": args.settle,
                      "medians": medians, **agent,
                      "targets": {"reaction_ms": 1000, "agent_cpu_pct": 1.0,
                                  "agent_peak_rss_mib": 150}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
