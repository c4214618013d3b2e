"""CloudSim's local regression, the line LR-MMT extrapolates (pure).

Both the replay's ``lr-mmt`` baseline
(:mod:`watcher_adaptive.replay.cloudsim_policies`) and the predictor's
``lr`` baseline (:mod:`watcher_adaptive.predict.dataset`) read a host's
last :data:`WINDOW` samples through :func:`predict`; it lives here so
that neither package imports the other.
"""
from __future__ import annotations

import numpy as np

#: samples of history the regression fits (CloudSim's 10)
WINDOW = 10
#: the static threshold LR-MMT falls back to while a host's history is
#: shorter than :data:`WINDOW` (and PABFD's start placement uses)
FALLBACK_THRESHOLD = 0.7


def predict(recent_first: np.ndarray, horizon: int = 1) -> np.ndarray:
    """Least-squares line through the last 10 samples, ``horizon`` ahead.

    CloudSim calls this a tricube-weighted local regression, but its
    weights never reach the branch that applies them, so the fit is an
    ordinary least-squares line on x = 1..10 (oldest to newest), read at
    ``x = 10 + horizon``.

    :param recent_first: ``(n, 10)`` samples, most recent first.
    :returns: ``(n,)`` the line's value ``horizon`` samples ahead.
    """
    # NOTE(wa): the updating formulas of commons-math's SimpleRegression,
    # which CloudSim uses, so that borderline hosts tip the same way.
    y = recent_first[:, ::-1]
    xbar = np.full(y.shape[0], 1.0)
    ybar = y[:, 0].copy()
    sum_x = np.full(y.shape[0], 1.0)
    sum_y = y[:, 0].copy()
    sum_xx = np.zeros(y.shape[0])
    sum_xy = np.zeros(y.shape[0])
    for n in range(1, y.shape[1]):
        x = float(n + 1)
        fact1 = 1.0 + n
        fact2 = n / (1.0 + n)
        dx = x - xbar
        dy = y[:, n] - ybar
        sum_xx = sum_xx + dx * dx * fact2
        sum_xy = sum_xy + dx * dy * fact2
        xbar = xbar + dx / fact1
        ybar = ybar + dy / fact1
        sum_x = sum_x + x
        sum_y = sum_y + y[:, n]
    slope: np.ndarray = sum_xy / sum_xx
    intercept: np.ndarray = (sum_y - slope * sum_x) / y.shape[1]
    out: np.ndarray = intercept + slope * (y.shape[1] + horizon)
    return out
