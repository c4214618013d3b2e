"""Rate limits, ordering and counters of one guest's gate."""
from __future__ import annotations

from tests.unit.profiler.records import NOW
from tests.unit.profiler.records import line
from watcher_adaptive.profiler import framing
from watcher_adaptive.profiler import gate as G


def test_a_flood_is_throttled_to_the_burst_then_the_rate():
    g = G.GuestGate("g", G.GatePolicy(records_per_minute=6, burst=4), NOW)
    accepted = [g.admit(line(seq=i, ts=NOW - 100 + i * 0.01), NOW)
                for i in range(1, 1001)]
    assert sum(r is not None for r in accepted) == 4
    assert g.counters["rate_limited"] == 996
    # ten seconds later one more token (6 per minute)
    assert g.admit(line(seq=2000, ts=NOW), NOW + 10) is not None
    assert g.admit(line(seq=2001, ts=NOW + 1), NOW + 10) is None


def test_timestamps_must_increase():
    g = G.GuestGate("g", G.GatePolicy(records_per_minute=600), NOW)
    assert g.admit(line(seq=1, ts=NOW - 10), NOW)
    assert g.admit(line(seq=2, ts=NOW - 20), NOW) is None
    assert g.admit(line(seq=3, ts=NOW - 10), NOW) is None
    assert g.counters["backwards"] == 2
    assert g.admit(line(seq=4, ts=NOW - 5), NOW)
    assert g.counters["seq_gap"] == 2 and g.counters["accepted"] == 2
    assert g.rejected() == 2


def test_rereads_of_a_file_are_duplicates_and_cost_no_tokens():
    g = G.GuestGate("g", G.GatePolicy(records_per_minute=1, burst=1,
                                      rereads=True), NOW)
    first = line(seq=1, ts=NOW - 30)
    assert g.admit(first, NOW)
    for _ in range(50):
        assert g.admit(first, NOW) is None
    assert g.counters["duplicate"] == 50 and g.rejected() == 0
    assert g.admit(line(seq=2, ts=NOW), NOW + 60)


def test_oversize_and_bad_records_are_counted_by_reason():
    g = G.GuestGate("g", G.GatePolicy(records_per_minute=600, burst=50),
                    NOW)
    g.admit(framing.Oversize(), NOW)
    g.admit(b"nope", NOW)
    g.admit(line(ts=NOW + 600), NOW)
    assert dict(g.counters) == {"oversize": 1, "malformed": 1, "future": 1}
