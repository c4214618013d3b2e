"""Rolling-origin backtest of the predictor against the classic baselines.

With several traces (in the order given) each one is forecast by a model
trained on the traces before it; with one trace, the model trains on its
first half and is judged on the second, and the training rows stop one
horizon before the cut, so that no training target reaches a sample the
test is judged on.  Features only ever use the past.

VM level: the peak CPU of each VM over the horizon; P50 and P90 of our
model, and of each baseline (its point forecast plus the residual
quantiles it showed on the training rows).  Host level: will the host's
demand exceed its capacity at any sample within the horizon, for the
hosts and VMs of an LR-MMT replay of the same trace at each frame (the
question LR-MMT's own detector answers).  Baselines: ``last`` value,
``seasonal`` naive (same time the day before, where the trace is longer
than a day), ``ewma``, and ``lr`` (LR-MMT's local regression; at host
level its exact rule, 1.2 x prediction >= 1).

The replay is not run here: the caller gives each trace's host
membership (:class:`~watcher_adaptive.predict.dataset.Membership`; the
command line takes it from :mod:`watcher_adaptive.evaluate.membership`).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.core import forecast
from watcher_adaptive.core import metrics
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor as P
from watcher_adaptive.traces.model import TraceSet

BASELINES = ("last", "seasonal", "ewma", "lr")
MODELS = ("adaptive", *BASELINES)
#: VM rows kept per trace (uniformly sampled) for training and scoring
MAX_VM_ROWS_PER_TRACE = 120_000

#: ``membership(trace)``: where the trace's VMs ran, frame by frame
MembershipOf = Callable[[TraceSet], dataset.Membership]


@dataclasses.dataclass
class Fold:
    """One test block: what was forecast and how each model did."""

    test_trace: str
    train_traces: tuple[str, ...]
    vm: dataset.Rows
    host: dataset.Rows
    vm_quantiles: dict[str, np.ndarray]
    host_events: dict[str, np.ndarray]
    #: one-trace folds: first and last origin sample of the training and
    #: the test rows (a target covers the ``horizon`` samples after its
    #: origin); ``None`` when whole traces train and test
    train_origins: Optional[tuple[int, int]] = None
    test_origins: Optional[tuple[int, int]] = None
    horizon: int = 0


@dataclasses.dataclass
class HorizonResult:
    horizon_s: float
    folds: list[Fold]
    scores: dict[str, dict[str, Optional[float]]]
    train_s: float
    predict_s: float
    #: per resource other than CPU: model -> VM-level scores
    resources: dict[str, dict[str, dict[str, Optional[float]]]] = \
        dataclasses.field(default_factory=dict)


def split_cut(origins: np.ndarray, horizon: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the training and test rows of a one-trace fold.

    Test: origins from the median on.  Training: origins whose target
    window (the ``horizon`` samples after the origin) ends at the cut at
    the latest, so the model never learns from a sample it is tested on.
    """
    cut = int(np.median(origins))
    return origins + horizon <= cut, origins >= cut


def _span(origins: np.ndarray) -> Optional[tuple[int, int]]:
    return (int(origins.min()), int(origins.max())) if origins.size \
        else None


def _split_single(vm: dataset.Rows, host: dataset.Rows, horizon: int
                  ) -> tuple[tuple[dataset.Rows, dataset.Rows],
                             tuple[dataset.Rows, dataset.Rows]]:
    train, test = split_cut(vm.origins, horizon)
    # the VM rows' cut for the host rows too: one range for both
    cut = int(vm.origins[test].min())
    return ((vm.take(train), host.take(host.origins + horizon <= cut)),
            (vm.take(test), host.take(host.origins >= cut)))


def _baseline_quantiles(train: dataset.Rows, test: dataset.Rows,
                        quantiles: Sequence[float]) -> dict[str, np.ndarray]:
    out = {}
    for name in BASELINES:
        point_train = train.baselines[name][:, None]
        if not np.isfinite(point_train).any() or \
                not np.isfinite(test.baselines[name]).any():
            continue  # e.g. seasonal on a one-day trace
        model = forecast.ResidualQuantileForecaster(0, quantiles).fit(
            point_train, train.y)
        out[name] = model.predict_quantiles(test.baselines[name][:, None])
    return out


def non_negative(vm_quantiles: dict[str, np.ndarray]
                 ) -> dict[str, np.ndarray]:
    """Every model's quantiles clipped at 0: a peak of CPU, memory or a
    rate (or its log1p) is never negative, but a baseline's point plus a
    negative residual quantile (LR's P50 on an idle VM) can be."""
    return {k: np.maximum(v, 0.0) for k, v in vm_quantiles.items()}


def _host_baseline_events(test: dataset.Rows) -> dict[str, np.ndarray]:
    out = {"lr": test.lr_mmt_event}
    for name in ("last", "seasonal", "ewma"):
        point = test.baselines[name]
        if np.isfinite(point).any():
            out[name] = np.nan_to_num(point, nan=0.0) >= 1.0
    return out


def backtest_horizon(traces: Sequence[TraceSet], horizon_s: float,
                     membership: MembershipOf,
                     quantiles: Sequence[float] = forecast.DEFAULT_QUANTILES,
                     random_state: int = 0,
                     progress: Callable[[str], None] = lambda s: None,
                     ) -> HorizonResult:
    """Train and score every fold at one horizon.

    :param membership: each trace's host membership and VM sizes; called
        once per trace and horizon, so a caller scoring several horizons
        keeps what it computed (as
        :class:`~watcher_adaptive.evaluate.membership.LrMmtMembership`
        does).
    """
    rng = np.random.default_rng(random_state)
    interval = traces[0].interval_s
    h = max(1, int(round(horizon_s / interval)))
    vm_blocks, host_blocks = [], []
    for trace in traces:
        progress(f"rows of {trace.name} (H = {horizon_s:g} s)")
        members = membership(trace)
        vm_blocks.append(dataset.vm_rows(trace, h,
                                         members.vm_mips.astype(float),
                                         max_rows=MAX_VM_ROWS_PER_TRACE,
                                         rng=rng))
        host_blocks.append(dataset.host_rows(trace, h, members))
    if len(traces) == 1:
        (vm_tr, host_tr), (vm_te, host_te) = _split_single(
            vm_blocks[0], host_blocks[0], h)
        if vm_tr.y.size == 0 or host_tr.y.size == 0:
            raise ValueError(f"{traces[0].name}: too short to train on its "
                             f"first half for a {h}-sample horizon")
        plan = [((traces[0].name,), traces[0].name, vm_tr, host_tr, vm_te,
                 host_te)]
    else:
        plan = []
        for i in range(1, len(traces)):
            plan.append((tuple(t.name for t in traces[:i]), traces[i].name,
                         dataset.Rows.concat(vm_blocks[:i]),
                         dataset.Rows.concat(host_blocks[:i]),
                         vm_blocks[i], host_blocks[i]))
    folds, train_s, predict_s = [], 0.0, 0.0
    for train_names, test_name, vm_tr, host_tr, vm_te, host_te in plan:
        if len(traces) == 1:
            # one trace, split by time: say where, or it reads as leakage
            progress(f"train on {test_name} samples 0–"
                     f"{int(vm_tr.origins.max()) + h}; test on samples "
                     f"{int(vm_te.origins.min()) + 1}–"
                     f"{int(vm_te.origins.max()) + h}")
        else:
            progress(f"train on {', '.join(train_names)}; test "
                     f"{test_name}")
        started = time.perf_counter()
        model = P.Predictor(horizon_s, interval, quantiles,
                            random_state=random_state).fit(
                                vm_tr, host_tr, train_names)
        train_s += time.perf_counter() - started
        started = time.perf_counter()
        vm_q = {"adaptive": model.vm_quantiles(vm_te.X).values}
        events = {"adaptive": model.host_overloaded(host_te.X)}
        predict_s += time.perf_counter() - started
        vm_q.update(_baseline_quantiles(vm_tr, vm_te, quantiles))
        vm_q = non_negative(vm_q)
        events.update(_host_baseline_events(host_te))
        single = len(traces) == 1
        folds.append(Fold(test_name, train_names, vm_te, host_te, vm_q,
                          events,
                          _span(vm_tr.origins) if single else None,
                          _span(vm_te.origins) if single else None, h))
    resources = _score_resources(traces, h, quantiles, random_state, rng,
                                 progress)
    return HorizonResult(horizon_s, folds, score(folds, quantiles), train_s,
                         predict_s, resources)


def _score_resources(traces, h, quantiles, random_state, rng, progress
                     ) -> dict[str, dict[str, dict[str, Optional[float]]]]:
    """VM-level scores for memory, disk and network, where every trace
    has them (same folds as for CPU)."""
    per_trace = [dataset.resource_series(t) for t in traces]
    names = sorted(set.intersection(*(set(r) for r in per_trace))
                   - {"cpu"})
    out = {}
    for name in names:
        progress(f"resource {name}")
        # NOTE(wa): disk and network rates are heavy-tailed: model them on
        # a log scale; quantiles carry over through the monotone inverse
        log_scale = name.endswith("_kbs")
        blocks = [dataset.vm_rows(
            t, h, np.ones(t.n_vms), max_rows=MAX_VM_ROWS_PER_TRACE // 2,
            rng=rng, values=(np.log1p(np.maximum(r[name], 0.0))
                             if log_scale else r[name]))
                  for t, r in zip(traces, per_trace, strict=True)]
        if len(traces) == 1:
            train, test = split_cut(blocks[0].origins, h)
            plan = [(blocks[0].take(train), blocks[0].take(test))]
        else:
            plan = [(dataset.Rows.concat(blocks[:i]), blocks[i])
                    for i in range(1, len(blocks))]
        folds = []
        for train, test in plan:
            model = forecast.QuantileForecaster(
                quantiles, random_state=random_state).fit(train.X, train.y)
            vq = {"adaptive": model.predict_quantiles(test.X)}
            vq.update(_baseline_quantiles(train, test, quantiles))
            vq = non_negative(vq)
            if log_scale:  # score in KB/s
                vq = {k: np.expm1(v) for k, v in vq.items()}
                test = dataclasses.replace(test, y=np.expm1(test.y))
            folds.append(Fold(name, (), test, test, vq, {}))
        scores = score(folds, quantiles)
        out[name] = {m: {k: v for k, v in e.items()
                         if not k.startswith("overload")}
                     for m, e in scores.items()}
    return out


def score(folds: Sequence[Fold], quantiles: Sequence[float]
          ) -> dict[str, dict[str, Optional[float]]]:
    """Pooled scores of every model over all folds."""
    q = list(quantiles)
    i50 = int(np.argmin(np.abs(np.asarray(q) - 0.5)))
    i90 = int(np.argmin(np.abs(np.asarray(q) - 0.9)))
    out: dict[str, dict[str, Optional[float]]] = {}
    for name in MODELS:
        have = [f for f in folds if name in f.vm_quantiles]
        entry: dict[str, Optional[float]] = dict.fromkeys(
            ("mae", "pinball_p50", "pinball_p90", "coverage_p90",
             "overload_precision", "overload_recall", "overload_f1"))
        if have:
            y = np.concatenate([f.vm.y for f in have])
            vq = np.concatenate([f.vm_quantiles[name] for f in have])
            entry.update(mae=metrics.mae(y, vq[:, i50]),
                         pinball_p50=metrics.pinball(y, vq[:, i50], q[i50]),
                         pinball_p90=metrics.pinball(y, vq[:, i90], q[i90]),
                         coverage_p90=metrics.coverage(y, vq[:, i90]))
        ev = [f for f in folds if name in f.host_events]
        if ev:
            entry.update(overload_scores(
                np.concatenate([f.host.event for f in ev]),
                np.concatenate([f.host_events[name] for f in ev])))
        out[name] = entry
    return out


def overload_scores(actual: np.ndarray, predicted: np.ndarray
                    ) -> dict[str, Optional[float]]:
    """Precision, recall and F1 of the overload events, ``None`` where
    undefined: recall and F1 when no actual overload happened (nothing
    to find: no score, not a score of 0), precision when none was
    predicted.  Actual overloads that no prediction caught score F1 0."""
    s = metrics.event_scores(actual, predicted)
    any_actual = bool(np.any(actual))
    return {"overload_precision": s.precision if np.any(predicted)
            else None,
            "overload_recall": s.recall if any_actual else None,
            "overload_f1": s.f1 if any_actual else None}
