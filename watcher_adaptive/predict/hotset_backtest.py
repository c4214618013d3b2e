"""Does the predicted hot working set beat the profile-class default?

A rolling-origin backtest over migrations in time order: each fold
trains :class:`~watcher_adaptive.core.hotset.HotSetPredictor` on the
migrations that ended before it and predicts the hot share of the ones
in it.  Compared: the model, the class default (class medians learned on
the same training migrations, static table when a class has too few),
the static table alone, and the VM's last measured share.

Two sources of migrations, neither of them a real migration history
yet (the destination agent does not report measured page temperatures
today):

``recorded``
    the guest-agent run in ``tools/data/profile-run.jsonl.gz`` (one
    machine, phases of seven workload kinds, 2 s records).  A migration
    is placed every ``every`` records; its "measured hot share" is the
    guest's own working-set ratio (active anon + active file) over the
    next ``ahead`` records, its profile the trailing ``window`` records,
    its class the phase running.
``synthetic``
    VMs of five classes whose hot share is a per-VM level around the
    class centre (spread ``vm_spread``), drifting a little per
    migration and measured with noise; their profiles carry that level
    with noise (working-set ratio, fault and refault rates).  This only
    shows the learning path works when profiles carry the signal; the
    numbers depend on the stated generator.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from watcher_adaptive.core import hotset
from watcher_adaptive.predict import recorded_run

CLASSES = ("idle", "web", "batch", "db", "cache")


def recorded_migrations(path: Path, every: int = 5, window: int = 30,
                        ahead: int = 5) -> dict:
    """Migrations placed on a recorded guest-agent run (see module)."""
    feats, phases = recorded_run.read(path, window + ahead + 1)
    keys = sorted({k for f in feats for k in f})
    if "mem.working_set_ratio" not in keys:
        raise ValueError(f"{path}: no record has mem.working_set_ratio, "
                         "the hot share this backtest predicts")
    table = np.array([[f.get(k, np.nan) for k in keys] for f in feats],
                     dtype=float)
    ws = table[:, keys.index("mem.working_set_ratio")]
    rows, y, types, times, vms = [], [], [], [], []
    past: list[float] = []
    for t in range(window, len(feats) - ahead, every):
        with np.errstate(all="ignore"):
            mean = np.nanmean(table[t - window:t], axis=0)
        profile = dict(zip(keys, mean.tolist(), strict=True))
        truth = float(np.nanmean(ws[t:t + ahead]))
        rows.append(hotset.feature_row(profile, past))
        y.append(truth)
        types.append(phases[t])
        times.append(t)
        vms.append("recorded")
        past = past + [truth]
    return {"X": np.array(rows), "y": np.array(y), "types": types,
            "times": np.array(times, dtype=float), "vms": vms,
            "source": f"recorded run {path.name}: a migration every "
                      f"{every} records, truth = working-set ratio over "
                      f"the next {ahead}, profile = trailing {window}"}


def synthetic_migrations(n_vms: int = 80, per_vm: int = 8,
                         vm_spread: float = 0.12, drift: float = 0.03,
                         noise: float = 0.03, profile_noise: float = 0.08,
                         seed: int = 0) -> dict:
    """Migrations of synthetic VMs (see module for the assumptions)."""
    rng = np.random.default_rng(seed)
    centre = {c: hotset.CLASS_DEFAULT_HOT_SHARE[c] for c in CLASSES}
    rows, y, types, times, vms = [], [], [], [], []
    for v in range(n_vms):
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        level = float(np.clip(centre[cls] + rng.normal(0, vm_spread),
                              0.01, 0.95))
        busy = float(rng.uniform(0.05, 0.9))
        past: list[float] = []
        # VMs arrive over the whole span: some first migrate in the
        # test folds, with no history of their own (cold start)
        t = float(rng.uniform(0, 1500))
        for _ in range(per_vm):
            level = float(np.clip(level + rng.normal(0, drift), 0.01,
                                  0.95))
            truth = float(np.clip(level + rng.normal(0, noise), 0, 1))
            ws = float(np.clip(0.8 * level + 0.05
                               + rng.normal(0, profile_noise), 0, 1))
            profile = {
                "mem.working_set_ratio": ws,
                "mem.used_ratio": float(np.clip(
                    ws + 0.2 + rng.normal(0, 0.1), 0, 1)),
                "mem.total_mb": 4096.0,
                "mem.anon_mb": 4096.0 * float(np.clip(
                    0.7 * ws + rng.normal(0, 0.05), 0, 1)),
                "mem.cache_mb": 4096.0 * float(rng.uniform(0.05, 0.3)),
                "mem.minflt_ps": float(np.exp(2 + 6 * level
                                              + rng.normal(0, 1))),
                "mem.majflt_ps": float(np.exp(rng.normal(0, 1))),
                "mem.refault_ps": float(np.exp(3 * level
                                               + rng.normal(0, 1))),
                "cpu.idle": 1.0 - busy,
                "disk.write_share": float(rng.uniform(0, 1)),
            }
            rows.append(hotset.feature_row(profile, past))
            y.append(truth)
            types.append(cls)
            times.append(t)
            vms.append(f"vm-{v}")
            past = past + [truth]
            t += float(rng.uniform(50, 150))
    return {"X": np.array(rows), "y": np.array(y), "types": types,
            "times": np.array(times), "vms": vms,
            "source": f"synthetic: {n_vms} VMs x {per_vm} migrations, "
                      f"VM spread {vm_spread}, drift {drift}, noise "
                      f"{noise}, profile noise {profile_noise}, seed "
                      f"{seed}"}


def evaluate(data: dict, folds: int = 3, first_train_share: float = 0.4,
             seed: int = 0) -> dict:
    """MAE of the hot share for each method, pooled over the folds."""
    X, y = data["X"], data["y"]
    types = np.asarray(data["types"], dtype=object)
    order = np.argsort(data["times"], kind="stable")
    X, y, types = X[order], y[order], types[order]
    n = y.size
    cuts = (np.linspace(first_train_share, 1.0, folds + 1) * n).astype(int)
    hist_last = X[:, hotset.FEATURES.index("hist_last")]
    cold = X[:, hotset.FEATURES.index("hist_n")] == 0
    pooled: dict[str, list] = {k: [] for k in (
        "y", "cold", "model", "class_default", "static", "last")}
    sources = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        if hi <= lo or lo < 2:
            continue
        est = hotset.HotSetPredictor(random_state=seed).fit(
            X[:lo], y[:lo], list(types[:lo]))
        sources.append(est.source())
        test = slice(lo, hi)
        default = est.class_default(list(types[test]))
        pooled["y"].append(y[test])
        pooled["cold"].append(cold[test])
        pooled["model"].append(est.predict(X[test], list(types[test])))
        pooled["class_default"].append(default)
        pooled["static"].append(np.array(
            [hotset.static_default(t) for t in types[test]]))
        pooled["last"].append(np.where(np.isfinite(hist_last[test]),
                                       hist_last[test], default))
    if not pooled["y"]:
        raise ValueError("too few migrations for a backtest")
    truth = np.concatenate(pooled["y"])
    is_cold = np.concatenate(pooled["cold"])
    out: dict = {"source": data["source"], "migrations": int(n),
                 "test_migrations": int(truth.size),
                 "cold_test_migrations": int(is_cold.sum()),
                 "mean_hot_share": float(truth.mean()),
                 "fold_sources": sources, "mae": {}, "mae_rel": {},
                 "mae_cold": {}}
    for name in ("model", "class_default", "static", "last"):
        err = np.abs(np.concatenate(pooled[name]) - truth)
        out["mae"][name] = float(err.mean())
        out["mae_rel"][name] = float(err.mean()) / max(
            float(truth.mean()), 1e-12)
        out["mae_cold"][name] = float(err[is_cold].mean()) \
            if is_cold.any() else None
    out["model_beats_class_default"] = bool(
        out["mae"]["model"] < out["mae"]["class_default"])
    return out


def run(recorded: Optional[Path], seed: int = 0) -> list[dict]:
    results = []
    if recorded is not None:
        results.append(evaluate(recorded_migrations(recorded), seed=seed))
    results.append(evaluate(synthetic_migrations(seed=seed), seed=seed))
    return results


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r['source']}")
        lines.append(f"  {r['test_migrations']} of {r['migrations']} "
                     f"migrations tested, mean hot share "
                     f"{r['mean_hot_share']:.4f}")
        for name in ("model", "class_default", "static", "last"):
            cold = r["mae_cold"][name]
            lines.append(f"  {name:<14} MAE {r['mae'][name]:.4f} "
                         f"({100 * r['mae_rel'][name]:5.1f} % of the "
                         "mean)" + ("" if cold is None else
                                    f"; no own history "
                                    f"({r['cold_test_migrations']}): "
                                    f"{cold:.4f}"))
        lines.append("  model beats the class default: "
                     + ("yes" if r["model_beats_class_default"] else "no"))
    return "\n".join(lines)
