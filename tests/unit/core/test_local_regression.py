"""CloudSim's local regression (LR-MMT's line), shared by the replay's
``lr-mmt`` and the predictor's ``lr`` baseline."""
import numpy as np
import pytest

from watcher_adaptive.core import local_regression


def test_extrapolates_a_line_exactly():
    recent_first = np.array([[0.10 + 0.01 * (9 - i) for i in range(10)]])
    # samples 0.10 .. 0.19, one step ahead of the newest: 0.20
    assert local_regression.predict(recent_first)[0] == pytest.approx(0.20)
    # ... and three steps ahead: 0.22
    assert local_regression.predict(recent_first, 3)[0] == \
        pytest.approx(0.22)
    flat = np.full((1, 10), 0.5)
    assert local_regression.predict(flat)[0] == pytest.approx(0.5)


def test_rows_are_independent():
    rng = np.random.default_rng(3)
    hist = rng.random((5, local_regression.WINDOW))
    whole = local_regression.predict(hist, 2)
    one_by_one = [local_regression.predict(hist[i:i + 1], 2)[0]
                  for i in range(5)]
    np.testing.assert_array_equal(whole, one_by_one)
