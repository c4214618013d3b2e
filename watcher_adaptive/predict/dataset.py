"""Rows for training and backtesting, built from a trace and the host
membership of a replay of it.

VM rows: one per (VM, origin sample) with the VM's own features, the
fleet's and the time of day; target: the VM's peak CPU over the horizon.

Host rows: one per (host, scheduling frame) of a :class:`Membership`,
which VMs each host held after each frame (the membership LR-MMT's
detector sees at that frame, in the backtest); the host's demand series
is the sum of its VMs' demand in MIPS over its capacity; target: its
peak over the horizon; event: that peak exceeds 100 % of capacity.

This module never runs the replay: the membership is given
(:mod:`watcher_adaptive.evaluate.membership` makes it from an LR-MMT
replay of the trace).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from watcher_adaptive.core import features as F
from watcher_adaptive.core import local_regression
from watcher_adaptive.traces.model import TraceSet

MIN_HISTORY = 12
#: samples of host history the host features look at
HOST_WINDOW = 48
#: scheduling frames whose host features are computed together (bounds
#: the memory of one batch: about 1,000 frames of 10 hosts, 20 MB)
FRAMES_PER_BATCH = 1024
#: the column of the EWMA among :func:`features.feature_names`
_EWMA = F.feature_names("").index("ewma")


@dataclasses.dataclass(frozen=True)
class Membership:
    """Where a trace's VMs ran, frame by frame, and their sizes: what the
    host rows need of a replay of the trace."""

    #: ``(n_frames,)`` time of each scheduling frame, in seconds
    times_s: np.ndarray
    #: ``(n_frames, n_vms)`` each VM's host after each frame, -1 once it
    #: has left
    vm_host: np.ndarray
    #: ``(n_vms,)`` each VM's capacity in MIPS
    vm_mips: np.ndarray
    #: ``(n_hosts,)`` each host's capacity in MIPS
    host_mips: np.ndarray
    #: time of frame 0, in seconds (sample ``s`` of the trace is at
    #: ``start_offset_s + s * interval``)
    start_offset_s: float


@dataclasses.dataclass
class Rows:
    """A block of rows: features, target, and the baselines' forecasts."""

    X: np.ndarray
    y: np.ndarray
    baselines: dict[str, np.ndarray]
    series: np.ndarray
    origins: np.ndarray
    event: Optional[np.ndarray] = None
    lr_mmt_event: Optional[np.ndarray] = None

    def take(self, mask: np.ndarray) -> "Rows":
        return Rows(self.X[mask], self.y[mask],
                    {k: v[mask] for k, v in self.baselines.items()},
                    self.series[mask], self.origins[mask],
                    None if self.event is None else self.event[mask],
                    None if self.lr_mmt_event is None
                    else self.lr_mmt_event[mask])

    @staticmethod
    def concat(parts: list["Rows"]) -> "Rows":
        def cat(get):
            vals = [get(p) for p in parts]
            return None if any(v is None for v in vals) else \
                np.concatenate(vals)

        return Rows(
            cat(lambda p: p.X), cat(lambda p: p.y),
            {k: np.concatenate([p.baselines[k] for p in parts])
             for k in parts[0].baselines},
            cat(lambda p: p.series), cat(lambda p: p.origins),
            cat(lambda p: p.event), cat(lambda p: p.lr_mmt_event))


def _samples_per_day(trace: TraceSet) -> int:
    return max(1, int(round(86400.0 / trace.interval_s)))


def _fleet(cpu: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The fleet's demand-weighted mean utilisation per sample."""
    ok = np.isfinite(cpu)
    w = np.where(ok, weights[:, None], 0.0)
    return (np.where(ok, cpu, 0.0) * w).sum(axis=0) / np.maximum(
        w.sum(axis=0), 1e-12)


def _profile_columns(trace: TraceSet, rows: np.ndarray,
                     origins: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Behaviour-profile stand-ins from the Bitbrains columns (trailing
    hour): memory in use / provisioned, disk write share, network receive
    share.  NaN where the trace has no such column."""
    names = ["mem_ratio", "disk_write_share", "net_rx_share"]
    cols = []
    ratio = memory_fraction(trace)
    if ratio is not None:
        cols.append(F.rolling_mean(ratio, 12)[rows, origins])
    else:
        cols.append(np.full(rows.size, np.nan))
    for a, b in (("disk_write_kbs", "disk_read_kbs"),
                 ("net_rx_kbs", "net_tx_kbs")):
        if a in trace.extra and b in trace.extra:
            sa = F.rolling_mean(trace.extra[a], 12)[rows, origins]
            sb = F.rolling_mean(trace.extra[b], 12)[rows, origins]
            with np.errstate(invalid="ignore", divide="ignore"):
                cols.append(sa / (sa + sb))
        else:
            cols.append(np.full(rows.size, np.nan))
    return np.column_stack(cols), names


def vm_feature_names() -> list[str]:
    return (F.feature_names("") + F.feature_names("fleet_") + F.TIME_NAMES
            + ["mem_ratio", "disk_write_share", "net_rx_share"])


def memory_fraction(trace: TraceSet) -> Optional[np.ndarray]:
    """Memory in use as a fraction of the VM's provisioned memory,
    ``(n_vms, n_samples)``; NaN rows for VMs of unknown size (dividing
    by a stand-in size would make their MBs a "fraction" of thousands),
    ``None`` when the trace has no memory."""
    if trace.memory_mb is None or trace.vm_memory_mb is None:
        return None
    size = np.asarray(trace.vm_memory_mb, dtype=np.float64)
    size = np.where(np.isfinite(size) & (size > 0), size, np.nan)
    return trace.memory_mb.astype(np.float64) / size[:, None]


def resource_series(trace: TraceSet) -> dict[str, np.ndarray]:
    """Every resource the trace has, one ``(n_vms, n_samples)`` array
    each: CPU and memory as fractions of the VM's capacity, disk and
    network in KB/s."""
    out = {"cpu": trace.cpu.astype(np.float64)}
    memory = memory_fraction(trace)
    if memory is not None:
        out["memory"] = memory
    for key in ("disk_read_kbs", "disk_write_kbs", "net_rx_kbs",
                "net_tx_kbs"):
        if key in trace.extra:
            out[key] = trace.extra[key].astype(np.float64)
    return out


def vm_rows(trace: TraceSet, horizon: int, vm_mips: np.ndarray,
            origins: Optional[np.ndarray] = None,
            max_rows: Optional[int] = None,
            rng: Optional[np.random.Generator] = None,
            values: Optional[np.ndarray] = None) -> Rows:
    """Rows for every VM at every origin with enough history.

    :param values: the resource to forecast (default: CPU); see
        :func:`resource_series`.
    """
    cpu = trace.cpu.astype(np.float64) if values is None else values
    n, t = cpu.shape
    if origins is None:
        origins = np.arange(MIN_HISTORY, t - horizon)
    rows = np.repeat(np.arange(n), origins.size)
    orig = np.tile(origins, n)
    if max_rows is not None and rows.size > max_rows:
        rng = rng or np.random.default_rng(0)
        keep = np.sort(rng.choice(rows.size, max_rows, replace=False))
        rows, orig = rows[keep], orig[keep]
    stats = F.series_stats(cpu)
    fleet = F.series_stats(_fleet(cpu, vm_mips)[None, :])
    own = F.features_at(stats, rows, orig)
    fleet_x = F.features_at(fleet, np.zeros_like(rows), orig)
    tod = F.time_features(orig, _samples_per_day(trace),
                          trace.start_epoch_s, trace.interval_s)
    prof, _ = _profile_columns(trace, rows, orig)
    X = np.column_stack([own, fleet_x, tod, prof])
    y = F.future_peak(cpu, rows, orig, horizon)
    baselines = _baselines(stats, cpu, rows, orig, horizon,
                           _samples_per_day(trace))
    ok = np.isfinite(y)
    return Rows(X, y, baselines, rows, orig).take(ok)


def _baselines(stats: F.SeriesStats, values: np.ndarray, rows, orig,
               horizon: int, per_day: int) -> dict[str, np.ndarray]:
    """Point forecasts of the peak by the classic baselines."""
    last = stats.values[rows, orig]
    ewma = stats.ewma[rows, orig]
    hist = np.stack([values[rows, np.maximum(orig - k, 0)]
                     for k in range(local_regression.WINDOW)], axis=1)
    lr = local_regression.predict(np.nan_to_num(hist), horizon)
    day_ago = orig + horizon - per_day
    seasonal = np.where(day_ago >= 0,
                        values[rows, np.maximum(day_ago, 0)], np.nan)
    return {"last": last, "seasonal": seasonal, "ewma": ewma, "lr": lr}


def host_feature_names() -> list[str]:
    return (F.feature_names("host_") + F.feature_names("fleet_")
            + F.TIME_NAMES + ["n_vms", "biggest_vm_share"])


def host_rows(trace: TraceSet, horizon: int, membership: Membership
              ) -> Rows:
    """Rows for every (host, frame) of ``membership``, a replay of
    ``trace``."""
    vm_mips = membership.vm_mips.astype(np.float64)
    host_mips = membership.host_mips.astype(np.float64)
    cpu = trace.cpu.astype(np.float64)
    fleet = F.series_stats(_fleet(cpu, vm_mips)[None, :])
    frames = [f for f in (_host_frame(trace, cpu, horizon, membership,
                                      vm_mips, host_mips, j)
                          for j in range(len(membership.times_s)))
              if f is not None]
    if not frames:
        raise ValueError(f"{trace.name}: no host rows (trace too short "
                         f"for a {horizon}-sample horizon?)")
    blocks = []
    # the hosts' own features, for frames of one batch at once: a call
    # of series_stats per frame cost more in numpy's per-call overhead
    # than in arithmetic (row by row the results are the same)
    for lo in range(0, len(frames), FRAMES_PER_BATCH):
        batch = frames[lo:lo + FRAMES_PER_BATCH]
        owns = _own_features_last([f.history for f in batch])
        blocks += [_host_block(trace, cpu, horizon, vm_mips, host_mips,
                               fleet, frame, own)
                   for frame, own in zip(batch, owns, strict=True)]
    return Rows.concat(blocks)


@dataclasses.dataclass(frozen=True)
class _HostFrame:
    """One scheduling frame's hosts and their demand windows."""

    s: int
    members: np.ndarray
    hosts: np.ndarray
    where: np.ndarray
    #: ``(hosts, samples)`` demand over capacity, up to ``s + horizon``
    win: np.ndarray
    #: index of sample ``s`` in ``win``
    local: int

    @property
    def history(self) -> np.ndarray:
        return self.win[:, :self.local + 1]


def _host_frame(trace: TraceSet, cpu: np.ndarray, horizon: int,
                membership: Membership, vm_mips: np.ndarray,
                host_mips: np.ndarray, j: int) -> Optional[_HostFrame]:
    t = cpu.shape[1]
    s = int(round((membership.times_s[j] - membership.start_offset_s)
                  / trace.interval_s))
    if s < 1 or s + horizon > t - 1:
        return None
    members = membership.vm_host[j]
    placed = members >= 0
    hosts = np.unique(members[placed])
    if hosts.size == 0:
        return None
    lo = max(0, s - HOST_WINDOW + 1)
    win = np.zeros((hosts.size, s + horizon + 1 - lo))
    where = np.searchsorted(hosts, members[placed])
    np.add.at(win, where,
              cpu[placed, lo:s + horizon + 1] * vm_mips[placed, None])
    win /= host_mips[hosts][:, None]
    return _HostFrame(s, members, hosts, where, win, s - lo)


def _own_features_last(histories: list[np.ndarray]) -> list[np.ndarray]:
    """:func:`features_at` of each history's last sample, the histories
    of one length stacked into one :func:`series_stats` call."""
    out: dict[int, np.ndarray] = {}
    for width in {h.shape[1] for h in histories}:
        picked = [k for k, h in enumerate(histories) if h.shape[1] == width]
        stacked = np.concatenate([histories[k] for k in picked])
        own = F.features_at(F.series_stats(stacked),
                            np.arange(stacked.shape[0]),
                            np.full(stacked.shape[0], width - 1))
        bounds = np.cumsum([histories[k].shape[0] for k in picked])[:-1]
        out.update(zip(picked, np.split(own, bounds), strict=True))
    return [out[k] for k in range(len(histories))]


def _host_block(trace: TraceSet, cpu: np.ndarray, horizon: int,
                vm_mips: np.ndarray, host_mips: np.ndarray,
                fleet: F.SeriesStats, frame: _HostFrame,
                own: np.ndarray) -> Rows:
    s, hosts, where, win, local = (frame.s, frame.hosts, frame.where,
                                   frame.win, frame.local)
    members = frame.members
    placed = members >= 0
    per_day = _samples_per_day(trace)
    fleet_x = F.features_at(fleet, np.zeros(hosts.size, dtype=int),
                            np.full(hosts.size, s))
    tod = F.time_features(np.full(hosts.size, s), per_day,
                          trace.start_epoch_s, trace.interval_s)
    count = np.bincount(where, minlength=hosts.size)
    biggest = np.zeros(hosts.size)
    np.maximum.at(biggest, where, vm_mips[placed])
    X = np.column_stack([own, fleet_x, tod, count,
                         biggest / host_mips[hosts]])
    y = win[:, local + 1:local + 1 + horizon].max(axis=1)
    last10 = win[:, max(0, local - 9):local + 1][:, ::-1]
    base = _host_baselines(win, local, horizon, last10, own[:, _EWMA],
                           per_day, s, cpu, members, hosts, vm_mips,
                           host_mips)
    lr_event = _lr_mmt_rule(last10)
    return Rows(X, y, base, hosts, np.full(hosts.size, s), y > 1.0,
                lr_event)


def _host_baselines(win, local, horizon, last10, ewma, per_day, s, cpu,
                    members, hosts, vm_mips, host_mips
                    ) -> dict[str, np.ndarray]:
    n = win.shape[0]
    full = last10.shape[1] == local_regression.WINDOW
    lr = (local_regression.predict(last10, horizon) if full
          else np.full(n, np.nan))
    day_ago = s + horizon - per_day
    if day_ago >= 0:
        placed = members >= 0
        where = np.searchsorted(hosts, members[placed])
        seasonal = np.zeros(n)
        np.add.at(seasonal, where, cpu[placed, day_ago] * vm_mips[placed])
        seasonal /= host_mips[hosts]
    else:
        seasonal = np.full(n, np.nan)
    return {"last": win[:, local], "seasonal": seasonal,
            "ewma": ewma, "lr": lr}


def _lr_mmt_rule(last10: np.ndarray) -> np.ndarray:
    """LR-MMT's own overload decision for these hosts at this frame."""
    if last10.shape[1] == local_regression.WINDOW and \
            np.all(last10 > 0):
        return 1.2 * local_regression.predict(last10) >= 1.0
    out = np.zeros(last10.shape[0], dtype=bool)
    full = (last10.shape[1] == local_regression.WINDOW) & \
        np.all(last10 > 0, axis=1)
    if full.any():
        out[full] = 1.2 * local_regression.predict(last10[full]) >= 1.0
    current = last10[:, 0]
    out[~full] = current[~full] > local_regression.FALLBACK_THRESHOLD
    return out
