"""Usage series to feature matrices, using only the past.

Every feature of origin ``t`` (a sample index) is computed from samples
``0..t`` inclusive; targets look at ``t+1..t+h``.  ``tests/unit/core/
test_features.py`` changes the future and checks that no feature moves.

Series are ``(n_series, n_samples)`` arrays (one row per VM or per host);
NaN means "no sample" and is carried as NaN into the features, which the
gradient-boosted models handle natively.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

LAGS = (0, 1, 2, 3, 6, 12)
WINDOWS = (6, 12, 36)
TREND_WINDOW = 12
EWMA_ALPHA = 0.3


@dataclasses.dataclass(frozen=True)
class SeriesStats:
    """Per-sample rolling statistics of a set of series, precomputed once
    so that features of many origins are cheap lookups."""

    values: np.ndarray
    ewma: np.ndarray
    means: dict[int, np.ndarray]
    stds: dict[int, np.ndarray]
    maxes: dict[int, np.ndarray]
    trend: np.ndarray
    expanding_mean: np.ndarray


def _rolling(values: np.ndarray, window: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trailing mean, std and max over ``window`` samples (fewer at the
    start), NaN-aware."""
    n, t = values.shape
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    zeros = np.zeros((n, 1))
    cs = np.concatenate([zeros, np.cumsum(x, axis=1)], axis=1)
    cs2 = np.concatenate([zeros, np.cumsum(x * x, axis=1)], axis=1)
    cn = np.concatenate([zeros, np.cumsum(finite, axis=1)], axis=1)
    hi = np.arange(1, t + 1)
    lo = np.maximum(0, hi - window)
    count = cn[:, hi] - cn[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cs[:, hi] - cs[:, lo]) / count
        var = (cs2[:, hi] - cs2[:, lo]) / count - mean * mean
    std = np.sqrt(np.maximum(var, 0.0))
    padded = np.concatenate(
        [np.full((n, window - 1), -np.inf), np.where(finite, values,
                                                     -np.inf)], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window,
                                                       axis=1)
    mx = windows.max(axis=2)
    mx = np.where(np.isfinite(mx), mx, np.nan)
    return mean, std, mx


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Only the trailing NaN-aware mean over ``window`` samples (cheaper
    than :func:`series_stats` when that is all that is needed)."""
    values = np.asarray(values, dtype=np.float64)
    n, t = values.shape
    finite = np.isfinite(values)
    zeros = np.zeros((n, 1))
    cs = np.concatenate([zeros, np.cumsum(np.where(finite, values, 0.0),
                                          axis=1)], axis=1)
    cn = np.concatenate([zeros, np.cumsum(finite, axis=1)], axis=1)
    hi = np.arange(1, t + 1)
    lo = np.maximum(0, hi - window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cs[:, hi] - cs[:, lo]) / (cn[:, hi] - cn[:, lo])


def _ewma(values: np.ndarray, alpha: float) -> np.ndarray:
    out = np.empty_like(values, dtype=np.float64)
    state = np.full(values.shape[0], np.nan)
    for k in range(values.shape[1]):
        v = values[:, k]
        seen = np.isfinite(v)
        fresh = np.isnan(state) & seen
        state = np.where(fresh, v, state)
        update = seen & ~fresh
        state = np.where(update, alpha * v + (1 - alpha) * state, state)
        out[:, k] = state
    return out


def _trend(values: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope over the trailing ``window`` samples."""
    n, t = values.shape
    x = np.where(np.isfinite(values), values, 0.0)
    k = np.arange(window, dtype=np.float64)
    weights = (k - k.mean()) / ((k - k.mean()) ** 2).sum()
    padded = np.concatenate([np.repeat(x[:, :1], window - 1, axis=1), x],
                            axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window,
                                                       axis=1)
    return windows @ weights


def series_stats(values: np.ndarray) -> SeriesStats:
    """Precompute the rolling statistics of ``values`` ``(n, T)``."""
    values = np.asarray(values, dtype=np.float64)
    means, stds, maxes = {}, {}, {}
    for w in WINDOWS:
        means[w], stds[w], maxes[w] = _rolling(values, w)
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        expanding = np.cumsum(np.where(finite, values, 0.0), axis=1) / \
            np.cumsum(finite, axis=1)
    return SeriesStats(values=values, ewma=_ewma(values, EWMA_ALPHA),
                       means=means, stds=stds, maxes=maxes,
                       trend=_trend(values, TREND_WINDOW),
                       expanding_mean=expanding)


def feature_names(prefix: str) -> list[str]:
    """Names of the columns :func:`features_at` returns for one series."""
    names = [f"{prefix}lag{lag}" for lag in LAGS]
    for w in WINDOWS:
        names += [f"{prefix}mean{w}", f"{prefix}std{w}", f"{prefix}max{w}"]
    return names + [f"{prefix}ewma", f"{prefix}trend", f"{prefix}longmean"]


def features_at(stats: SeriesStats, rows: np.ndarray,
                origins: np.ndarray) -> np.ndarray:
    """Features of series ``rows`` at sample indices ``origins``.

    :param rows: ``(m,)`` series indices.
    :param origins: ``(m,)`` sample indices (the latest sample observed).
    :returns: ``(m, len(feature_names("")))``.
    """
    cols = []
    for lag in LAGS:
        idx = origins - lag
        col = stats.values[rows, np.maximum(idx, 0)]
        cols.append(np.where(idx >= 0, col, np.nan))
    for w in WINDOWS:
        cols += [stats.means[w][rows, origins], stats.stds[w][rows, origins],
                 stats.maxes[w][rows, origins]]
    cols += [stats.ewma[rows, origins], stats.trend[rows, origins],
             stats.expanding_mean[rows, origins]]
    return np.column_stack(cols)


def time_features(origins: np.ndarray, samples_per_day: int,
                  start_epoch_s: Optional[float],
                  interval_s: float) -> np.ndarray:
    """Time of day (sin, cos) and, when the start date is known, day of
    week (sin, cos; NaN otherwise)."""
    if start_epoch_s is not None:
        seconds = start_epoch_s + origins * interval_s
        day_frac = (seconds % 86400.0) / 86400.0
        week_frac = ((seconds // 86400.0 + 3) % 7) / 7.0  # 1970-01-01: Thu
        week = [np.sin(2 * np.pi * week_frac), np.cos(2 * np.pi * week_frac)]
    else:
        day_frac = (origins % samples_per_day) / samples_per_day
        week = [np.full(origins.shape, np.nan)] * 2
    return np.column_stack([np.sin(2 * np.pi * day_frac),
                            np.cos(2 * np.pi * day_frac), *week])


TIME_NAMES = ["tod_sin", "tod_cos", "dow_sin", "dow_cos"]


def future_peak(values: np.ndarray, rows: np.ndarray, origins: np.ndarray,
                horizon: int) -> np.ndarray:
    """The target: the highest sample in ``origins+1 .. origins+horizon``
    (NaN where the horizon runs past the end)."""
    n, t = values.shape
    padded = np.concatenate([values, np.full((n, horizon), np.nan)], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(
        padded[:, 1:], horizon, axis=1)
    # fmax ignores NaN (and gives NaN only when every sample is missing)
    peak = np.fmax.reduce(windows[rows, origins], axis=1) if rows.size \
        else np.zeros(0)
    incomplete = origins + horizon > t - 1
    return np.where(incomplete, np.nan, peak)
