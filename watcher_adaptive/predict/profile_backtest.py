"""Do behaviour-profile features help the forecast?  A backtest on a
recorded run of the guest agent (``tools/record_profile_run.py``).

The question is the predictor's: the peak CPU over the next ``h``
samples.  The same gradient-boosted quantile model is trained twice,
on the CPU history features the predictor uses (:mod:`~watcher_adaptive.
core.features`), and on those plus the profile the agent sent at the
origin (every feature except the CPU shares themselves; rates on a log
scale).  Rolling origin in time: each fold trains on everything before
it.  Reported: MAE of the median, pinball loss and coverage of P90,
next to the last value (with its training residual quantile as P90).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from watcher_adaptive.core import features as F
from watcher_adaptive.predict import recorded_run
from watcher_adaptive.profiler.guest import schema

CPU_SHARES = ("cpu.user", "cpu.system", "cpu.iowait", "cpu.steal",
              "cpu.idle")
PROFILE_NAMES = tuple(n for n in schema.FEATURES if n not in CPU_SHARES)
_BOUNDED = {n for n, (lo, hi, _) in schema.FEATURES.items() if hi <= 1.0}
QUANTILES = (0.5, 0.9)


def load_run(path: Path, min_records: int = 1
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CPU busy share ``(T,)``, profile matrix ``(T, n_features)`` and
    the phase of each sample, from a recorded run."""
    records, phases = recorded_run.read(path, min_records)
    cpu = [1.0 - feats["cpu.idle"] if "cpu.idle" in feats else np.nan
           for feats in records]
    rows = [[feats.get(n, np.nan) for n in PROFILE_NAMES]
            for feats in records]
    profile = np.asarray(rows, dtype=float)
    for j, name in enumerate(PROFILE_NAMES):
        if name not in _BOUNDED:
            profile[:, j] = np.log1p(np.maximum(profile[:, j], 0.0))
    return np.asarray(cpu, dtype=float), profile, phases


def _pinball(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    d = y - q
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d)))


def _scores(y: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> dict:
    return {"mae_p50": float(np.mean(np.abs(y - p50))),
            "pinball_p90": _pinball(y, p90, 0.9),
            "coverage_p90": float(np.mean(y <= p90))}


def evaluate(cpu: np.ndarray, profile: np.ndarray, horizon: int,
             folds: int = 3, first_train_share: float = 0.4,
             seed: int = 0, max_iter: int = 200) -> dict:
    """Scores of ``history``, ``history+profile`` and ``last`` for one
    horizon (samples), pooled over the rolling-origin folds."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    t = cpu.size
    origins = np.arange(F.WINDOWS[-1], t - horizon)
    rows = np.zeros(origins.size, dtype=np.int64)
    stats = F.series_stats(cpu[None, :])
    X_hist = F.features_at(stats, rows, origins)
    X_prof = np.column_stack([X_hist, profile[origins]])
    y = F.future_peak(cpu[None, :], rows, origins, horizon)
    last = cpu[origins]
    ok = np.isfinite(y)
    cuts = np.linspace(first_train_share, 1.0, folds + 1) * t
    pooled: dict[str, list] = {k: [] for k in ("y", "history", "profile",
                                               "last")}
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        # a gap of one horizon keeps training targets out of the test
        train = ok & (origins + horizon < lo)
        test = ok & (origins >= lo) & (origins < hi)
        if train.sum() < 50 or not test.any():
            continue
        pooled["y"].append(y[test])
        for name, X in (("history", X_hist), ("profile", X_prof)):
            # features the run never had, or that never moved before
            # this fold, carry nothing (and trip the binning)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                varies = np.nanstd(X[train], axis=0) > 0
            X = X[:, varies]
            preds = []
            for q in QUANTILES:
                model = HistGradientBoostingRegressor(
                    loss="quantile", quantile=q, max_iter=max_iter,
                    learning_rate=0.05, random_state=seed)
                model.fit(X[train], y[train])
                preds.append(model.predict(X[test]))
            pooled[name].append(np.column_stack(preds))
        resid = np.quantile(y[train] - last[train], QUANTILES)
        pooled["last"].append(last[test][:, None] + resid[None, :])
    if not pooled["y"]:
        raise ValueError(f"run too short for a {horizon}-sample horizon")
    y_all = np.concatenate(pooled["y"])
    out = {"horizon": horizon, "test_samples": int(y_all.size)}
    for name in ("history", "profile", "last"):
        p = np.concatenate(pooled[name])
        out[name] = _scores(y_all, p[:, 0], np.maximum(p[:, 0], p[:, 1]))
    return out


def run(path: Path, horizons: Sequence[int] = (1, 5, 15),
        max_iter: int = 200) -> dict:
    # the longest history window, the horizon and a few origins per fold
    cpu, profile, phases = load_run(
        path, min_records=F.WINDOWS[-1] + max(horizons) + 10)
    return {"run": str(path), "samples": int(cpu.size),
            "phases": sorted(set(phases)),
            "features": list(PROFILE_NAMES),
            "results": [evaluate(cpu, profile, h, max_iter=max_iter)
                        for h in horizons]}


def table(report: dict) -> str:
    lines = [f"{report['samples']} samples, phases: "
             f"{', '.join(report['phases'])}",
             f"{'horizon':>7}  {'model':<17}{'MAE P50':>9}"
             f"{'pinball P90':>13}{'cover P90':>11}"]
    label = {"history": "history", "profile": "history+profile",
             "last": "last value"}
    for r in report["results"]:
        for name in ("history", "profile", "last"):
            s = r[name]
            lines.append(f"{r['horizon']:>7}  {label[name]:<17}"
                         f"{s['mae_p50']:>9.4f}{s['pinball_p90']:>13.4f}"
                         f"{s['coverage_p90']:>11.3f}")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    names = [("history", "history"), ("profile", "history+profile"),
             ("last", "last value")]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    width = 0.27
    x = np.arange(len(results))
    for k, (key, label) in enumerate(names):
        for ax, metric in zip(axes, ("mae_p50", "pinball_p90"),
                              strict=True):
            ax.bar(x + (k - 1) * width, [r[key][metric] for r in results],
                   width, label=label)
    for ax, title in zip(axes, ("MAE of P50 (lower is better)",
                                "pinball loss of P90"), strict=True):
        ax.set_xticks(x, [f"{r['horizon']} samples" for r in results])
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle("Peak CPU forecast with and without behaviour profiles",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
