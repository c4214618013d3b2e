"""The resource predictor: VM and host models, cold start, persistence.

:class:`Predictor` bundles a VM-level :class:`~watcher_adaptive.core.
forecast.QuantileForecaster` (peak CPU of each VM over the horizon), a
host-level one (peak of a host's summed demand, with the fleet's signals
as features, which is how the dependence between VMs on a host is taken
into account), the behaviour clusterer, and the decision threshold on the
host's overload probability, tuned on held-out training rows for F1.

Persistence is ``joblib`` plus a JSON metadata file; :func:`load` refuses
a model whose metadata does not match what the caller expects.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Optional
from typing import Sequence

import joblib
import numpy as np
import sklearn

from watcher_adaptive.core import forecast
from watcher_adaptive.core import metrics
from watcher_adaptive.core import profiles
from watcher_adaptive.exceptions import ModelMismatch
from watcher_adaptive.predict import dataset

FORMAT_VERSION = 1
HOST_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.98)


@dataclasses.dataclass(frozen=True)
class VmForecast:
    """Peak-demand quantiles per VM; ``cold_start`` marks VMs whose
    forecast is their profile's prior (too little history)."""

    quantiles: tuple[float, ...]
    values: np.ndarray
    cold_start: np.ndarray
    profile: np.ndarray


class Predictor:
    """Fit on training rows, forecast VMs and hosts."""

    def __init__(self, horizon_s: float, interval_s: float = 300.0,
                 quantiles: Sequence[float] = forecast.DEFAULT_QUANTILES,
                 n_profiles: int = 4, random_state: int = 0,
                 max_train_rows: int = 300_000) -> None:
        self.horizon_s = float(horizon_s)
        self.interval_s = float(interval_s)
        self.quantiles = tuple(float(q) for q in quantiles)
        self.n_profiles = n_profiles
        self.random_state = random_state
        self.max_train_rows = max_train_rows
        self.vm_features = dataset.vm_feature_names()
        self.host_features = dataset.host_feature_names()
        self.training_window: list[str] = []

    @property
    def horizon_samples(self) -> int:
        return max(1, int(round(self.horizon_s / self.interval_s)))

    # ------------------------------------------------------------------
    def fit(self, vm: dataset.Rows, host: dataset.Rows,
            training_window: Sequence[str] = ()) -> "Predictor":
        self.training_window = list(training_window)
        cols = profiles.profile_columns(self.vm_features)
        self.profiler_ = profiles.ProfileClusterer(
            self.n_profiles, random_state=self.random_state).fit(vm.X[:, cols])
        labels = self.profiler_.predict(vm.X[:, cols])
        self.vm_model_ = forecast.QuantileForecaster(
            self.quantiles, max_train_rows=self.max_train_rows,
            random_state=self.random_state).fit(
                np.column_stack([vm.X, labels]), vm.y)
        # the prior of a VM with too little history: its profile's
        # quantiles of the target
        q = np.asarray(self.quantiles)
        self.priors_ = np.array([
            np.quantile(vm.y[labels == k], q) if np.any(labels == k)
            else np.quantile(vm.y, q) for k in range(self.n_profiles)])
        # host model on the first 80 % of host rows, threshold on the rest
        cut = int(host.X.shape[0] * 0.8)
        self.host_model_ = forecast.QuantileForecaster(
            HOST_QUANTILES, max_train_rows=self.max_train_rows,
            random_state=self.random_state).fit(host.X[:cut], host.y[:cut])
        prob = self.host_overload_probability(host.X[cut:])
        self.threshold_ = _best_threshold(prob, host.event[cut:])
        return self

    # ------------------------------------------------------------------
    def vm_quantiles(self, X: np.ndarray,
                     history_samples: Optional[np.ndarray] = None
                     ) -> VmForecast:
        """Quantiles of each row's peak; rows with fewer than
        :data:`dataset.MIN_HISTORY` samples get their profile's prior."""
        cols = profiles.profile_columns(self.vm_features)
        labels = self.profiler_.predict(X[:, cols])
        values = self.vm_model_.predict_quantiles(
            np.column_stack([X, labels]))
        cold = np.zeros(X.shape[0], dtype=bool)
        if history_samples is not None:
            cold = np.asarray(history_samples) < dataset.MIN_HISTORY
            values[cold] = self.priors_[labels[cold]]
        return VmForecast(self.quantiles, values, cold, labels)

    def vm_exceedance(self, X: np.ndarray, level: float) -> np.ndarray:
        """P(a VM's peak over the horizon exceeds ``level``)."""
        return forecast.exceedance_probability(
            self.vm_quantiles(X).values, self.quantiles, level)

    def fit_resource(self, name: str, rows: dataset.Rows
                     ) -> forecast.QuantileForecaster:
        """Train the forecaster of another resource (memory, disk,
        network) on rows built with :func:`dataset.vm_rows`."""
        model = forecast.QuantileForecaster(
            self.quantiles, max_train_rows=self.max_train_rows,
            random_state=self.random_state).fit(rows.X, rows.y)
        if not hasattr(self, "resources_"):
            self.resources_: dict[str, forecast.QuantileForecaster] = {}
        self.resources_[name] = model
        return model

    def host_quantiles(self, X: np.ndarray) -> np.ndarray:
        return self.host_model_.predict_quantiles(X)

    def host_overload_probability(self, X: np.ndarray) -> np.ndarray:
        """P(a host's peak demand over the horizon exceeds capacity)."""
        return forecast.exceedance_probability(self.host_quantiles(X),
                                               HOST_QUANTILES, 1.0)

    def host_overloaded(self, X: np.ndarray) -> np.ndarray:
        return self.host_overload_probability(X) >= self.threshold_

    # ------------------------------------------------------------------
    def metadata(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "horizon_s": self.horizon_s,
            "interval_s": self.interval_s,
            "quantiles": list(self.quantiles),
            "vm_features": self.vm_features,
            "host_features": self.host_features,
            "training_window": self.training_window,
            "versions": {"scikit-learn": sklearn.__version__,
                         "numpy": np.__version__},
            "created": datetime.datetime.now(
                datetime.timezone.utc).isoformat(timespec="seconds"),
        }


def _best_threshold(prob: np.ndarray, event: np.ndarray) -> float:
    """The probability threshold with the best F1 on held-out rows."""
    best, best_f1 = 0.5, -1.0
    for thr in np.unique(np.round(prob, 3)):
        f1 = metrics.event_scores(event, prob >= thr).f1
        if f1 > best_f1:
            best, best_f1 = float(thr), f1
    return best


def save(predictor: Predictor, path: Path) -> tuple[Path, Path]:
    """Write ``<path>.joblib`` and ``<path>.json``."""
    path = Path(path)
    model_file = path.with_suffix(".joblib")
    meta_file = path.with_suffix(".json")
    joblib.dump(predictor, model_file)
    meta_file.write_text(json.dumps(predictor.metadata(), indent=2) + "\n")
    return model_file, meta_file


def load(path: Path, horizon_s: Optional[float] = None,
         quantiles: Optional[Sequence[float]] = None) -> Predictor:
    """Load a saved predictor after checking its metadata.

    :raises ModelMismatch: the metadata is missing, from another format,
        from other library versions, for another horizon or quantiles, or
        the features differ from this code's.
    """
    path = Path(path)
    meta_file = path.with_suffix(".json")
    if not meta_file.is_file():
        raise ModelMismatch(f"{meta_file}: metadata file missing; refusing "
                            "to load a model whose origin is unknown")
    meta = json.loads(meta_file.read_text())
    problems = []
    if meta.get("format") != FORMAT_VERSION:
        problems.append(f"format {meta.get('format')} != {FORMAT_VERSION}")
    want_versions = {"scikit-learn": sklearn.__version__,
                     "numpy": np.__version__}
    for lib, version in want_versions.items():
        have = meta.get("versions", {}).get(lib)
        if have != version:
            problems.append(f"trained with {lib} {have}, running {version}")
    if meta.get("vm_features") != dataset.vm_feature_names() or \
            meta.get("host_features") != dataset.host_feature_names():
        problems.append("feature list differs from this version's")
    if horizon_s is not None and meta.get("horizon_s") != float(horizon_s):
        problems.append(f"horizon {meta.get('horizon_s')} s, wanted "
                        f"{float(horizon_s)} s")
    if quantiles is not None and \
            meta.get("quantiles") != [float(q) for q in quantiles]:
        problems.append(f"quantiles {meta.get('quantiles')}, wanted "
                        f"{list(quantiles)}")
    if problems:
        raise ModelMismatch(f"{path}: refusing to load: "
                            + "; ".join(problems) + " (retrain it)")
    return joblib.load(path.with_suffix(".joblib"))  # noqa: S301 - own file
