"""The quantile forecasters and the exceedance probability."""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from watcher_adaptive.core import forecast


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    y = X[:, 0] + rng.normal(0, 0.1 + 0.2 * X[:, 1], n)
    return X, y


def test_quantiles_are_ordered_and_calibrated():
    X, y = _data()
    model = forecast.QuantileForecaster((0.1, 0.5, 0.9), max_iter=60,
                                        random_state=0).fit(X, y)
    Xt, yt = _data(4000, seed=1)
    q = model.predict_quantiles(Xt)
    assert np.all(np.diff(q, axis=1) >= 0)
    cover = (yt[:, None] <= q).mean(axis=0)
    np.testing.assert_allclose(cover, [0.1, 0.5, 0.9], atol=0.04)
    assert model.predict(Xt) == pytest.approx(q[:, 1])


def test_same_seed_same_model():
    X, y = _data(800)
    a = forecast.QuantileForecaster(max_iter=20, random_state=3).fit(X, y)
    b = forecast.QuantileForecaster(max_iter=20, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_quantiles(X),
                                  b.predict_quantiles(X))


def test_nan_features_and_empty_columns():
    X, y = _data(800)
    X[::7, 0] = np.nan
    X[:, 2] = np.nan                      # a column with nothing in it
    model = forecast.QuantileForecaster(max_iter=20, random_state=0)
    q = model.fit(X, y).predict_quantiles(X)
    assert np.isfinite(q).all()
    assert list(model.used_columns_) == [0, 1]


@pytest.mark.parametrize("bad", [(0.9, 0.5), (0.0, 0.5), (1.2,), ()])
def test_bad_quantiles_are_refused(bad):
    X, y = _data(100)
    with pytest.raises(ValueError, match="quantiles"):
        forecast.QuantileForecaster(bad).fit(X, y)


def test_sklearn_estimator_contract():
    check_estimator(forecast.QuantileForecaster(max_iter=60,
                                                random_state=0))
    # the baseline wrapper predicts from a given column by design, so the
    # checks that expect it to learn the target from all columns do not
    # apply to it
    not_learning = "predicts from a chosen column, does not learn from X"
    check_estimator(forecast.ResidualQuantileForecaster(),
                    expected_failed_checks={
                        "check_regressors_train": not_learning,
                        "check_regressor_data_not_an_array": not_learning,
                        "check_regressors_int": not_learning,
                    })


def test_residual_forecaster_uses_the_column():
    X = np.column_stack([np.linspace(0, 1, 500), np.zeros(500)])
    y = X[:, 0] + 0.1
    q = forecast.ResidualQuantileForecaster(0, (0.5, 0.9)).fit(X, y)
    np.testing.assert_allclose(q.predict(X), X[:, 0] + 0.1, atol=1e-9)


def test_exceedance_probability():
    values = np.array([[0.5, 0.9], [0.5, 0.9], [0.5, 0.9]])
    p = forecast.exceedance_probability(values, (0.5, 0.9),
                                        np.array(0.7))
    assert p[0] == pytest.approx(0.3)
    assert forecast.exceedance_probability(values, (0.5, 0.9), 2.0)[0] \
        == pytest.approx(0.1)
    assert forecast.exceedance_probability(values, (0.5, 0.9), 0.1)[0] \
        == pytest.approx(0.5)
