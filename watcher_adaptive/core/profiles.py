"""Behaviour clusters: group VMs into application profiles.

The profile id is a feature of the predictor and, later, what the
destination host uses to pick its hot/warm/cold thresholds.  Profiles are
found with k-means on a VM's trailing behaviour (CPU level and spread,
and where the trace has them memory, disk and network shares), scaled.
"""
from __future__ import annotations

from typing import Any
from typing import Optional
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted


class ProfileClusterer(ClusterMixin, BaseEstimator):
    """K-means on NaN-tolerant behaviour vectors.

    :param n_profiles: number of profiles.
    :param max_fit_rows: rows are subsampled above this for speed.
    :param random_state: seeds k-means and the subsample.
    """

    def __init__(self, n_profiles: int = 4, max_fit_rows: int = 50_000,
                 random_state: Optional[int] = None) -> None:
        self.n_profiles = n_profiles
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        filled = np.where(np.isfinite(X), X, self.fill_)
        return (filled - self.center_) / self.scale_

    def fit(self, X: Any, y: Any = None) -> "ProfileClusterer":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < self.n_profiles:
            raise ValueError("need a 2-D array with at least n_profiles rows")
        rng = np.random.default_rng(self.random_state)
        if X.shape[0] > self.max_fit_rows:
            X = X[rng.choice(X.shape[0], self.max_fit_rows, replace=False)]
        with np.errstate(all="ignore"):
            fill = np.nanmedian(X, axis=0)
        self.fill_ = np.where(np.isfinite(fill), fill, 0.0)
        filled = np.where(np.isfinite(X), X, self.fill_)
        self.center_ = filled.mean(axis=0)
        scale = filled.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        seed = None if self.random_state is None else int(self.random_state)
        self.kmeans_ = KMeans(n_clusters=self.n_profiles, n_init=4,
                              random_state=seed).fit(self._prepare(X))
        self.labels_ = self.kmeans_.labels_
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self._prepare(X))


def profile_columns(names: Sequence[str]) -> list[int]:
    """Which feature columns describe behaviour (for clustering)."""
    wanted = ("longmean", "std36", "max36", "mem_ratio",
              "disk_write_share", "net_rx_share")
    return [i for i, n in enumerate(names) if n in wanted]
