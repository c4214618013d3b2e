"""Predictor: persistence with a metadata check, cold start, backtest."""
import json

import numpy as np
import pytest

from watcher_adaptive.evaluate import membership
from watcher_adaptive.exceptions import ModelMismatch
from watcher_adaptive.predict import backtest
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor as P
from watcher_adaptive.traces import load_embedded


@pytest.fixture(scope="module")
def small_trace():
    day = load_embedded("planetlab")
    return day.subset(np.arange(0, 1052, 8))      # 132 VMs


@pytest.fixture(scope="module")
def fitted(small_trace):
    h = 6
    mips = np.full(small_trace.n_vms, 1000.0)
    vm = dataset.vm_rows(small_trace, h, mips, max_rows=20_000)
    host = dataset.host_rows(small_trace, h,
                             membership.LrMmtMembership()(small_trace))
    model = P.Predictor(1800.0, max_train_rows=20_000).fit(
        vm, host, [small_trace.name])
    return model, vm, host


def test_round_trip_and_metadata(fitted, tmp_path):
    model, vm, _ = fitted
    P.save(model, tmp_path / "m")
    back = P.load(tmp_path / "m", horizon_s=1800.0, quantiles=(0.5, 0.9))
    np.testing.assert_array_equal(back.vm_quantiles(vm.X[:50]).values,
                                  model.vm_quantiles(vm.X[:50]).values)
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["training_window"] == ["planetlab:20110303"]
    assert meta["vm_features"] == dataset.vm_feature_names()


@pytest.mark.parametrize("change, message", [
    ({"horizon_s": 900.0}, "horizon"),
    ({"versions": {"scikit-learn": "0.1", "numpy": "0.1"}}, "trained with"),
    ({"vm_features": ["x"]}, "feature list"),
    ({"format": 99}, "format"),
])
def test_mismatched_metadata_is_refused(fitted, tmp_path, change, message):
    model, _, _ = fitted
    P.save(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m.json").read_text())
    meta.update(change)
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(ModelMismatch, match=message):
        P.load(tmp_path / "m", horizon_s=1800.0)


def test_missing_metadata_is_refused(fitted, tmp_path):
    model, _, _ = fitted
    P.save(model, tmp_path / "m")
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelMismatch, match="metadata file missing"):
        P.load(tmp_path / "m")


def test_cold_start_uses_the_profile_prior(fitted):
    model, vm, _ = fitted
    X = vm.X[:20]
    history = np.array([3] * 10 + [50] * 10)
    fc = model.vm_quantiles(X, history_samples=history)
    assert fc.cold_start.tolist() == [True] * 10 + [False] * 10
    np.testing.assert_array_equal(fc.values[:10],
                                  model.priors_[fc.profile[:10]])
    warm = model.vm_quantiles(X).values
    np.testing.assert_array_equal(fc.values[10:], warm[10:])
    assert np.all(np.diff(fc.values, axis=1) >= 0)


def test_host_overload_probability_is_a_probability(fitted):
    model, _, host = fitted
    p = model.host_overload_probability(host.X)
    assert np.all((p >= 0) & (p <= 1))
    assert 0 <= model.threshold_ <= 1


def test_backtest_on_a_small_trace_scores_every_model(small_trace):
    said = []
    result = backtest.backtest_horizon([small_trace], 1800.0,
                                       membership.LrMmtMembership(),
                                       progress=said.append)
    # one trace split by time: the progress names both sample ranges
    fold = result.folds[0]
    h = fold.horizon
    assert (f"train on {small_trace.name} samples 0–"
            f"{fold.train_origins[1] + h}; test on samples "
            f"{fold.test_origins[0] + 1}–{fold.test_origins[1] + h}"
            in said)
    # no forecast below 0 (a CPU peak never is)
    assert all(np.all(q >= 0) for q in fold.vm_quantiles.values())
    assert set(result.scores) == {"adaptive", "last", "seasonal", "ewma",
                                  "lr"}
    ours = result.scores["adaptive"]
    assert 0.5 < ours["coverage_p90"] <= 1.0
    assert ours["mae"] > 0
    # a one-day trace has no "same time yesterday"
    assert result.scores["seasonal"]["mae"] is None
    assert result.scores["lr"]["overload_f1"] is not None


def test_vm_exceedance_probability_is_monotone_in_the_level(fitted):
    model, vm, _ = fitted
    low = model.vm_exceedance(vm.X[:100], 0.05)
    high = model.vm_exceedance(vm.X[:100], 0.95)
    assert np.all(low >= high)
    assert np.all((low >= 0) & (low <= 1))


def test_other_resources_are_forecast_where_the_trace_has_them():
    bb = load_embedded("bitbrains").subset(np.arange(12)).head(1500)
    assert set(dataset.resource_series(bb)) == {
        "cpu", "memory", "disk_read_kbs", "disk_write_kbs", "net_rx_kbs",
        "net_tx_kbs"}
    result = backtest.backtest_horizon([bb], 1800.0,
                                       membership.LrMmtMembership())
    assert set(result.resources) == {"memory", "disk_read_kbs",
                                     "disk_write_kbs", "net_rx_kbs",
                                     "net_tx_kbs"}
    mem = result.resources["memory"]["adaptive"]
    assert 0.5 < mem["coverage_p90"] <= 1.0
    assert "overload_f1" not in mem
    # PlanetLab has CPU only
    assert dataset.resource_series(load_embedded("planetlab")).keys() == \
        {"cpu"}
