"""What one replay run of one strategy produced, in a stable shape.

``results.json`` (see :func:`to_json_dict`) is read by scripts, so its keys
are part of the interface: a top-level ``strategies`` object maps each
strategy name to its metrics (fractions, not percent).
"""
from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional

import numpy as np

METRIC_KEYS = ("energy_kwh", "migrations", "slatah", "pdm", "slav", "esv",
               "host_shutdowns", "served_fraction")


@dataclasses.dataclass(frozen=True)
class Metrics:
    """CloudSim's metrics (Beloglazov & Buyya, CCPE 2012).

    :param energy_kwh: data-centre energy over the run.
    :param migrations: live migrations started.
    :param slatah: SLA violation Time per Active Host, pooled: time hosts
        spent at 100 % CPU / time hosts were active.
    :param pdm: Performance Degradation due to Migration, pooled: MIPS
        lost to migrations / MIPS requested.
    :param slav: ``slatah * pdm``.
    :param esv: ``energy_kwh * slav``.
    :param host_shutdowns: times a host went from active to idle.
    :param served_fraction: CPU demand served / demand asked over the run
        (VMs left without a host count as asked); below 1 exactly when
        some demand went unserved (an overloaded host, the 10 % a
        migrating VM loses, a VM with no host).
    """

    energy_kwh: float
    migrations: int
    slatah: float
    pdm: float
    slav: float
    esv: float
    host_shutdowns: int
    served_fraction: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in METRIC_KEYS}


@dataclasses.dataclass(frozen=True)
class Timeline:
    """Per-frame series for the plots (one entry per scheduling frame).

    :param energy_kwh: energy used from the start up to each frame.
    :param host_util: ``(rows, n_hosts)`` uint8, each host's CPU
        utilisation at the frames ``host_util_time_s`` (every frame, or
        every k-th one on long runs of large clusters): 0 = off (idle,
        no energy), else ``1 + round(254 * utilisation)``; one byte a
        cell keeps the heatmap's data small (see
        :data:`~watcher_adaptive.replay.engine.HOST_UTIL_CELLS`).
    """

    time_s: np.ndarray
    active_hosts: np.ndarray
    overloaded_hosts: np.ndarray
    migrations: np.ndarray
    power_w: np.ndarray
    energy_kwh: Optional[np.ndarray] = None
    host_util: Optional[np.ndarray] = None
    host_util_time_s: Optional[np.ndarray] = None


@dataclasses.dataclass(frozen=True)
class StrategyRun:
    """The outcome of one strategy over one trace."""

    name: str
    description: str
    metrics: Optional[Metrics]
    timeline: Optional[Timeline]
    wall_s: float
    audit_interval_s: float
    audits: int = 0
    failed_audits: int = 0
    error: Optional[str] = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.metrics is not None


def to_json_dict(trace_name: str, runs: list[StrategyRun],
                 extra: Optional[dict[str, Any]] = None,
                 fluid_bound_kwh: Optional[float] = None,
                 ) -> dict[str, Any]:
    """The ``results.json`` document for a set of runs on one trace.

    :param fluid_bound_kwh: the physical floor of the trace
        (:mod:`~watcher_adaptive.replay.bound`); each strategy then gets
        ``energy_vs_bound`` (its energy / the floor).
    """
    strategies: dict[str, Any] = {}
    for run in runs:
        entry: dict[str, Any] = (run.metrics.as_dict() if run.metrics
                                 else {k: None for k in METRIC_KEYS})
        entry["energy_vs_bound"] = (
            run.metrics.energy_kwh / fluid_bound_kwh
            if run.metrics and fluid_bound_kwh else None)
        entry.update(
            wall_s=round(run.wall_s, 3),
            audit_interval_s=run.audit_interval_s,
            audits=run.audits,
            failed_audits=run.failed_audits,
            description=run.description,
            error=run.error,
            notes=list(run.notes),
        )
        strategies[run.name] = entry
    doc: dict[str, Any] = {"trace": trace_name, "strategies": strategies}
    if fluid_bound_kwh is not None:
        doc["fluid_bound_kwh"] = fluid_bound_kwh
    if extra:
        doc.update(extra)
    return doc
