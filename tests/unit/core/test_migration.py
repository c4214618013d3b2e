"""The action's pure decisions: what a look at Nova means, when to look
again, which figures of a migration are kept."""
from __future__ import annotations

import math

import pytest

from watcher_adaptive.core import migration as M

SRC, DST = "cmp-a", "cmp-b"


def obs(status="MIGRATING", host=SRC, task="migrating", mig="running"):
    return M.Observation(server_status=status, server_host=host,
                         task_state=task, migration_status=mig)


@pytest.mark.parametrize("o,elapsed,verdict", [
    (obs(), 1, M.Verdict.WAIT),
    (obs(mig="queued"), 1, M.Verdict.WAIT),
    (obs("ACTIVE", DST, "migrating", "running (post-copy)"), 1,
     M.Verdict.WAIT),
    (obs(mig=None), 1, M.Verdict.WAIT),
    # Nova marked the record completed but has not moved the host yet
    (obs(host=SRC, mig="completed"), 1, M.Verdict.WAIT),
    (obs("ACTIVE", DST, None, "completed"), 1, M.Verdict.COMPLETED),
    # the record is gone (purged) but the server is idle on the target
    (obs("ACTIVE", DST, None, None), 1, M.Verdict.COMPLETED),
    (obs("ACTIVE", SRC, None, "completed"), 1, M.Verdict.FAILED),
    (obs("ACTIVE", "cmp-c", None, "completed"), 1, M.Verdict.FAILED),
    (obs(mig="error"), 1, M.Verdict.FAILED),
    (obs(mig="Failed"), 1, M.Verdict.FAILED),
    (obs("ACTIVE", SRC, None, "cancelled"), 1, M.Verdict.FAILED),
    (obs("ERROR", SRC, None, "running"), 1, M.Verdict.FAILED),
    (M.Observation(None, None), 1, M.Verdict.FAILED),
    (obs(), 30, M.Verdict.TIMED_OUT),
    # a finished migration is finished even after the timeout
    (obs("ACTIVE", DST, None, "completed"), 99, M.Verdict.COMPLETED),
    (obs(mig="error"), 99, M.Verdict.FAILED),
])
def test_judge(o, elapsed, verdict):
    step = M.judge(o, SRC, DST, elapsed, timeout_s=30)
    assert step.verdict is verdict, step
    assert step.reason


def test_next_delay_starts_short_grows_and_is_capped():
    delays = [M.next_delay(t, 5.0) for t in (0, 0.4, 1, 3, 10, 100, 1e6)]
    assert delays[0] == 0.5
    assert delays == sorted(delays)
    assert max(delays) == 5.0
    assert M.next_delay(0, 0.2) == 0.2


def test_history_keeps_only_known_finite_figures():
    rec = M.MigrationRecord(
        instance_uuid="i", outcome=M.Outcome.TIMED_OUT, ended_at=1.0,
        duration_s=12.5, downtime_ms=None, miss_ratio=math.nan,
        expected_hot_kib=1024, agent_prepared=False)
    assert M.history_measures(rec) == {
        "outcome": 2.0, "duration_s": 12.5, "expected_hot_kib": 1024.0,
        "agent_prepared": 0.0}


@pytest.mark.parametrize("answer,expected", [
    (None, {}),
    ("yes", {}),
    ({"accepted": True}, {}),
    ({"accepted": True, "hot_kib": 100, "miss_ratio": 0.2},
     {"hot_kib": 100.0, "miss_ratio": 0.2}),
    ({"measured": {"warm_kib": 5, "cold_kib": -1, "hot_kib": True,
                   "downtime_ms": float("inf"), "postcopy_requests": 7}},
     {"warm_kib": 5.0, "postcopy_requests": 7.0}),
])
def test_agent_figures_take_numbers_only(answer, expected):
    assert M.agent_figures(answer) == expected


def test_status_figures_from_the_agents_status_answer():
    answer = {"accepted": True, "found": True, "status": {
        "phase": "steady", "figures": {
            "hot_bytes": 64 << 20, "warm_bytes": 1 << 20,
            "cold_bytes": 128 << 20, "miss_ratio": 0.004}}}
    assert M.status_figures(answer) == {
        "hot_kib": 65536.0, "warm_kib": 1024.0, "cold_kib": 131072.0,
        "miss_ratio": 0.004}
    assert M.status_figures({"found": False, "status": None}) == {}
    assert M.status_figures(None) == {}
    bad = {"found": True, "status": {"figures": {
        "hot_bytes": float("nan"), "cold_bytes": -1, "miss_ratio": 2.0,
        "warm_bytes": True}}}
    assert M.status_figures(bad) == {}
