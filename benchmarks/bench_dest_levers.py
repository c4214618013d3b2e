#!/usr/bin/env python3
"""The destination's levers during post-copy, three ways: plain (the
driver only observes: reads the trace, classes the slices), reclaim
(cold pages paged out, bounded), reclaim + pre-paging (the trace's most
missed slices read ahead through ``process_vm_readv``).

Needs the two libvirt hosts of ``tools/services/30-libvirt-hosts.sh``
(``WA_STATE_DIR`` as when started; ``tools/bench-agent.sh`` starts them
when they are not running), libvirt-python and swap on the host.  Each
repetition boots a 256 MiB guest on A running ``wa-workload`` (16 MiB
hot set read and written at random, 128 MiB cold bulk, per-second
p50/p99 of its hot-page accesses on the serial console), sets QEMU's
``postcopy-blocktime`` capability on B through the second QMP monitor
as soon as B's QEMU is up (libvirt holds the job), migrates it with
post-copy (8 MiB/s pre-copy, switch after 3 s, ``--postcopy-mib`` MiB/s
post-copy) while the driver (:mod:`tests.functional.dest_levers`, its
own process) acts on B's QEMU, and samples B's guest-RAM resident size
every 100 ms until ``--settle`` s after completion.

Per variant, medians over repetitions: ``blocktime_ms`` (QEMU's
``postcopy-blocktime`` on B), ``total_s`` (migration call to RESUMED/
MIGRATED on B), ``downtime_ms`` (libvirt's job statistics), ``settled_
resident_mib`` (B's guest-RAM mapping ``--settle`` s after completion),
``p99_latency_ms_during`` (the highest per-second p99 of the guest's
hot-page accesses while post-copy ran, guest clock), ``agent_cpu_pct``
(the driver process, or for ``agent_reclaim`` the agent process,
% of one core from the migration call to completion), ``oom`` (any
repetition's guest or QEMU hit OOM), ``guest_blocking_faults`` (the
guest's page requests that waited for the source, from B's QEMU trace:
each run's ``faults`` in ``runs.json`` splits the requests into the
guest's and pre-paging's and gives the waits).  The ratios are
reclaim_prepaging / plain.  The last line of stdout is that JSON
object; progress goes to stderr.

Usage: WA_STATE_DIR=... python benchmarks/bench_dest_levers.py
       [--reps 3] [--settle 10] [--out DIR] [--prepage-in-flight N]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_dest_resident import Sampler  # noqa: E402
from bench_dest_resident import svg  # noqa: E402

from nova_hooks.agent.qmp import Qmp  # noqa: E402
from tests.functional import dest_levers as dl  # noqa: E402
from tests.functional import libvirt_hosts as lh  # noqa: E402

VARIANTS = {"plain": {}, "reclaim": {"quota_mib": 32},
            "reclaim_prepaging": {"quota_mib": 32,
                                  "prepage_pages_per_s": 2048},
            # the same reclaim bounds, made by nova-adaptive-agent itself
            # (its reducer, one round a second while post-copy runs)
            # instead of the driver: its CPU is the agent's whole cost
            "agent_reclaim": {"quota_mib": 32, "agent": True}}
MEMORY_MIB = 256
WORKLOAD = (16, 128, 0)


def say(msg: str) -> None:
    print(f"[bench-dest-levers {time.strftime('%H:%M:%S')}] {msg}",
          file=sys.stderr, flush=True)


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_REQUEST = re.compile(r"@(\d+\.\d+):postcopy_ram_fault_thread_request "
                      r"Request for HVA=0x([0-9a-f]+) .*?pid=(\d+)")
_PLACED = re.compile(r"@(\d+\.\d+):postcopy_place_page(?:_zero)? "
                     r"host=0x([0-9a-f]+)")
#: a request answered later than this waited for the source (one
#: answered sooner was already on its way in the background stream)
BLOCKING_S = 0.02


def fault_waits(log: str, qemu_tids: set[int]) -> dict:
    """The post-copy page requests in B's QEMU trace, split into the
    guest's own (made by QEMU's threads) and pre-paging's, and how long
    each of the guest's waited for its page to be placed."""
    placed: dict[int, float] = {}
    requests = []
    for line in log.splitlines():
        m = _REQUEST.search(line)
        if m:
            requests.append((float(m.group(1)), int(m.group(2), 16) & ~4095,
                             int(m.group(3))))
            continue
        m = _PLACED.search(line)
        if m:
            placed.setdefault(int(m.group(2), 16), float(m.group(1)))
    guest = [(t, a) for t, a, tid in requests if tid in qemu_tids]
    waits = [placed[a] - t for t, a in guest if placed.get(a, -1.0) >= t]
    blocking = sorted(w for w in waits if w > BLOCKING_S)
    return {"guest_requests": len(guest),
            "prepage_requests": len(requests) - len(guest),
            "guest_blocking": len(blocking),
            "guest_blocking_median_ms": round(
                1000 * statistics.median(blocking), 1) if blocking else None,
            "guest_blocking_sum_s": round(sum(blocking), 2)}


def set_blocktime(sock: Path, stop: threading.Event, box: dict) -> None:
    """``postcopy-blocktime`` on B's QEMU, as soon as its second monitor
    answers (before post-copy starts listening)."""
    while not stop.is_set():
        try:
            Qmp(str(sock), 0.5).execute("migrate-set-capabilities", {
                "capabilities": [{"capability": "postcopy-blocktime",
                                  "state": True}]})
            box["blocktime_set"] = time.monotonic()
            return
        except Exception:  # noqa: BLE001, S110 (not up yet)
            pass
        time.sleep(0.05)


def agent_conf(hosts: dict, tmp: Path, quota_mib: float) -> Path:
    """``nova-adaptive-agent``'s configuration on B: reclaim on with the
    driver's bounds, the other levers off, no broker."""
    b = hosts["hosts"]["B"]
    conf = tmp / "agent.conf"
    conf.write_text(f"""[DEFAULT]
log_file = {tmp / 'agent.log'}
[agent]
libvirt_uri = {b['uri']}
guests = all
journal_path = {tmp / 'journal.jsonl'}
qemu_run_dir = {b['qemu_run_dir']}
qemu_log_dir = {b['serial_dir']}
hook_marker_dir = {tmp / 'markers'}
[page_sampling]
backends = postcopy_trace
[resource_manager]
pinning_enabled = false
balloon_enabled = false
reclaim_enabled = true
reclaim_quota_mib_per_s = {quota_mib}
reclaim_headroom_mib = 16
""")
    return conf


def start_agent(conf: Path, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "nova_hooks.cmd.agent",
                             "--config-file", str(conf)], cwd=ROOT,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and "nova-adaptive-agent up" in log.read_text():
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the agent did not come up: "
                       f"{log.read_text()[-2000:] if log.exists() else ''}")


def agent_summary(journal: Path) -> dict:
    """What the agent's journal says reclaim did."""
    recs = [json.loads(x) for x in journal.read_text().splitlines() if x] \
        if journal.exists() else []
    done = [r for r in recs if r["kind"] == "done"
            and r.get("action") == "page_out"]
    return {"rounds": len(done),
            "paged_bytes": sum(r["after"]["bytes"] for r in done)}


def one_run(hosts: dict, variant: str, rep: int, postcopy_mib: int,
            settle_s: float, outdir: Path, in_flight: int = 1) -> dict:
    name = f"wa-lev-{variant[:8]}-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="wa-lev-", dir=outdir))
    opts = VARIANTS[variant]
    say(f"{variant} #{rep}: booting {name} (256 MiB, 16 hot / 128 cold)")
    driver = None
    try:
        lh.start_guest(hosts, name, "A", second_monitor=True,
                       trace_postcopy=True, workload=WORKLOAD,
                       memory_mib=MEMORY_MIB, boot_timeout_s=240)
        deadline = time.monotonic() + 240
        while not lh.workload_ready(hosts, "A", name):
            if time.monotonic() > deadline:
                raise RuntimeError("wa-workload not ready on A")
            time.sleep(0.5)
        time.sleep(3)                    # a few latency lines on A
        stop_file = tmp / "stop"
        if opts.get("agent"):
            driver = start_agent(agent_conf(hosts, tmp, opts["quota_mib"]),
                                 tmp / "agent.log")
        cmd = [sys.executable, "-m", "tests.functional.dest_levers",
               "--name", name, "--journal", str(tmp / "journal.jsonl"),
               "--out", str(tmp / "driver.json"),
               "--stop-file", str(stop_file),
               "--guest-mib", str(MEMORY_MIB)]
        if opts.get("quota_mib"):
            cmd += ["--quota-mib", str(opts["quota_mib"])]
        if opts.get("prepage_pages_per_s"):
            cmd += ["--prepage-pages-per-s",
                    str(opts["prepage_pages_per_s"]),
                    "--prepage-in-flight", str(in_flight)]
        if driver is None:
            driver = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy())
        time.sleep(3)                    # its imports are not its cost
        t0 = time.monotonic()
        sampler = Sampler(hosts, name, 0.1, t0)
        # no balloon reads: B's second monitor serves one client at a
        # time, and the driver and the blocktime switch use it
        sampler.qmp = tmp / "no-balloon-reads"
        sampler.start()
        stop_bt = threading.Event()
        box: dict = {}
        sock = Path(hosts["hosts"]["B"]["qemu_run_dir"]) / f"{name}.qmp2"
        threading.Thread(target=set_blocktime, args=(sock, stop_bt, box),
                         daemon=True).start()
        cpu0 = cpu_s(driver.pid)
        say(f"{variant} #{rep}: migrating A -> B")
        tl = lh.postcopy_migrate(hosts, name, "A", "B",
                                 postcopy_bandwidth_mib=postcopy_mib)
        cpu1, t1 = cpu_s(driver.pid), time.monotonic()
        stop_bt.set()
        pid_b = dl.qemu_pid(hosts, "B", name)
        tids = {int(t) for t in os.listdir(f"/proc/{pid_b}/task")} \
            if pid_b else set()
        if not tl["ok"]:
            raise RuntimeError(f"migration failed: {tl['error']}")
        blocktime = None
        try:
            info = Qmp(str(sock), 2.0).execute("query-migrate")
            blocktime = info.get("postcopy-blocktime")
        except Exception as e:  # noqa: BLE001 (recorded)
            say(f"query-migrate on B: {e}")
        # the driver goes on through the settling time (reclaim keeps
        # the cold pages that arrived late out); its CPU is counted
        # during the migration only
        time.sleep(settle_s)
        stop_file.touch()
        if opts.get("agent"):
            driver.terminate()
        driver.wait(60)
        sampler.stop.set()
        sampler.join()
        shift = tl["t0_wall"] - (time.time() - (time.monotonic() - t0))
        pc, done = tl["postcopy_on_dst"] + shift, tl["resumed_on_dst"] + shift
        lat_b = lh.workload_lines(hosts, "B", name)
        n_during = max(1, int(round(done - pc)))
        during = lat_b[:n_during]
        serial = (lh.serial_log(hosts, "A", name).read_text(errors="replace")
                  + lh.serial_log(hosts, "B", name).read_text(
                      errors="replace"))
        ram = [s["guest_ram_mib"] for s in sampler.samples
               if s.get("guest_ram_mib") is not None]
        drv = json.loads((tmp / "driver.json").read_text()) \
            if (tmp / "driver.json").exists() else {}
        if opts.get("agent"):
            drv = agent_summary(tmp / "journal.jsonl")
        job = tl.get("job_completed") or {}
        log_b = Path(hosts["hosts"]["B"]["serial_dir"]) / f"{name}.log"
        faults = fault_waits(log_b.read_text(errors="replace"), tids) \
            if log_b.exists() else {}
        r = {"variant": variant, "label": variant, "rep": rep, "name": name,
             "max_latency_ms_during": max(x["max_us"] for x in during)
             / 1000 if during else None,
             "blocktime_ms": blocktime,
             "total_s": tl["resumed_on_dst"],
             "postcopy_s": round(done - pc, 2),
             "downtime_ms": job.get("downtime"),
             "settled_resident_mib": round(ram[-1], 1) if ram else None,
             "p99_latency_ms_during": max(x["p99_us"] for x in during)
             / 1000 if during else None,
             "p50_latency_ms_during": statistics.median(
                 x["p50_us"] for x in during) / 1000 if during else None,
             "p99_latency_ms_before": statistics.median(
                 x["p99_us"] for x in lh.workload_lines(hosts, "A", name)
                 [-5:]) / 1000,
             "agent_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
             "oom": "Out of memory" in serial,
             "faults": faults,
             "driver": drv, "postcopy_start_s": round(pc, 3),
             "completed_s": round(done, 3), "balloon_set_s": None,
             "samples": sampler.samples}
        say(f"{variant} #{rep}: blocktime {blocktime} ms, post-copy "
            f"{r['postcopy_s']} s, settled {r['settled_resident_mib']} MiB,"
            f" p99 {r['p99_latency_ms_during']} ms, driver "
            f"{r['agent_cpu_pct']} % CPU, {drv}, faults {faults}")
        return r
    finally:
        if driver is not None and driver.poll() is None:
            (tmp / "stop").touch()
            if opts.get("agent"):
                driver.terminate()
            try:
                driver.wait(30)
            except subprocess.TimeoutExpired:
                driver.kill()
        lh.remove_guest(hosts, name)


def median(runs: list[dict], key: str):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(vals), 3) if vals else None


def ratio(a, b):
    return None if a is None or not b else round(a / b, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--settle", type=float, default=10.0)
    ap.add_argument("--postcopy-mib", type=int, default=8)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--prepage-in-flight", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench-dest-levers"))
    a = ap.parse_args()
    variants = [v for v in a.variants.split(",") if v]
    if a.reps < 1 or any(v not in VARIANTS for v in variants):
        print(f"bench_dest_levers: --reps >= 1 and variants among "
              f"{', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if os.environ.get("WA_BENCH_CHECK_ARGS_ONLY"):
        return 0                        # tools/bench-agent.sh, first
    try:
        hosts = lh.load_hosts()
    except lh.Unavailable as e:
        print(f"bench_dest_levers: {e}", file=sys.stderr)
        return 2
    if dl.swap_total_kib() == 0:
        print("bench_dest_levers: no swap on this host (MADV_PAGEOUT of "
              "anonymous guest RAM needs swap or zswap; tools/bench-agent.sh"
              " adds a swap file)", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    # interleaved, so that the machine's load drifts over all variants
    for rep in range(1, a.reps + 1):
        for v in variants:
            runs.append(one_run(hosts, v, rep, a.postcopy_mib, a.settle,
                                a.out, a.prepage_in_flight))
            (a.out / "runs.json").write_text(json.dumps(runs))
    svg([r for r in runs if r["rep"] == 1], a.out / "resident.svg")
    keys = ("blocktime_ms", "total_s", "downtime_ms", "settled_resident_mib",
            "p99_latency_ms_during", "agent_cpu_pct")
    out: dict = {"repetitions": a.reps, "variants": {}}
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        out["variants"][v] = {k: median(rs, k) for k in keys}
        out["variants"][v]["oom"] = any(r["oom"] for r in rs)
        # the guest's page requests that waited for the source
        out["variants"][v]["guest_blocking_faults"] = median(
            [r["faults"] for r in rs if r.get("faults")], "guest_blocking")
    p = out["variants"].get("plain", {})
    rp = out["variants"].get("reclaim_prepaging", {})
    out["blocktime_ratio"] = ratio(rp.get("blocktime_ms"),
                                   p.get("blocktime_ms"))
    out["settled_resident_ratio"] = ratio(rp.get("settled_resident_mib"),
                                          p.get("settled_resident_mib"))
    out["p99_ratio"] = ratio(rp.get("p99_latency_ms_during"),
                             p.get("p99_latency_ms_during"))
    out["oom_any"] = any(r["oom"] for r in runs)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
