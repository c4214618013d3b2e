"""The training job's local copy of recent usage, grown incrementally.

Audits read only the last hours; training needs days.  Rather than read
days from Gnocchi on every run, the periodic ``watcher-adaptive train``
job keeps what it read in one ``.npz`` file and asks Gnocchi only for
the samples after the newest one it has, dropping what is older than
the retention.  New instances get rows (NaN before they appear);
instances not seen for the whole retention fall out.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet


@dataclasses.dataclass(frozen=True)
class UsageHistory:
    """``cpu_cores`` / ``memory_mb``: ``(n_instances, n_times)``."""

    resource_ids: tuple[str, ...]
    times: np.ndarray  # int64 epoch seconds, regular grid
    cpu_cores: np.ndarray
    memory_mb: np.ndarray
    vcpus: np.ndarray
    interval_s: int

    @property
    def newest(self) -> Optional[int]:
        return int(self.times[-1]) if self.times.size else None

    def to_trace(self, name: str = "gnocchi") -> TraceSet:
        """CPU as a fraction of each instance's vCPUs, as the predictor
        is trained on."""
        import pandas as pd

        util = self.cpu_cores / np.maximum(self.vcpus, 1.0)[:, None]
        gaps = int(np.sum(~np.isfinite(util)))
        # the replay behind the host rows needs a value at every sample:
        # carry the last one forward (the first one backward), as the
        # trace loaders do
        filled = pd.DataFrame(util).ffill(axis=1).bfill(axis=1).fillna(0.0)
        memory = pd.DataFrame(self.memory_mb).ffill(axis=1).bfill(
            axis=1).to_numpy()
        return TraceSet(
            name=name, interval_s=float(self.interval_s),
            vm_ids=self.resource_ids,
            cpu=np.clip(filled.to_numpy(), 0.0, 1.0).astype(np.float32),
            memory_mb=memory.astype(np.float32),
            vm_cores=self.vcpus.astype(float),
            start_epoch_s=float(self.times[0]) if self.times.size else None,
            report=LoadReport(source="gnocchi", gaps_filled=gaps))


def empty(interval_s: int) -> UsageHistory:
    return UsageHistory((), np.zeros(0, dtype=np.int64), np.zeros((0, 0)),
                        np.zeros((0, 0)), np.zeros(0), interval_s)


def merge(old: UsageHistory, ids, times, cpu_cores, memory_mb, vcpus,
          keep_s: int) -> UsageHistory:
    """``old`` plus new samples (later than ``old.newest``), trimmed to
    the last ``keep_s`` seconds."""
    step = old.interval_s
    all_ids = list(old.resource_ids)
    index = {r: i for i, r in enumerate(all_ids)}
    for r in ids:
        if r not in index:
            index[r] = len(all_ids)
            all_ids.append(r)
    times = np.asarray(times, dtype=np.int64)
    stamps = np.union1d(old.times, times)
    if stamps.size:
        stamps = np.arange(stamps[0], stamps[-1] + step, step)
        stamps = stamps[stamps > stamps[-1] - keep_s]
    shape = (len(all_ids), stamps.size)
    out_cpu, out_mem = np.full(shape, np.nan), np.full(shape, np.nan)
    out_vcpus = np.full(len(all_ids), np.nan)
    out_vcpus[:len(old.resource_ids)] = old.vcpus
    for src_times, src_ids, cpu, mem in (
            (old.times, old.resource_ids, old.cpu_cores, old.memory_mb),
            (times, ids, cpu_cores, memory_mb)):
        cols = np.searchsorted(stamps, src_times)
        ok = (cols < stamps.size) & (stamps[np.minimum(
            cols, max(stamps.size - 1, 0))] == src_times) \
            if stamps.size else np.zeros(len(src_times), dtype=bool)
        rows = np.array([index[r] for r in src_ids], dtype=np.int64)
        if rows.size and ok.any():
            sub = np.ix_(rows, cols[ok])
            out_cpu[sub] = np.where(np.isfinite(cpu[:, ok]), cpu[:, ok],
                                    out_cpu[sub])
            out_mem[sub] = np.where(np.isfinite(mem[:, ok]), mem[:, ok],
                                    out_mem[sub])
    for r, v in zip(ids, vcpus, strict=True):
        out_vcpus[index[r]] = v
    # instances without a single sample in the retention fall out
    alive = np.isfinite(out_cpu).any(axis=1)
    return UsageHistory(tuple(np.array(all_ids, dtype=object)[alive]),
                        stamps, out_cpu[alive], out_mem[alive],
                        np.nan_to_num(out_vcpus[alive], nan=1.0), step)


def load(path: Path, interval_s: int) -> UsageHistory:
    path = Path(path)
    if not path.exists():
        return empty(interval_s)
    with np.load(path, allow_pickle=False) as data:
        if int(data["interval_s"]) != interval_s:
            raise ValueError(f"{path}: history at {int(data['interval_s'])}"
                             f" s, asked for {interval_s} s; use another "
                             "file")
        return UsageHistory(tuple(str(r) for r in data["ids"]),
                            data["times"].astype(np.int64),
                            data["cpu_cores"], data["memory_mb"],
                            data["vcpus"], interval_s)


def save(history: UsageHistory, path: Path) -> None:
    """Atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(
            tmp, ids=np.array(history.resource_ids, dtype=str),
            times=history.times, cpu_cores=history.cpu_cores,
            memory_mb=history.memory_mb, vcpus=history.vcpus,
            interval_s=history.interval_s)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
