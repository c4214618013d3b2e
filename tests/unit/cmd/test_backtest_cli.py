"""``watcher-adaptive backtest``: the trace options and the fold ranges.

The backtest itself is slow; these tests stop it at its first step and
look at what it was given, or run its pure parts.
"""
from __future__ import annotations

import numpy as np
import pytest

from watcher_adaptive.cmd import main as cli
from watcher_adaptive.predict import backtest
from watcher_adaptive.predict import report


class _Given(Exception):
    pass


@pytest.fixture
def given(monkeypatch):
    """The traces ``backtest_horizon`` receives; it runs no further."""
    seen = []

    def stop(traces, *args, **kwargs):
        seen.extend(traces)
        raise _Given()

    monkeypatch.setattr(backtest, "backtest_horizon", stop)
    return seen


def _csv(path, times, values):
    path.write_text("t,vm1,vm2\n" + "".join(
        f"{t},{v},{v + 1}\n" for t, v in zip(times, values, strict=True)))
    return path


@pytest.mark.parametrize("first", [0, 1])
def test_sample_numbers_need_interval(tmp_path, capsys, given, first):
    trace = _csv(tmp_path / "t.csv", range(first, first + 30), [5] * 30)
    code = cli.main(["backtest", "--trace", str(trace), "--output",
                     str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "--interval" in err and not given
    with pytest.raises(_Given):
        cli.main(["backtest", "--trace", str(trace), "--interval", "60",
                  "--output", str(tmp_path / "out")])
    assert given[0].interval_s == 60.0
    assert given[0].start_epoch_s is None


def test_epoch_column_infers_the_interval(tmp_path, given):
    t0 = 1_372_636_800
    trace = _csv(tmp_path / "t.csv", range(t0, t0 + 300 * 30, 300),
                 [5] * 30)
    with pytest.raises(_Given):
        cli.main(["backtest", "--trace", str(trace), "--output",
                  str(tmp_path / "out")])
    assert given[0].interval_s == 300.0
    assert given[0].start_epoch_s == t0


def test_memory_csv_reaches_the_backtest(tmp_path, given):
    cpu = _csv(tmp_path / "cpu.csv", range(30), [5] * 30)
    mem = _csv(tmp_path / "mem.csv", range(30), [512] * 30)
    with pytest.raises(_Given):
        cli.main(["backtest", "--trace", str(cpu), "--interval", "300",
                  "--memory", str(mem), "--output", str(tmp_path / "o")])
    np.testing.assert_allclose(given[0].memory_mb[1], 513.0)


def test_memory_needs_one_csv_trace(tmp_path, capsys, given):
    mem = _csv(tmp_path / "mem.csv", range(30), [512] * 30)
    code = cli.main(["backtest", "--memory", str(mem), "--output",
                     str(tmp_path / "o")])
    assert code == 2 and ".csv trace" in capsys.readouterr().err


@pytest.mark.parametrize("actual, predicted, f1", [
    ([False, False, False], [False, False, False], None),  # nothing to find
    ([False, False, False], [True, False, False], None),   # false alarm only
    ([True, False, True], [False, False, False], 0.0),     # all missed
    ([True, False, True], [True, False, False], 2 / 3),
])
def test_overload_f1_is_none_only_without_actual_events(actual, predicted,
                                                        f1):
    scores = backtest.overload_scores(np.array(actual), np.array(predicted))
    if f1 is None:
        assert scores["overload_f1"] is None
        assert scores["overload_recall"] is None
    else:
        assert scores["overload_f1"] == pytest.approx(f1)


def test_report_says_n_a_only_without_actual_events():
    assert report.score_text(None, "overload_f1", 0) == "n/a"
    assert report.score_text(None, "overload_f1", 3) == "–"
    assert report.score_text(0.0, "overload_f1", 3) == "0.0000"
    assert report.score_text(None, "mae", 0) == "–"


@pytest.mark.parametrize("horizon", [1, 6, 24])
def test_one_trace_split_never_trains_on_a_tested_sample(horizon):
    origins = np.tile(np.arange(12, 250), 3)
    train, test = backtest.split_cut(origins, horizon)
    assert train.any() and test.any()
    # the last sample any training target covers ...
    last_trained = (origins[train] + horizon).max()
    # ... comes before the first sample any test target covers
    first_tested = (origins[test] + 1).min()
    assert last_trained < first_tested


def test_fold_line_states_both_ranges():
    line = report.fold_line({"test": "csv:t.csv", "train": ["csv:t.csv"],
                             "train_origins": [12, 120],
                             "test_origins": [126, 280],
                             "horizon_samples": 6})
    assert "origins 12-120" in line and "up to sample 126" in line
    assert "origins 126-280" in line and "from sample 127" in line


def test_filled_gaps_are_noted_before_the_backtest(tmp_path, capsys,
                                                   given):
    trace = tmp_path / "t.csv"
    trace.write_text("t,a\n" + "".join(
        f"{300 * k},{'' if k == 5 else 20}\n" for k in range(30)))
    with pytest.raises(_Given):
        cli.main(["backtest", "--trace", str(trace), "--output",
                  str(tmp_path / "o")])
    assert "note: csv:t.csv: 1 empty samples of 30" in \
        capsys.readouterr().err
