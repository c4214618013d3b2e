"""The backtest's ``results.json`` and HTML report, on hand-made folds:
"n/a" only without actual overloads, the train and test ranges stated."""
from __future__ import annotations

import json

import numpy as np
import pytest

from watcher_adaptive.predict import backtest
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import report

QUANTILES = (0.5, 0.9)


def _fold(host_event: np.ndarray, predicted: np.ndarray) -> backtest.Fold:
    rng = np.random.default_rng(0)
    n = 40
    y = rng.uniform(0, 1, n)
    vm = dataset.Rows(X=np.zeros((n, 1)), y=y, baselines={},
                      series=np.repeat([0, 1], n // 2),
                      origins=np.tile(np.arange(150, 170), 2))
    host = dataset.Rows(X=np.zeros((host_event.size, 1)),
                        y=host_event.astype(float), baselines={},
                        series=np.zeros(host_event.size, dtype=int),
                        origins=np.arange(host_event.size) + 150,
                        event=host_event, lr_mmt_event=host_event)
    quantiles = np.column_stack([y * 0.9, y * 1.2])
    return backtest.Fold("csv:t.csv", ("csv:t.csv",), vm, host,
                         {"adaptive": quantiles},
                         {"adaptive": predicted},
                         train_origins=(12, 138), test_origins=(150, 169),
                         horizon=6)


@pytest.mark.parametrize("events, predicted, shown", [
    ([False] * 6, [False] * 6, "n/a"),
    ([False] * 6, [True] + [False] * 5, "n/a"),
    ([True, False, True, False, False, False], [False] * 6, "0.0000"),
])
def test_overload_f1_in_json_and_report(tmp_path, events, predicted,
                                        shown):
    fold = _fold(np.array(events), np.array(predicted))
    main = backtest.HorizonResult(1800.0, [fold],
                                  backtest.score([fold], QUANTILES),
                                  0.1, 0.01)
    doc = report.results_document(["csv:t.csv"], main, [], QUANTILES)
    page = report.write_report(tmp_path, doc, main, QUANTILES)
    saved = json.loads((tmp_path / "results.json").read_text())
    f1 = saved["models"]["adaptive"]["overload_f1"]
    assert (f1 is None) == (shown == "n/a")
    text = page.read_text()
    row = next(line for line in text.splitlines()
               if line.startswith("<tr class='ours'><td>adaptive"))
    assert row.endswith(f"<td>{shown}</td></tr>")
    assert saved["folds"][0]["train_origins"] == [12, 138]
    assert saved["folds"][0]["test_origins"] == [150, 169]
    assert "trained on origins 12-138 (targets up to sample 144)" in text
    assert "tested on origins 150-169" in text


def test_fold_ranges_are_stated_as_samples_and_times():
    fold = {"test": "planetlab:20110303", "train": ["planetlab:20110303"],
            "train_origins": [12, 137], "test_origins": [143, 281],
            "horizon_samples": 6, "interval_s": 300.0,
            "start_epoch_s": None}
    line = report.fold_line(fold)
    assert "split by time" in line
    assert "train: samples 0–143 (00:00–12:00)" in line
    assert "test: samples 144–287 (12:00–24:00)" in line
    # a known start: the clock is UTC date and time
    dated = report.fold_line({**fold, "start_epoch_s": 1372636800.0})
    assert "(2013-07-01 00:00–2013-07-01 12:00)" in dated


def test_forecasts_are_clipped_at_zero():
    clipped = backtest.non_negative({"lr": np.array([[-0.2, 0.1],
                                                     [0.3, 0.5]])})
    np.testing.assert_array_equal(clipped["lr"], [[0.0, 0.1], [0.3, 0.5]])


def test_calibration_has_a_point_per_quantile(tmp_path):
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
    rng = np.random.default_rng(1)
    n = 400
    y = rng.uniform(0, 1, n)
    vm = dataset.Rows(X=np.zeros((n, 1)), y=y, baselines={},
                      series=np.repeat(np.arange(4), n // 4),
                      origins=np.tile(np.arange(150, 250), 4))
    host = dataset.Rows(X=np.zeros((1, 1)), y=np.zeros(1), baselines={},
                        series=np.zeros(1, dtype=int),
                        origins=np.array([150]), event=np.zeros(1, bool),
                        lr_mmt_event=np.zeros(1, bool))
    # the true quantiles of U(0, 1): a calibrated model
    vq = np.tile(np.array(quantiles), (n, 1))
    fold = backtest.Fold("t", ("t",), vm, host, {"adaptive": vq},
                         {"adaptive": np.zeros(1, bool)},
                         train_origins=(12, 140), test_origins=(150, 249),
                         horizon=6)
    main = backtest.HorizonResult(1800.0, [fold],
                                  backtest.score([fold], quantiles), 0.1,
                                  0.01)
    doc = report.results_document(["t"], main, [], quantiles,
                                  interval_s=300.0)
    report.write_report(tmp_path, doc, main, quantiles)
    import matplotlib.image

    png = matplotlib.image.imread(tmp_path / "calibration.png")
    assert png.shape[0] > 300
    observed = report.calibration_points(main, quantiles)["adaptive"]
    assert len(observed) == 5
    np.testing.assert_allclose(observed, quantiles, atol=0.08)
