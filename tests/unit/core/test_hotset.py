"""The hot-set predictor and its features, on data whose answer is
known by construction."""
from __future__ import annotations

import math

import numpy as np
import pytest

from watcher_adaptive.core import hotset


def test_feature_row_reads_the_agent_names_and_tolerates_gaps():
    row = hotset.feature_row({"mem.working_set_ratio": 0.3,
                              "mem.total_mb": 2048.0, "mem.anon_mb": 512,
                              "cpu.idle": 0.75, "mem.minflt_ps": -3,
                              "disk.write_share": "garbage"},
                             [0.2, float("nan"), 0.4])
    f = dict(zip(hotset.FEATURES, row, strict=True))
    assert f["ws_ratio"] == 0.3
    assert f["anon_ratio"] == 0.25
    assert f["cpu_busy"] == 0.25
    assert f["log_minflt_ps"] == 0.0
    assert math.isnan(f["disk_write_share"])
    assert math.isnan(f["cache_ratio"])
    assert (f["hist_last"], f["hist_mean"], f["hist_n"]) == \
        (0.4, pytest.approx(0.3), 2.0)
    assert np.isnan(hotset.feature_row({})[:-1]).all()


def test_too_little_history_answers_with_class_defaults():
    X = np.vstack([hotset.feature_row({"mem.working_set_ratio": w})
                   for w in (0.1, 0.2, 0.3)])
    est = hotset.HotSetPredictor(min_samples=30).fit(X, [0.1, 0.2, 0.3],
                                                     ["web"] * 3)
    assert est.source() == "class_default"
    got = est.predict(X, ["web", "db", "mine", None])
    assert got[0] == hotset.CLASS_DEFAULT_HOT_SHARE["web"]
    assert got[1] == hotset.CLASS_DEFAULT_HOT_SHARE["db"]
    # a class the table does not name: the median of what was learned
    assert got[2] == got[3] == pytest.approx(0.2)


def test_learned_class_median_replaces_the_table():
    X = np.full((6, len(hotset.FEATURES)), np.nan)
    est = hotset.HotSetPredictor(min_class_samples=5).fit(
        X, [0.9] * 6, ["web"] * 6)
    assert est.class_default(["web"])[0] == 0.9


def test_model_follows_the_profile_where_the_class_cannot():
    rng = np.random.default_rng(1)
    ws = rng.uniform(0.05, 0.95, 200)
    X = np.vstack([hotset.feature_row({"mem.working_set_ratio": w})
                   for w in ws])
    y = np.clip(ws + rng.normal(0, 0.02, ws.size), 0, 1)
    types = ["db"] * ws.size
    est = hotset.HotSetPredictor(max_iter=60, random_state=0).fit(
        X[:150], y[:150], types[:150])
    assert est.source() == "model"
    err_model = np.mean(np.abs(est.predict(X[150:], types[150:])
                               - y[150:]))
    err_class = np.mean(np.abs(est.class_default(types[150:]) - y[150:]))
    assert err_model < err_class / 3, (err_model, err_class)
    assert ((est.predict(X, types) >= 0) & (est.predict(X, types) <= 1)
            ).all()


def test_expected_hot_kib():
    assert hotset.expected_hot_kib(0.25, 4096) == 1024
    assert hotset.expected_hot_kib(1.7, 100) == 100
    with pytest.raises(ValueError):
        hotset.expected_hot_kib(float("nan"), 100)


def test_sklearn_estimator_contract():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(
        hotset.HotSetPredictor(max_iter=20, min_samples=5, random_state=0),
        expected_failed_checks={
            "check_estimators_nan_inf": "NaN features are profile values "
                                        "not known, handled natively",
            "check_regressors_train": "predicts shares of memory, clipped "
                                      "to 0..1; the check's targets are "
                                      "not shares",
        })
