"""The expected hot working set of a VM about to migrate: the share of
its memory the destination should expect to be touched at once.

Inputs are the VM's behaviour profile (the trailing means of its
``adaptive.*`` metrics, keys as the guest agent names them) and its own
migration history (the hot shares the destination agent measured
before).  A gradient-boosted model learns the share from both; with too
little history to learn from, or nothing known about the VM, the
profile-class default answers (learned per class from the history when
a class has enough migrations, else the static table below).

Pure: numpy and scikit-learn only.
"""
from __future__ import annotations

import math
from typing import Any
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted
from sklearn.utils.validation import validate_data

#: hot share by profile class when nothing was learned yet: a guess from
#: the kinds of guests (idle ones touch little, caches and databases
#: much), to be replaced by learned medians as history accumulates
CLASS_DEFAULT_HOT_SHARE: dict[str, float] = {
    "idle": 0.05, "web": 0.25, "batch": 0.45, "db": 0.6, "cache": 0.7}
DEFAULT_HOT_SHARE = 0.3

FEATURES = ("ws_ratio", "used_ratio", "anon_ratio", "cache_ratio",
            "log_minflt_ps", "log_majflt_ps", "log_refault_ps",
            "cpu_busy", "disk_write_share", "hist_last", "hist_mean",
            "hist_n")


def _get(profile: Mapping[str, float], key: str) -> float:
    value = profile.get(key)
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def feature_row(profile: Mapping[str, float],
                past_hot_shares: Sequence[float] = ()) -> np.ndarray:
    """One row of :data:`FEATURES` (NaN where unknown).

    :param profile: guest-agent feature -> trailing mean
        (``mem.working_set_ratio``, ``mem.total_mb``, ...).
    :param past_hot_shares: hot share of memory measured at this VM's
        earlier migrations, oldest first.
    """
    total = _get(profile, "mem.total_mb")
    per_mb = 1.0 / total if total and total > 0 else math.nan
    idle = _get(profile, "cpu.idle")
    hist = np.asarray([s for s in past_hot_shares
                       if s is not None and math.isfinite(s)], float)
    return np.array([
        _get(profile, "mem.working_set_ratio"),
        _get(profile, "mem.used_ratio"),
        _get(profile, "mem.anon_mb") * per_mb,
        _get(profile, "mem.cache_mb") * per_mb,
        math.log1p(max(_get(profile, "mem.minflt_ps"), 0.0)),
        math.log1p(max(_get(profile, "mem.majflt_ps"), 0.0)),
        math.log1p(max(_get(profile, "mem.refault_ps"), 0.0)),
        1.0 - idle,
        _get(profile, "disk.write_share"),
        hist[-1] if hist.size else math.nan,
        hist.mean() if hist.size else math.nan,
        float(hist.size),
    ])


def static_default(vm_type: Optional[str]) -> float:
    return CLASS_DEFAULT_HOT_SHARE.get(vm_type or "", DEFAULT_HOT_SHARE)


class HotSetPredictor(RegressorMixin, BaseEstimator):
    """Hot share of memory from :func:`feature_row` rows.

    :param min_samples: fewer training rows than this: no model, the
        class defaults answer.
    :param min_class_samples: migrations a class needs before its
        learned median replaces the static default.
    :param max_iter: boosting iterations.
    :param learning_rate: boosting step.
    :param random_state: seeds the booster.
    """

    def __init__(self, min_samples: int = 30, min_class_samples: int = 5,
                 max_iter: int = 150, learning_rate: float = 0.08,
                 random_state: Optional[int] = None) -> None:
        self.min_samples = min_samples
        self.min_class_samples = min_class_samples
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, X: Any, y: Any, vm_types: Optional[Sequence[str]] = None
            ) -> "HotSetPredictor":
        from sklearn.ensemble import HistGradientBoostingRegressor

        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan",
                             y_numeric=True, dtype=np.float64)
        y = np.clip(y, 0.0, 1.0)
        types = np.asarray(
            [t or "" for t in (vm_types if vm_types is not None
                               else [""] * y.size)], dtype=object)
        if types.size != y.size:
            raise ValueError("vm_types must have one entry per row")
        self.global_median_ = float(np.median(y)) if y.size \
            else DEFAULT_HOT_SHARE
        self.class_medians_: dict[str, float] = {
            str(t): float(np.median(y[types == t]))
            for t in set(types.tolist())
            if t and int(np.sum(types == t)) >= self.min_class_samples}
        self.model_ = None
        self.n_iter_ = 0
        if y.size >= self.min_samples:
            # the booster learns the correction to the baseline (the
            # VM's last measured share, else its class default): with
            # persistent VMs the baseline is most of the answer
            base = self._baseline(X, list(types))
            # columns never seen, or never varying, carry nothing (and
            # trip the booster's binning)
            seen = np.isfinite(X)
            high = np.where(seen, X, -np.inf).max(axis=0)
            low = np.where(seen, X, np.inf).min(axis=0)
            self.columns_ = np.flatnonzero(seen.any(axis=0)
                                           & (high > low))
            if self.columns_.size:
                self.model_ = HistGradientBoostingRegressor(
                    max_iter=self.max_iter,
                    learning_rate=self.learning_rate,
                    min_samples_leaf=max(5, y.size // 50),
                    random_state=self.random_state).fit(
                        X[:, self.columns_], y - base)
                self.n_iter_ = int(self.model_.n_iter_)
        return self

    def _baseline(self, X: np.ndarray, vm_types: Sequence[Optional[str]]
                  ) -> np.ndarray:
        last = X[:, FEATURES.index("hist_last")] \
            if X.shape[1] == len(FEATURES) else np.full(X.shape[0], np.nan)
        return np.where(np.isfinite(last), last,
                        self.class_default(vm_types))

    def class_default(self, vm_types: Sequence[Optional[str]]
                      ) -> np.ndarray:
        """The fallback: the class median learned from the history when
        the class has enough migrations, else the static table for a
        class it names, else the median of all migrations learned from
        (the table's overall default before any)."""
        check_is_fitted(self, "class_medians_")
        return np.array([self._default_of(t) for t in vm_types],
                        dtype=float)

    def _default_of(self, vm_type: Optional[str]) -> float:
        if vm_type and vm_type in self.class_medians_:
            return self.class_medians_[vm_type]
        if vm_type in CLASS_DEFAULT_HOT_SHARE:
            return CLASS_DEFAULT_HOT_SHARE[vm_type]
        return self.global_median_

    def predict(self, X: Any, vm_types: Optional[Sequence[str]] = None
                ) -> np.ndarray:
        check_is_fitted(self, "class_medians_")
        X = validate_data(self, X, reset=False,
                          ensure_all_finite="allow-nan", dtype=np.float64)
        types = list(vm_types) if vm_types is not None \
            else [None] * X.shape[0]
        fallback = self.class_default(types)
        if self.model_ is None:
            return fallback
        known = np.isfinite(X).any(axis=1)
        out = fallback.copy()
        if known.any():
            base = self._baseline(X[known], [t for t, k in
                                             zip(types, known, strict=True)
                                             if k])
            correction = self.model_.predict(X[known][:, self.columns_])
            out[known] = np.clip(base + correction, 0.0, 1.0)
        return out

    def source(self) -> str:
        """``model`` or ``class_default`` (what :meth:`predict` uses
        for rows with something known)."""
        check_is_fitted(self, "class_medians_")
        return "model" if self.model_ is not None else "class_default"


def expected_hot_kib(share: float, memory_kib: float) -> int:
    """The hint's ``expected_hot_kib``: ``share`` of ``memory_kib``."""
    if not (math.isfinite(share) and math.isfinite(memory_kib)):
        raise ValueError("share and memory must be finite")
    return int(round(min(max(share, 0.0), 1.0) * max(memory_kib, 0.0)))
