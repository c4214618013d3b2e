"""Fit a :class:`~watcher_adaptive.predict.predictor.Predictor` on
traces: the one code path behind ``backtest --save-model`` and the
periodic ``train`` job."""
from __future__ import annotations

from typing import Optional
from typing import Sequence

from watcher_adaptive.predict import backtest
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor
from watcher_adaptive.traces.model import TraceSet


def fit_predictor(traces: Sequence[TraceSet], horizon_s: float,
                  quantiles: Sequence[float],
                  placements: Optional[dict] = None
                  ) -> predictor.Predictor:
    """VM rows of every trace, host rows from an LR-MMT replay of it
    (reused from ``placements`` when a backtest already recorded them)."""
    from watcher_adaptive.replay import runner

    placements = {} if placements is None else placements
    h = max(1, int(round(horizon_s / traces[0].interval_s)))
    vm_rows, host_rows = [], []
    for t in traces:
        mips = runner.build_scenario(t).engine.vms.total_mips
        vm_rows.append(dataset.vm_rows(
            t, h, mips.astype(float),
            max_rows=backtest.MAX_VM_ROWS_PER_TRACE))
        host_rows.append(dataset.host_rows(t, h, placements.get(t.name)))
    return predictor.Predictor(horizon_s, traces[0].interval_s,
                               quantiles).fit(
        dataset.Rows.concat(vm_rows), dataset.Rows.concat(host_rows),
        [t.name for t in traces])
