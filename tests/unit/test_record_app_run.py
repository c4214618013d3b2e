"""The application recorder refuses what it cannot record before it
starts anything: one line, exit 2."""
from __future__ import annotations

import pytest

from tests import tool_module


@pytest.mark.parametrize("args, message", [
    (["--kind", "mysql", "--seed", "1"], "no such schedule"),
    (["--kind", "redis", "--seed", "9"], "no such schedule"),
    (["--kind", "redis", "--seed", "1", "--time-scale", "2"],
     "--time-scale must be in (0, 1]"),
    (["--kind", "redis", "--seed", "1", "--cpu-shares", "1"],
     "--cpu-shares must be in [2, 262144]"),
])
def test_a_run_it_cannot_record_is_one_line_and_exit_2(
        args, message, tmp_path, capsys):
    tool = tool_module.load("record_app_run")
    with pytest.raises(SystemExit) as stop:
        tool.main([*args, "--output", str(tmp_path / "out.jsonl.gz")])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "out.jsonl.gz").exists()


def test_a_kind_without_a_driver_is_refused_before_anything_starts(
        tmp_path, capsys, monkeypatch):
    tool = tool_module.load("record_app_run")
    monkeypatch.delitem(tool.DRIVERS, "nginx")
    with pytest.raises(SystemExit) as stop:
        tool.main(["--kind", "nginx", "--seed", "1", "--output",
                   str(tmp_path / "out.jsonl.gz")])
    assert stop.value.code == 2
    assert "no driver for 'nginx' yet" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl.gz").exists()


def test_every_kind_of_the_split_has_a_driver():
    from watcher_adaptive.predict import profile_split

    tool = tool_module.load("record_app_run")
    assert set(profile_split.KINDS) <= set(tool.DRIVERS)


def test_a_bad_schedule_file_is_refused_with_its_reason(tmp_path, capsys):
    (tmp_path / "redis-1.json").write_text('{"format": 1, "kind": "redis"}')
    tool = tool_module.load("record_app_run")
    with pytest.raises(SystemExit) as stop:
        tool.main(["--kind", "redis", "--seed", "1", "--schedules",
                   str(tmp_path), "--output", str(tmp_path / "o.gz")])
    assert stop.value.code == 2
    assert "not a schedule" in capsys.readouterr().err


def test_the_wait_of_a_thread_that_ended_is_lost_never_subtracted():
    tool = tool_module.load("record_app_run")
    before = {"1": 100, "2": 5_000}          # 2: a load generator
    now = {"1": 400, "3": 70}                 # 2 ended, 3 was born
    # 1 waited 300 since, 3 waited 70 in its life: 2's 5,000 of before
    # is not taken off (a difference of totals gave max(0, -4,630) = 0)
    assert tool.waited_ns(before, now) == 370
    assert tool.waited_ns(now, now) == 0
