from __future__ import annotations

from watcher_adaptive.profiler.spool import Spool


def test_records_wait_until_done(tmp_path):
    s = Spool(str(tmp_path / "s.db"), 10)
    s.put([("a", 1.0, {"cpu.user": 0.1}), ("b", 2.0, {"cpu.user": 0.2})])
    taken = s.take(10, now=0)
    assert [(t.resource_id, t.ts, t.features) for t in taken] == [
        ("a", 1.0, {"cpu.user": 0.1}), ("b", 2.0, {"cpu.user": 0.2})]
    s.done([taken[0].id])
    assert [t.resource_id for t in s.take(10, now=0)] == ["b"]


def test_beyond_the_bound_the_oldest_are_dropped_and_counted(tmp_path):
    path = str(tmp_path / "s.db")
    s = Spool(path, 3)
    dropped = s.put([("a", float(i), {"x": 1.0}) for i in range(5)])
    assert dropped == 2 and s.depth() == 3 and s.lost == 2
    assert [t.ts for t in s.take(10, now=0)] == [2.0, 3.0, 4.0]
    s.close()
    again = Spool(path, 3)       # survives a restart, counter included
    assert again.depth() == 3 and again.lost == 2


def test_deferred_records_are_skipped_until_due(tmp_path):
    s = Spool(str(tmp_path / "s.db"), 10)
    s.put([("a", 1.0, {}), ("b", 2.0, {})])
    first = s.take(1, now=0)[0]
    s.defer([first.id], until=100.0)
    assert [t.resource_id for t in s.take(10, now=50)] == ["b"]
    assert [t.resource_id for t in s.take(10, now=100)] == ["a", "b"]
