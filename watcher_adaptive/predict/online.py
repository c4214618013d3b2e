"""Forecasts for one audit from a trained :class:`~watcher_adaptive.
predict.predictor.Predictor` and the recent usage an audit reads.

The features are the training features computed on the audit's window
(its last sample is the origin); the long-run mean is the window's.  The
behaviour-profile columns come from the guest profiler's metrics where
an instance has them (trailing hour, as the training stand-ins from the
Bitbrains columns are computed), and are NaN otherwise (the model
handles NaN natively).
"""
from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Mapping
from typing import Optional

import numpy as np

from watcher_adaptive.core import demand
from watcher_adaptive.core import features as F
from watcher_adaptive.core.types import DemandForecast
from watcher_adaptive.exceptions import ModelMismatch
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict.predictor import Predictor

#: predictor behaviour column -> the profile metric key that feeds it
#: (:data:`watcher_adaptive.adapters.gnocchi.PROFILE_METRICS`)
PROFILE_COLUMNS = {"mem_ratio": "profile_mem_used",
                   "disk_write_share": "profile_disk_write_share",
                   "net_rx_share": "profile_net_rx_share"}
PROFILE_WINDOW_S = 3600.0


def profile_columns(values: Optional[Mapping[str, np.ndarray]], n: int,
                    interval_s: float) -> np.ndarray:
    """``(n, 3)`` behaviour columns: each profile metric's mean over the
    trailing hour of ``values[key]`` (``(n, k)``), NaN where absent."""
    out = np.full((n, len(PROFILE_COLUMNS)), np.nan)
    if not values:
        return out
    keep = max(1, int(round(PROFILE_WINDOW_S / interval_s)))
    for j, key in enumerate(PROFILE_COLUMNS.values()):
        series = values.get(key)
        if series is None or np.shape(series)[0] != n or \
                np.shape(series)[1] == 0:
            continue
        tail = np.asarray(series, dtype=float)[:, -keep:]
        seen = np.isfinite(tail).any(axis=1)
        out[seen, j] = np.nanmean(tail[seen], axis=1)
    return out


def features_now(history: np.ndarray, vm_size: np.ndarray,
                 interval_s: float,
                 last_sample_epoch_s: Optional[float],
                 profile: Optional[np.ndarray] = None) -> np.ndarray:
    """VM feature rows (``dataset.vm_feature_names()``) at the window's
    last sample.

    :param history: ``(n_vms, k)`` CPU utilisation, oldest first.
    :param profile: ``(n_vms, 3)`` from :func:`profile_columns`.
    """
    cpu = np.asarray(history, dtype=float)
    n, k = cpu.shape
    rows = np.arange(n)
    origins = np.full(n, k - 1)
    own = F.features_at(F.series_stats(cpu), rows, origins)
    fleet_series = dataset._fleet(cpu, np.asarray(vm_size, dtype=float))
    fleet = F.features_at(F.series_stats(fleet_series[None, :]),
                          np.zeros(n, dtype=np.int64), origins)
    start = None if last_sample_epoch_s is None else \
        last_sample_epoch_s - (k - 1) * interval_s
    per_day = max(1, int(round(86400.0 / interval_s)))
    tod = F.time_features(origins, per_day, start, interval_s)
    if profile is None:
        profile = np.full((n, len(PROFILE_COLUMNS)), np.nan)
    return np.column_stack([own, fleet, tod, profile])


def model_forecast(predictor: Predictor, history: np.ndarray,
                   vm_size: np.ndarray, quantile: float, horizon_s: float,
                   interval_s: float,
                   last_sample_epoch_s: Optional[float],
                   profile: Optional[np.ndarray] = None,
                   max_profile_shift: Optional[float] = None,
                   on_distrust: Optional[Callable[[np.ndarray, np.ndarray],
                                                  None]] = None
                   ) -> DemandForecast:
    """Demand in capacity units from the predictor's peak quantiles.

    :param max_profile_shift: the most a VM's behaviour profile (which
        its guest reports, and may forge) may move any of its forecast
        quantiles, as a share of the VM's size, against the forecast
        from the hypervisor's own measurements alone; a VM whose profile
        moves it further gets the profile-less forecast.  ``None``: no
        check.
    :param on_distrust: called with (mask of distrusted VMs, shift per
        VM) when any profile is distrusted.
    :raises ModelMismatch: the model was trained for another horizon or
        sample interval, or does not cover ``quantile``.
    """
    if abs(predictor.horizon_s - horizon_s) > 1e-6:
        raise ModelMismatch(f"model horizon {predictor.horizon_s:g} s, "
                            f"audit horizon {horizon_s:g} s")
    if abs(predictor.interval_s - interval_s) > 1e-6:
        raise ModelMismatch(f"model interval {predictor.interval_s:g} s, "
                            f"audit granularity {interval_s:g} s")
    X = features_now(history, vm_size, interval_s, last_sample_epoch_s,
                     profile)
    samples = np.isfinite(np.asarray(history, dtype=float)).sum(axis=1)
    vm = predictor.vm_quantiles(X, history_samples=samples)
    values, cold = vm.values, vm.cold_start
    plain = None
    if profile is not None and np.isfinite(profile).any():
        # the same model on the usage history alone: what the profile
        # adds is the evidence a move's reason names, and what the
        # distrust check bounds
        plain = predictor.vm_quantiles(
            features_now(history, vm_size, interval_s, last_sample_epoch_s,
                         None), history_samples=samples)
    if max_profile_shift is not None and plain is not None:
        shift = profile_shift(vm.values, plain.values)
        distrusted = shift > max_profile_shift
        if distrusted.any():
            values = np.where(distrusted[:, None], plain.values, vm.values)
            cold = np.where(distrusted, plain.cold_start, vm.cold_start)
            if on_distrust is not None:
                on_distrust(distrusted, shift)
    try:
        forecast = demand.from_quantiles(vm.quantiles, values, vm_size,
                                         quantile, horizon_s,
                                         cold_start=cold)
        if plain is None:
            return forecast
        alone = demand.from_quantiles(vm.quantiles, plain.values, vm_size,
                                      quantile, horizon_s)
    except ValueError as exc:
        raise ModelMismatch(str(exc)) from None
    reported = np.isfinite(np.asarray(profile, dtype=float)).any(axis=1)
    return dataclasses.replace(forecast, profile_shift=np.where(
        reported, forecast.upper - alone.upper, np.nan))


def profile_shift(with_profile: np.ndarray,
                  without_profile: np.ndarray) -> np.ndarray:
    """Per VM, the largest move of any forecast quantile that its
    behaviour profile causes (share of the VM's size)."""
    diff = np.abs(np.asarray(with_profile, dtype=float)
                  - np.asarray(without_profile, dtype=float))
    diff[~np.isfinite(diff)] = 0.0
    return diff.max(axis=1) if diff.ndim == 2 and diff.shape[1] else \
        np.zeros(diff.shape[0])
