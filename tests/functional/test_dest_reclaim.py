"""Cold-page reclaim and pre-paging on the destination QEMU during a real
post-copy migration between the two local libvirt hosts (256 MiB TCG
guest running ``wa-workload``: a 16 MiB hot set, a 128 MiB cold bulk).

* reclaim never pages out a page of a range the agent classes hot
  (pagemap: no hot page present before a round is swapped after it) and
  its quota and floor hold while the guest dirties memory fast;
* a cancelled migration (destination killed mid-post-copy) leaves
  nothing of what reclaim did on host B, and the guest runs on A;
* pre-paging stops when the ranking misses;
* the agent itself (``nova-adaptive-agent`` with ``[resource_manager]
  reclaim_enabled``) pages cold guest RAM out while post-copy runs,
  within its quota and floor, never a range it located hot or warm.

Needs swap on the host for ``MADV_PAGEOUT``: when there is none, the
module adds a swap file of its own (root) and removes it afterwards.
"""
from __future__ import annotations

import json
import subprocess
import threading
import uuid

import pytest

from nova_hooks.core import prepage as prepage_core
from nova_hooks.core import reclaim as reclaim_core
from tests.functional import dest_levers as dl
from tests.functional import libvirt_hosts as lh
from tests.functional.test_destination_agent import Agent

pytestmark = [pytest.mark.functional, pytest.mark.slow]

MIB = 1 << 20
MEMORY_MIB = 256
WORKLOAD = (16, 128, 0)          # hot MiB, cold MiB, dirty MiB/s


@pytest.fixture(scope="module")
def hosts(libvirt_hosts_env):
    return libvirt_hosts_env


@pytest.fixture(scope="module")
def swap(tmp_path_factory):
    """Swap on the host (MADV_PAGEOUT needs it for anonymous memory)."""
    if dl.swap_total_kib() > 0:
        yield "present"
        return
    path = tmp_path_factory.mktemp("swap") / "swapfile"
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M",
                        "count=256", "status=none"], check=True)
        path.chmod(0o600)
        subprocess.run(["mkswap", str(path)], check=True,
                       capture_output=True)
        subprocess.run(["swapon", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no swap and none can be added here: {e}")
    try:
        yield str(path)
    finally:
        subprocess.run(["swapoff", str(path)], check=False)
        path.unlink()


@pytest.fixture
def guest(hosts):
    name = f"wa-reclaim-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        lh.remove_guest(hosts, name)


def _boot(hosts, name, workload=WORKLOAD):
    lh.start_guest(hosts, name, "A", second_monitor=True,
                   trace_postcopy=True, workload=workload,
                   memory_mib=MEMORY_MIB, boot_timeout_s=180)
    deadline = 240
    import time
    t0 = time.monotonic()
    while not lh.workload_ready(hosts, "A", name):
        assert time.monotonic() - t0 < deadline, \
            lh.serial_log(hosts, "A", name).read_text()[-2000:]
        time.sleep(0.5)


def _migrate_with(hosts, name, tmp_path, reclaim=None, prepage=None,
                  postcopy_mib=8, **kw):
    stop = threading.Event()
    box: dict = {}

    def levers():
        box["run"] = dl.drive(hosts, name, str(tmp_path / "levers.jsonl"),
                              reclaim, prepage, stop, **kw)
    t = threading.Thread(target=levers, daemon=True)
    t.start()
    try:
        tl = lh.postcopy_migrate(hosts, name, "A", "B",
                                 postcopy_bandwidth_mib=postcopy_mib)
    finally:
        stop.set()
        t.join(120)
    return tl, box.get("run"), _journal(tmp_path / "levers.jsonl")


def _journal(path):
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


@pytest.mark.timeout(600)
def test_reclaim_never_touches_hot_pages_and_its_quota_holds_while_the_guest_dirties_fast(  # noqa: E501
        hosts, guest, swap, tmp_path):
    quota = 8 * MIB
    policy = reclaim_core.ReclaimPolicy(quota_bytes_per_s=quota,
                                        headroom_bytes=16 * MIB)
    # the guest writes 32 MiB/s on top of its hot set
    _boot(hosts, guest, workload=(16, 128, 32))
    tl, run, journal = _migrate_with(hosts, guest, tmp_path,
                                     reclaim=policy, verify_hot=True)
    assert tl["ok"], tl
    assert run is not None and run.error is None, run and run.error
    paged = [r for r in run.rounds if r.get("bytes")]
    print("rounds", len(run.rounds), "paged rounds", len(paged),
          "MiB paged", sum(r["bytes"] for r in paged) / MIB,
          "hot MiB at the end", reclaim_core.total(run.rounds[-1]["hot"])
          / MIB, "hot pages checked",
          sum(r.get("hot_present_before", 0) for r in run.rounds),
          "agent CPU s", round(run.cpu_s, 2), "of", round(run.wall_s, 1))
    # reclaim did page out during post-copy ...
    assert paged, [r.get("reason") for r in run.rounds]
    hot_seen = [r for r in run.rounds if r["hot"]]
    assert hot_seen, "the trace never classed a slice hot"
    for r in run.rounds:
        # ... never a page of a range classed hot in that round ...
        assert not reclaim_core.intersect(r.get("ranges", ()), r["hot"])
        # ... and no hot page present before the round was swapped after
        # it (pagemap, read around the process_madvise call)
        assert r.get("hot_swapped_after", 0) == 0, r
    # the quota per one-second window, from the journal's intents
    per_window: dict = {}
    for r in paged:
        per_window[r["window_start"]] = r["window_bytes"]
    assert max(per_window.values()) <= quota, per_window
    intents = [j for j in journal if j["kind"] == "intent"
               and j["action"] == "reclaim"]
    assert intents and all(j["bounds"]["quota_bytes_per_s"] == quota
                           for j in intents)
    # the floor: what stayed resident never went below hot+warm+headroom
    for j in intents:
        assert j["bounds"]["resident_bytes"] - j["bytes"] >= \
            j["bounds"]["floor_bytes"]
    done = [j for j in journal if j["kind"] == "done"
            and j["action"] == "reclaim"]
    assert len(done) == len(intents)
    # the guest carried on on B
    last_a = max(lh.heartbeats(hosts, "A", guest))
    lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)


@pytest.mark.timeout(600)
def test_destination_killed_mid_postcopy_leaves_nothing_of_reclaim(
        hosts, guest, swap, tmp_path):
    """Kill B's QEMU once reclaim paged something out: its pages and
    swap slots go with it, no process of the guest is left on B, and
    libvirt fails the migration (the guest cannot come back to A after
    post-copy began: it is lost, as with any post-copy failure; what is
    checked here is that the agent's work does not outlive it)."""
    import os
    import signal
    import time

    policy = reclaim_core.ReclaimPolicy(quota_bytes_per_s=16 * MIB,
                                        headroom_bytes=16 * MIB)
    _boot(hosts, guest)
    killed: dict = {}

    def kill_when_paged(run, rnd):
        if rnd.get("bytes") and "pid" not in killed:
            pid = dl.qemu_pid(hosts, "B", guest)
            killed["pid"] = pid
            killed["swapped"] = len(dl.swapped_ranges(pid,
                                                      run.reclaimer.ram))
            os.kill(pid, signal.SIGKILL)
    tl, run, journal = _migrate_with(hosts, guest, tmp_path,
                                     reclaim=policy, postcopy_mib=4,
                                     check=kill_when_paged)
    assert "pid" in killed, run and [r.get("reason") for r in run.rounds]
    assert killed["swapped"] > 0
    assert not tl["ok"]
    # undo on failure: the process is gone, the undo says so
    assert run.reclaimer.undo("migration failed") == 0
    journal = _journal(tmp_path / "levers.jsonl")
    deadline = time.monotonic() + 60
    while os.path.exists(f"/proc/{killed['pid']}") and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{killed['pid']}")
    assert guest not in lh.active_domains(hosts, "B")
    failed = [j for j in journal if j["kind"] == "failed"
              and j["action"] == "reclaim_undo"]
    assert failed, journal


@pytest.mark.timeout(600)
def test_prepaging_stops_when_the_ranking_misses(hosts, guest, swap,
                                                 tmp_path):
    """A ranking that names only the slices the guest does not touch
    (the reverse of the trace's): the guest's faults land outside it,
    and pre-paging stops on its own before the migration ends."""
    policy = prepage_core.PrepagePolicy(pages_per_s=64, min_faults=16,
                                        max_miss_share=0.5, window=5)
    guest_bytes = MEMORY_MIB * MIB

    def wrong(missed, size):
        good = {s for s, _ in dl.ranking(missed, size)}
        step = -(-size // dl.N_SLICES)
        return tuple((i * step, step) for i in range(dl.N_SLICES)
                     if i * step not in good)[::-1]

    _boot(hosts, guest)
    tl, run, journal = _migrate_with(hosts, guest, tmp_path,
                                     prepage=policy, rank=wrong,
                                     guest_bytes=guest_bytes)
    assert tl["ok"], tl
    assert run is not None and run.prepager is not None
    assert run.prepager.state.stopped.startswith("ranking misses"), \
        run.prepager.state
    stops = [j for j in journal if j["kind"] == "stop"]
    assert len(stops) == 1 and stops[0]["reason"].startswith(
        "ranking misses")
    # it stopped while post-copy still ran: nothing was asked after it
    after = [j for j in journal if j["kind"] == "intent"
             and j["action"] == "prepage" and j["ts"] > stops[0]["ts"]]
    assert after == []


@pytest.fixture(scope="module")
def transport_url(rabbit_transport_url) -> str:
    return rabbit_transport_url


@pytest.mark.timeout(900)
def test_the_agent_pages_out_cold_guest_ram_during_postcopy(
        hosts, guest, swap, tmp_path, transport_url):
    """The product path: the agent's reducer plans each round from the
    ranges its ``postcopy_trace`` backend located, the executor pages
    them out through ``process_madvise``, the journal holds every round
    with its bounds."""
    quota = 16 * MIB
    agent = Agent(tmp_path, hosts, transport_url,
                  backends="postcopy_trace,numa_maps",
                  resource_manager="reclaim_enabled = true\n"
                                   "reclaim_quota_mib_per_s = 16\n"
                                   "reclaim_headroom_mib = 16\n"
                                   "balloon_enabled = false")
    agent.start()
    try:
        _boot(hosts, guest)
        tl = lh.postcopy_migrate(hosts, guest, "A", "B",
                                 postcopy_bandwidth_mib=8)
        assert tl["ok"], tl
        pid = dl.qemu_pid(hosts, "B", guest)
        swapped = dl.swapped_ranges(pid, dl.adapter.guest_ram(
            pid, MEMORY_MIB * MIB))
        records = agent.records()
    finally:
        agent.stop()
    t0 = tl["t0_wall"]
    pc_start = t0 + tl["postcopy_requested"]
    pc_end = t0 + tl["resumed_on_dst"]
    intents = [r for r in records if r["kind"] == "intent"
               and r.get("action") == "page_out"]
    done = [r for r in records if r["kind"] == "done"
            and r.get("action") == "page_out"]
    print("page_out rounds", len(intents), "MiB",
          sum(r["after"]["bytes"] for r in intents) / MIB,
          "swapped on B after completion MiB",
          reclaim_core.total(swapped) / MIB)
    # rounds were made while post-copy ran, each done, each journaled
    assert intents, agent.logs()[-3000:]
    assert len(done) == len(intents)
    assert all(r["channel"] == "madvise" for r in intents)
    assert all(pc_start - 1 <= r["ts"] <= pc_end + 1 for r in intents), \
        (pc_start, pc_end, [r["ts"] for r in intents])
    per_window: dict = {}
    for r in intents:
        v = r["after"]
        ranges = reclaim_core.ranges_of(v)
        # never a byte the round located hot or warm
        assert not reclaim_core.intersect(
            ranges, [tuple(x) for x in v["protected"]])
        assert v["bounds"]["quota_bytes_per_s"] == quota
        assert v["bounds"]["resident_bytes"] - v["bytes"] >= \
            v["bounds"]["floor_bytes"]
        per_window[v["window_start"]] = v["window_bytes"]
    assert max(per_window.values()) <= quota, per_window
    # and the kernel took them: B's QEMU holds pages in swap
    assert reclaim_core.total(swapped) > 0
    # the guest carried on on B
    last_a = max(lh.heartbeats(hosts, "A", guest))
    lh.wait_heartbeats(hosts, "B", guest, above=last_a, count=2)


@pytest.mark.timeout(900)
def test_the_agents_reclaim_does_not_outlive_a_destination_killed_mid_postcopy(  # noqa: E501
        hosts, guest, swap, tmp_path, transport_url):
    """B's QEMU killed once the agent paged guest RAM out: the agent's
    session is restored (its ``page_in`` finds the guest gone or fails
    on the missing process, and says so in the journal) and no process
    of the guest, with its pages and swap slots, is left on B."""
    import os
    import signal
    import time

    agent = Agent(tmp_path, hosts, transport_url,
                  backends="postcopy_trace,numa_maps",
                  resource_manager="reclaim_enabled = true\n"
                                   "balloon_enabled = false")
    agent.start()
    box: dict = {}
    try:
        _boot(hosts, guest)

        def migrate():
            box["tl"] = lh.postcopy_migrate(hosts, guest, "A", "B",
                                            postcopy_bandwidth_mib=4)
        t = threading.Thread(target=migrate, daemon=True)
        t.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and t.is_alive() and not any(
                r["kind"] == "done" and r.get("action") == "page_out"
                for r in agent.records()):
            time.sleep(0.1)
        pid = dl.qemu_pid(hosts, "B", guest)
        assert pid is not None and t.is_alive(), \
            "the migration ended before the agent paged anything out"
        os.kill(pid, signal.SIGKILL)
        t.join(300)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                r["kind"] == "close" for r in agent.records()):
            time.sleep(0.2)
        records = agent.records()
    finally:
        agent.stop()
    assert not box["tl"]["ok"]
    closes = [r for r in records if r["kind"] == "close"]
    assert closes and closes[-1]["detail"].startswith("restored"), records
    back = [r for r in records if r.get("action") == "page_in"]
    assert back, records
    assert back[-1]["kind"] == "failed" or \
        back[-1]["detail"] == "guest gone", back
    assert not os.path.exists(f"/proc/{pid}")
    assert guest not in lh.active_domains(hosts, "B")
