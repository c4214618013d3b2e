"""The wide CSV layout for operators' own exports."""
import numpy as np
import pytest

from watcher_adaptive.traces import TraceError
from watcher_adaptive.traces import load_wide_csv


def test_epoch_timestamps_infer_interval_and_fill(tmp_path):
    f = tmp_path / "cpu.csv"
    f.write_text("time,web,db\n0,10,50\n600,,150\n1200,30,70\n")
    trace = load_wide_csv(f)
    assert trace.interval_s == 600.0
    assert trace.vm_ids == ("web", "db")
    np.testing.assert_allclose(trace.cpu, [[.1, .1, .3], [.5, 1.0, .7]],
                               rtol=1e-6)
    assert trace.report.gaps_filled == 1
    assert trace.report.samples_clipped_above_100 == 1
    assert trace.name == "csv:cpu.csv"


def test_iso_timestamps_and_memory_file(tmp_path):
    cpu = tmp_path / "cpu.csv"
    cpu.write_text("ts,a\n2024-01-01T00:00:00Z,5\n"
                   "2024-01-01T00:05:00Z,6\n2024-01-01T00:10:00Z,7\n")
    mem = tmp_path / "mem.csv"
    mem.write_text("ts,a\n2024-01-01T00:00:00Z,512\n"
                   "2024-01-01T00:05:00Z,600\n2024-01-01T00:10:00Z,700\n")
    trace = load_wide_csv(cpu, memory_path=mem)
    assert trace.interval_s == 300.0
    np.testing.assert_allclose(trace.memory_mb[0], [512, 600, 700])


def test_sample_index_needs_an_interval(tmp_path):
    f = tmp_path / "idx.csv"
    f.write_text("i,a\n0,5\n1,6\n2,7\n")
    with pytest.raises(TraceError, match="--interval"):
        load_wide_csv(f)
    assert load_wide_csv(f, interval_s=60).interval_s == 60


@pytest.mark.parametrize("content, message", [
    ("t,a\n0,x\n300,y\n", "column 'a' is empty or not numeric"),
    ("t,a\n0,5\n300,oops\n", "line 3, column 'a'"),
    ("t\n0\n300\n", "at least one VM column"),
    ("t,a\nyesterday,5\ntoday,6\n", "neither epoch seconds"),
    ("t,a\n600,5\n300,6\n", "must increase"),
])
def test_garbled_files(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(TraceError, match=message):
        load_wide_csv(f)


@pytest.mark.parametrize("first, start_epoch", [
    ((0, 1, 2, 3), None),               # sample numbers from 0
    ((1, 2, 3, 4), None),               # sample numbers from 1
    ((1_700_000_000, 1_700_000_300, 1_700_000_600, 1_700_000_900),
     1_700_000_000.0),                  # epoch seconds
    ((1, 301, 601, 901), 1.0),          # seconds, steps of 300
    ((2, 3, 4, 5), 2.0),                # from 2: seconds, by the rule
])
def test_whole_numbers_from_0_or_1_by_1_are_sample_numbers(
        tmp_path, first, start_epoch):
    f = tmp_path / "t.csv"
    f.write_text("t,a\n" + "".join(f"{t},{5 + k}\n"
                                   for k, t in enumerate(first)))
    if start_epoch is None:
        with pytest.raises(TraceError, match="--interval"):
            load_wide_csv(f)
        trace = load_wide_csv(f, interval_s=120)
        assert trace.interval_s == 120 and trace.start_epoch_s is None
    else:
        trace = load_wide_csv(f)
        assert trace.start_epoch_s == start_epoch
        assert trace.interval_s == first[1] - first[0]
