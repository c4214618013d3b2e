"""Metric definitions on hand-computed cases."""
import numpy as np
import pytest

from watcher_adaptive.core import metrics


def test_mae_and_pinball():
    y = np.array([1.0, 2.0, 3.0, np.nan])
    p = np.array([1.5, 2.0, 2.0, 1.0])
    assert metrics.mae(y, p) == pytest.approx((0.5 + 0 + 1) / 3)
    # q=0.9: under-forecast costs 0.9 per unit, over-forecast 0.1
    assert metrics.pinball(y, p, 0.9) == pytest.approx(
        (0.1 * 0.5 + 0 + 0.9 * 1.0) / 3)


def test_coverage():
    y = np.array([0.1, 0.5, 0.9, 0.95])
    assert metrics.coverage(y, np.full(4, 0.9)) == 0.75


def test_event_scores():
    actual = np.array([1, 1, 0, 0, 1], dtype=bool)
    predicted = np.array([1, 0, 1, 0, 1], dtype=bool)
    s = metrics.event_scores(actual, predicted)
    assert (s.true_positives, s.false_positives, s.false_negatives) == \
        (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)
    none = metrics.event_scores(actual, np.zeros(5, dtype=bool))
    assert none.f1 == 0.0 and none.precision == 0.0
