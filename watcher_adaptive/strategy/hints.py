"""The hint each ``adaptive_migrate`` action carries to the destination
agent: the audit's forecast for the instance, its profile class and
the expected hot working set.

:func:`hot_shares` decides the expected hot share of each moved
instance (the hot-set predictor when one is loaded, else the
instance's last measured share, else its class default) and
:func:`build` makes the :class:`~nova_hooks.core.hint.MigrationHint`
the action carries.  Both
are plain functions of what the strategy already read.
"""
from __future__ import annotations

import math
from typing import Any
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from nova_hooks.core.hint import ForecastSummary
from nova_hooks.core.hint import MigrationHint
from watcher_adaptive.core import hotset


def last_measured_share(history: Sequence[Mapping[str, float]],
                        memory_kib: float) -> Optional[float]:
    """The newest hot share the destination agent measured (its
    ``hot_kib`` over the instance's memory), or ``None``."""
    if not memory_kib or memory_kib <= 0:
        return None
    for row in reversed(list(history)):
        hot = row.get("hot_kib")
        if hot is not None and math.isfinite(hot) and hot >= 0:
            return min(float(hot) / memory_kib, 1.0)
    return None


def past_shares(history: Sequence[Mapping[str, float]],
                memory_kib: float) -> list[float]:
    if not memory_kib or memory_kib <= 0:
        return []
    return [min(float(r["hot_kib"]) / memory_kib, 1.0) for r in history
            if r.get("hot_kib") is not None
            and math.isfinite(r["hot_kib"])]


def hot_shares(vm_types: Sequence[Optional[str]],
               memory_kib: Sequence[float],
               profiles: Sequence[Mapping[str, float]],
               histories: Sequence[Sequence[Mapping[str, float]]],
               model: Optional[hotset.HotSetPredictor] = None
               ) -> list[tuple[float, str]]:
    """``(share, source)`` per instance; ``source`` is ``model``,
    ``history`` or ``class_default``."""
    out: list[tuple[float, str]] = []
    rows = [hotset.feature_row(p, past_shares(h, m))
            for p, h, m in zip(profiles, histories, memory_kib,
                               strict=True)]
    predicted = None
    if model is not None and rows:
        predicted = model.predict(np.vstack(rows), list(vm_types))
    for i, (vm_type, mem, hist) in enumerate(
            zip(vm_types, memory_kib, histories, strict=True)):
        if predicted is not None and np.isfinite(rows[i]).any():
            out.append((float(predicted[i]), "model"))
            continue
        last = last_measured_share(hist, mem)
        if last is not None:
            out.append((last, "history"))
        else:
            out.append((hotset.static_default(vm_type), "class_default"))
    return out


def build(instance_uuid: str, why: Mapping[str, Any],
          vm_type: Optional[str], memory_kib: float, share: float,
          source: str, profile_id: Optional[str] = None
          ) -> MigrationHint:
    """The hint of one ``adaptive_migrate`` action from the strategy's
    explanation of the move (the action's parameter is
    :func:`nova_hooks.core.hint.to_params` of it)."""
    forecast = ForecastSummary(
        quantile=float(why["quantile"]),
        horizon_s=float(why["horizon_s"]),
        expected_cpu_cores=max(float(why["expected_cpu_cores"]), 0.0),
        upper_cpu_cores=max(float(why["upper_cpu_cores"]), 0.0),
        profile_shift_cpu_cores=None if not why.get("profile_evidence")
        else float(why["profile_evidence"]["upper_shift_cpu_cores"]),
        forecaster=str(why["forecaster"])[:64] if why.get("forecaster")
        else None)
    return MigrationHint(
        instance_uuid=instance_uuid, forecast=forecast,
        expected_hot_kib=hotset.expected_hot_kib(share, memory_kib),
        expected_hot_source=source,
        memory_kib=int(max(memory_kib, 0)),
        # the contract's names are at most 64 characters
        vm_type=str(vm_type)[:64] if vm_type else None,
        profile_id=None if profile_id is None else str(profile_id)[:64])
