"""Fit a :class:`~watcher_adaptive.predict.predictor.Predictor` on
traces: the one code path behind ``backtest --save-model`` and the
periodic ``train`` job.

The host rows need each trace's host membership, which comes from a
replay; this module takes it as an argument and never runs the
simulator (the command line gives
:class:`~watcher_adaptive.evaluate.membership.LrMmtMembership`).
"""
from __future__ import annotations

from typing import Sequence

from watcher_adaptive.predict import backtest
from watcher_adaptive.predict import dataset
from watcher_adaptive.predict import predictor
from watcher_adaptive.traces.model import TraceSet


def fit_predictor(traces: Sequence[TraceSet], horizon_s: float,
                  quantiles: Sequence[float],
                  membership: backtest.MembershipOf,
                  ) -> predictor.Predictor:
    """VM rows of every trace, host rows from its ``membership`` (the
    backtest's, reused when it already computed them)."""
    h = max(1, int(round(horizon_s / traces[0].interval_s)))
    vm_rows, host_rows = [], []
    for t in traces:
        members = membership(t)
        vm_rows.append(dataset.vm_rows(
            t, h, members.vm_mips.astype(float),
            max_rows=backtest.MAX_VM_ROWS_PER_TRACE))
        host_rows.append(dataset.host_rows(t, h, members))
    return predictor.Predictor(horizon_s, traces[0].interval_s,
                               quantiles).fit(
        dataset.Rows.concat(vm_rows), dataset.Rows.concat(host_rows),
        [t.name for t in traces])
