"""Quantile forecasters following the scikit-learn estimator contract.

:class:`QuantileForecaster` is the model: one histogram gradient-boosting
regressor with quantile loss per quantile, then split-conformal
calibration (each quantile is shifted by the matching quantile of its
residuals on a held-out part of the training rows, so that the stated
coverage holds on data like the training data), then sorted so that the
quantiles never cross.

:class:`ResidualQuantileForecaster` is the cheap fallback and the way the
baselines get quantiles: a point forecast taken from one feature column
(the last value, an EWMA, …) plus empirical residual quantiles.
"""
from __future__ import annotations

from typing import Any
from typing import Optional
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted
from sklearn.utils.validation import validate_data

DEFAULT_QUANTILES = (0.5, 0.9)


def _check_quantiles(quantiles: Sequence[float]) -> np.ndarray:
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 1 or q.size == 0 or np.any((q <= 0) | (q >= 1)):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, "
                         f"got {quantiles!r}")
    if np.any(np.diff(q) <= 0):
        raise ValueError("quantiles must be increasing")
    return q


class _NanTolerant:
    """Estimators that take NaN features (missing samples are normal)."""

    quantiles: Sequence[float]     # set by the estimator's __init__

    def __sklearn_tags__(self) -> Any:
        # NOTE: a mixin: the estimator class after it in the MRO has it
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.allow_nan = True
        return tags

    def _validate_fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray,
                                           np.ndarray]:
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan",
                             y_numeric=True)
        return X, y, _check_quantiles(self.quantiles)


class QuantileForecaster(_NanTolerant, RegressorMixin, BaseEstimator):
    """Calibrated quantiles from gradient-boosted trees.

    :param quantiles: increasing levels in (0, 1); ``predict`` returns the
        one closest to the median.
    :param max_iter: boosting iterations per quantile.
    :param learning_rate: boosting learning rate.
    :param max_leaf_nodes: tree size.
    :param calibration_fraction: share of rows held out for conformal
        calibration (0 disables it).
    :param max_train_rows: rows are subsampled uniformly above this, so
        that training time and memory stay bounded for large fleets.
    :param random_state: seeds the split, the subsample and the trees.
    """

    def __init__(self, quantiles: Sequence[float] = DEFAULT_QUANTILES,
                 max_iter: int = 150, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 31,
                 calibration_fraction: float = 0.2,
                 max_train_rows: int = 400_000,
                 random_state: Optional[int] = None) -> None:
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.calibration_fraction = calibration_fraction
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "QuantileForecaster":
        X, y, q = self._validate_fit(X, y)
        if not 0 <= self.calibration_fraction < 1:
            raise ValueError("calibration_fraction must be in [0, 1)")
        rng = np.random.default_rng(self.random_state)
        if X.shape[0] > self.max_train_rows:
            keep = rng.choice(X.shape[0], self.max_train_rows, replace=False)
            X, y = X[keep], y[keep]
        n_cal = int(round(X.shape[0] * self.calibration_fraction))
        if n_cal >= 20 and X.shape[0] - n_cal >= 20:
            order = rng.permutation(X.shape[0])
            cal, train = order[:n_cal], order[n_cal:]
        else:
            cal, train = np.zeros(0, dtype=int), np.arange(X.shape[0])
        seed = None if self.random_state is None else int(self.random_state)
        # NOTE(wa): a column with no value at all (no weekday for a trace
        # without dates, no memory for a CPU-only trace) carries nothing
        # and trips the binning of HistGradientBoosting: set it aside
        self.used_columns_ = np.flatnonzero(np.isfinite(X[train]).any(axis=0))
        if self.used_columns_.size == 0:
            raise ValueError("every feature column is empty (NaN)")
        X = X[:, self.used_columns_]
        self.models_ = []
        for level in q:
            model = HistGradientBoostingRegressor(
                loss="quantile", quantile=float(level),
                max_iter=self.max_iter, learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes, random_state=seed)
            self.models_.append(model.fit(X[train], y[train]))
        self.n_iter_ = max(m.n_iter_ for m in self.models_)
        self.offsets_ = np.zeros(q.size)
        if cal.size:
            raw = self._raw(X[cal])
            for i, level in enumerate(q):
                self.offsets_[i] = np.quantile(y[cal] - raw[:, i], level)
        self.quantiles_ = q
        return self

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(X) for m in self.models_])

    def predict_quantiles(self, X: Any) -> np.ndarray:
        """``(n, len(quantiles))``, non-decreasing along each row."""
        check_is_fitted(self, "models_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        raw = self._raw(X[:, self.used_columns_])
        return np.sort(raw + self.offsets_, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The quantile closest to the median."""
        mid = int(np.argmin(np.abs(self.quantiles_ - 0.5))) \
            if hasattr(self, "quantiles_") else 0
        return self.predict_quantiles(X)[:, mid]


class ResidualQuantileForecaster(_NanTolerant, RegressorMixin,
                                 BaseEstimator):
    """A point forecast read from one column plus residual quantiles.

    :param column: index of the feature column holding the point forecast.
    :param quantiles: levels in (0, 1).
    """

    def __init__(self, column: int = 0,
                 quantiles: Sequence[float] = DEFAULT_QUANTILES) -> None:
        self.column = column
        self.quantiles = quantiles

    def fit(self, X: Any, y: Any) -> "ResidualQuantileForecaster":
        X, y, q = self._validate_fit(X, y)
        if not 0 <= self.column < X.shape[1]:
            raise ValueError(f"column {self.column} out of range")
        point = X[:, self.column]
        ok = np.isfinite(point) & np.isfinite(y)
        residual = y[ok] - point[ok]
        self.offsets_ = (np.quantile(residual, q) if residual.size
                         else np.zeros(q.size))
        self.fallback_ = float(np.nanmean(y)) if np.isfinite(y).any() \
            else 0.0
        self.quantiles_ = q
        return self

    def predict_quantiles(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "offsets_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        point = X[:, self.column]
        point = np.where(np.isfinite(point), point, self.fallback_)
        return np.sort(point[:, None] + self.offsets_[None, :], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "offsets_")
        mid = int(np.argmin(np.abs(self.quantiles_ - 0.5)))
        return self.predict_quantiles(X)[:, mid]


def exceedance_probability(values: np.ndarray, quantiles: Sequence[float],
                           level: float) -> np.ndarray:
    """P(demand > ``level``) from predicted quantiles, by linear
    interpolation of the predictive distribution between them (and
    clamped to the outermost levels beyond).

    :param values: ``(n, k)`` predicted quantiles, sorted along rows.
    """
    q = _check_quantiles(quantiles)
    values = np.asarray(values, dtype=float)
    out = np.empty(values.shape[0])
    for i, row in enumerate(values):
        if level <= row[0]:
            out[i] = 1 - q[0]
        elif level >= row[-1]:
            out[i] = 1 - q[-1]
        else:
            out[i] = 1 - np.interp(level, row, q)
    return out
