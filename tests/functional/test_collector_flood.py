"""Fifty guests against one collector (hardening case "collector-flood").

One collector process serves 50 guests and pushes to the real Gnocchi:
real guest agents (the zipapp, each its own process) and emulated
well-behaved guests send valid records at their configured rate, while
flooders send ten times the rate the collector allows each guest, half
of it hostile (every kind the record parser refuses, 64-300 KB lines
among them), and each holds one more connection than it may.  The
well-behaved guests' records must all land, each flooder must be held
to its own token bucket, and the collector's memory must stay bounded.
"""
from __future__ import annotations

import collections
import time
import uuid

import pytest

from tests.functional import guest_traffic
from tests.functional.collector_process import Collector
from tests.functional.collector_process import landed
from tests.functional.collector_process import make_instances
from tests.functional.collector_process import run_agent
from tests.functional.collector_process import start_traffic
from tests.functional.collector_process import traffic_report
from watcher_adaptive.profiler import channels
from watcher_adaptive.profiler import record as R

pytestmark = [pytest.mark.functional, pytest.mark.slow]

SECONDS = 30            # of traffic
AGENTS = 8              # real guest agents, a process each
STEADY = 32             # emulated well-behaved guests, one process
FLOODERS = 10           # flooders, another process
#: each guest's allowance at the collector, a well-behaved guest's rate
#: (one record a second: the agents' --interval 1) being half of it
RECORDS_PER_MINUTE = 120
BURST = 10
WELL_BEHAVED_RATE = 1.0
FLOOD_RATE = 10 * RECORDS_PER_MINUTE / 60.0
#: The collector's peak resident set (VmHWM).  Measured on this machine
#: (CPython 3.11): 53-54 MiB once started (oslo.config/log,
#: gnocchiclient, keystoneauth), 56-57 MiB at the end of this flood and
#: of one 25 times harder (500 lines/s a flooder, 300 MB of oversize
#: lines).  What a guest can make the collector hold is bounded by
#: construction: one 64 KiB read and one line of at most
#: max_record_bytes per connection, two connections a guest, records on
#: disk in the spool.  So the flood may add a few MiB (the flusher's
#: batch of 500 records, the status document), never the ~50 MB of
#: hostile lines it carries: growth is bounded by 16 MiB and the peak by
#: 80 MiB, room for another Python build without hiding such a leak.
PEAK_RSS_MIB = 80
GROWTH_MIB = 16


def _charged(counters: dict) -> int:
    """Lines that took a token: all but the oversize ones (dropped by
    the framing before the gate) and the rate-limited ones."""
    return counters.get("accepted", 0) + sum(
        counters.get(r, 0) for r in R.REASONS
        if r not in ("oversize", "rate_limited"))


def _all_counted(sent: dict[str, dict]):
    """A status check: every line these guests sent was counted
    (accepted, or refused under a reason)."""
    def check(status: dict) -> bool:
        guests = status["guests"]
        return all(sum(guests.get(g, {}).get(k, 0)
                       for k in ("accepted",) + R.REASONS)
                   == sum(lines.values()) for g, lines in sent.items())
    return check


@pytest.mark.hardening("collector-flood")
def test_fifty_guests_flooding_one_collector(
        tmp_path, gnocchi_client, gnocchi_instances, gnocchi_endpoint,
        profile_policy, agent_pyz, hardening):
    agents = [str(uuid.uuid4()) for _ in range(AGENTS)]
    steady = [str(uuid.uuid4()) for _ in range(STEADY)]
    flooders = [str(uuid.uuid4()) for _ in range(FLOODERS)]
    every = agents + steady + flooders
    make_instances(gnocchi_client, gnocchi_instances, *every)
    col = Collector(tmp_path, gnocchi_endpoint, every,
                    records_per_minute=RECORDS_PER_MINUTE, burst=BURST)
    try:
        before = col.memory_kib()
        flood = start_traffic(tmp_path, "flood", {
            "seconds": SECONDS, "seed": 10, "guests": [
                {"socket": col.socket(g), "rate": FLOOD_RATE,
                 "hostile_share": 0.5,
                 "extra_connections": channels.MAX_CONNECTIONS}
                for g in flooders]})
        quiet = start_traffic(tmp_path, "steady", {
            "seconds": SECONDS, "seed": 100, "guests": [
                {"socket": col.socket(g), "rate": WELL_BEHAVED_RATE}
                for g in steady]})
        procs = [run_agent(agent_pyz, col.socket(g), SECONDS)
                 for g in agents]
        flooded = traffic_report(flood)
        report = {g: flooded[col.socket(g)] for g in flooders}
        sent = {g: r["sent"] for g, r in report.items()}
        # by now each flooder's last token was taken: its budget ends here
        st = col.wait(_all_counted(sent), timeout_s=90)
        flood_counted = time.time()
        quietly = traffic_report(quiet)
        sent.update((g, quietly[col.socket(g)]["sent"]) for g in steady)
        for p in procs:
            assert p.wait(timeout=120) == 0
        st = col.wait(lambda s: _all_counted(sent)(s) and all(
            s["guests"].get(g, {}).get("accepted") == SECONDS
            for g in agents), timeout_s=90)
        accepted = st["totals"]["accepted"]
        st = col.wait(lambda s: s["pushed"] == accepted, timeout_s=90)
        memory = col.memory_kib()

        # still healthy: a guest's agent started after the flood lands
        assert run_agent(agent_pyz, col.socket(agents[0]), 3) \
            .wait(timeout=60) == 0
        after = col.wait(lambda s: s["pushed"] == accepted + 3)
    finally:
        assert col.stop() == 0
    # the status written on the way out still has every guest's counters
    assert col.status()["guests"] == after["guests"]

    # every well-behaved guest: all its records accepted, none refused
    for g in steady + agents:
        expected = SECONDS + (3 if g == agents[0] else 0)
        assert after["guests"][g] == {"accepted": expected}, g
    assert {tuple(sent[g]) for g in steady} == {("valid",)}
    assert all(sent[g]["valid"] == SECONDS for g in steady)

    # each flooder held to its own bucket, its lines counted by reason
    # (the bucket starts full when the collector first sees the guest,
    # after the guest's first connect, and fills at the allowed rate
    # until the guest's last line was counted)
    budgets = {g: RECORDS_PER_MINUTE / 60.0 * (
        flood_counted - report[g]["started"]) + BURST for g in flooders}
    reasons: collections.Counter = collections.Counter()
    for g in flooders:
        c, lines = st["guests"][g], sent[g]
        assert sum(lines.values()) == FLOOD_RATE * SECONDS
        assert c["oversize"] == lines.get("oversize", 0)
        assert c["rate_limited"] > 0
        assert _charged(c) <= budgets[g], (g, c, budgets[g])
        assert c.get("backwards", 0) == 0
        assert c["connections_refused"] == 1
        for reason in set(guest_traffic.HOSTILE.values()):
            assert c.get(reason, 0) <= sum(
                n for k, n in lines.items()
                if guest_traffic.HOSTILE.get(k) == reason), (g, reason)
        assert c.get("accepted", 0) <= lines["valid"]
        reasons.update({r: c[r] for r in R.REASONS if r in c})
    assert all(reasons[r] > 0 for r in guest_traffic.HOSTILE.values()), \
        reasons
    assert st["lost"] == 0 and st["lost_spool_refused"] == 0
    assert after["spool_depth"] == 0

    # what Gnocchi holds: every record of the well-behaved, and exactly
    # what the collector accepted of each flooder
    for g in steady + agents:
        expected = SECONDS + (3 if g == agents[0] else 0)
        assert landed(gnocchi_client, g, expect=expected) == expected, g
    for g in flooders:
        n = st["guests"][g]["accepted"]
        assert landed(gnocchi_client, g, expect=n) == n, g

    peak_mib = memory["VmHWM"] / 1024
    start_mib = before["VmHWM"] / 1024
    print(f"\ncollector peak RSS (VmHWM) {peak_mib:.1f} MiB; "
          f"{start_mib:.1f} MiB before the flood")
    assert peak_mib < PEAK_RSS_MIB
    assert peak_mib - start_mib < GROWTH_MIB
    flood_accepted = [st["guests"][g]["accepted"] for g in flooders]
    flood_limited = [st["guests"][g]["rate_limited"] for g in flooders]
    flood_charged = [_charged(st["guests"][g]) for g in flooders]
    sent_flood = sum(sum(sent[g].values()) for g in flooders)
    flood_mb = sum(r["bytes"] for r in report.values()) / 1e6
    hardening.record(
        happened=(
            f"{AGENTS} guest agents and {STEADY} emulated guests at "
            f"{WELL_BEHAVED_RATE:g} record/s, {FLOODERS} flooders at "
            f"{FLOOD_RATE:g} lines/s (10x the {RECORDS_PER_MINUTE}/min "
            f"each may send), half of it hostile ({flood_mb:.0f} MB), "
            f"for {SECONDS} s: all {(AGENTS + STEADY) * SECONDS} "
            f"well-behaved records landed, none refused or rate-limited; "
            f"each flooder took {min(flood_charged)}-{max(flood_charged)}"
            f" tokens (budget {min(budgets.values()):.0f}-"
            f"{max(budgets.values()):.0f}), accepted "
            f"{min(flood_accepted)}-{max(flood_accepted)} (all landed), "
            f"rate-limited {min(flood_limited)}-{max(flood_limited)}; "
            f"refused by reason {dict(sorted(reasons.items()))}; "
            f"collector peak RSS {peak_mib:.1f} MiB ({start_mib:.1f} "
            f"before the flood)"),
        lost="nothing of the well-behaved guests; the flooders' lines "
             "beyond their budget, counted",
        well_behaved_sent=(AGENTS + STEADY) * SECONDS,
        well_behaved_landed=(AGENTS + STEADY) * SECONDS,
        flood_lines_sent=sent_flood, flood_mb=round(flood_mb, 1),
        flood_tokens=flood_charged, flood_accepted=flood_accepted,
        flood_rate_limited=flood_limited,
        flood_budget=[round(budgets[g], 1) for g in flooders],
        refusals=dict(reasons), peak_rss_mib=round(peak_mib, 1),
        start_rss_mib=round(start_mib, 1))
