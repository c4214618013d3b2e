"""Bitbrains Rnd traces (GWA-T-12, Grid Workloads Archive), July 2013.

One semicolon-and-tab separated file per VM with a header; timestamps are
epoch *seconds* (the header says ms).  The files need cleaning, and every
change is counted in the :class:`~watcher_adaptive.traces.model.
LoadReport` rather than done silently:

* duplicated timestamps (and the repeated blocks some files contain):
  the first row of a timestamp is kept;
* CPU above 100 %: clipped to 100 %;
* rows with 0 cores (capacity unknown; their usage columns are empty):
  the last known capacity is carried forward (backward at the start) and
  the row's usage is treated as 0;
* irregular sampling: every VM is resampled onto one common 300 s grid
  (mean of the samples falling in a slot); a slot without samples takes
  the previous slot's value for up to :data:`MAX_FILL_SLOTS` slots, and 0
  beyond that or before the VM's first sample;
* constant VMs are kept and listed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Sequence
from typing import Union

import numpy as np

from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet

# pandas is imported by the functions that read a file: importing it
# here cost every command line half a second before it parsed its
# arguments
if TYPE_CHECKING:
    import pandas as pd

INTERVAL_S = 300.0
#: gaps up to one hour are bridged with the last value
MAX_FILL_SLOTS = 12
#: this many rows written twice in a file make it a repeated-block file
REPEATED_BLOCK_ROWS = 10

_COLUMNS = ("timestamp", "cores", "cpu_capacity_mhz", "cpu_usage_mhz",
            "cpu_percent", "mem_capacity_kb", "mem_usage_kb",
            "disk_read_kbs", "disk_write_kbs", "net_rx_kbs", "net_tx_kbs")
_EXTRA = ("disk_read_kbs", "disk_write_kbs", "net_rx_kbs", "net_tx_kbs")


@dataclasses.dataclass
class _Vm:
    vm_id: str
    ts: np.ndarray
    frame: pd.DataFrame
    cores: float
    cpu_mhz: float
    mem_mb: float


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv"):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return name


def _order_key(path: Path) -> tuple[int, Union[int, str]]:
    stem = _stem(path)
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def load_bitbrains(paths: Sequence[Union[str, Path]],
                   name: str = "bitbrains") -> TraceSet:
    """Read, clean and resample Bitbrains VM files onto one grid.

    :param paths: ``.csv`` or ``.csv.gz`` files, one per VM; VMs are
        ordered by their numeric file stem.
    :raises TraceError: no files, or a file that is not a Bitbrains CSV.
    """
    files = sorted((Path(p) for p in paths), key=_order_key)
    if not files:
        raise TraceError("no Bitbrains files given")
    counts = dict(clipped=0, max_cpu=0.0, zero_rows=0, zero_files=0,
                  dups=0, blocks=0)
    vms = [_read(path, counts) for path in files]
    start = min(int(v.ts[0]) for v in vms)
    end = max(int(v.ts[-1]) for v in vms)
    start -= start % int(INTERVAL_S)
    n_slots = (end - start) // int(INTERVAL_S) + 1
    cpu = np.zeros((len(vms), n_slots), dtype=np.float32)
    mem = np.zeros_like(cpu)
    extra = {k: np.zeros_like(cpu) for k in _EXTRA}
    filled = 0
    constant = []
    for row, vm in enumerate(vms):
        slots = ((vm.ts - start) // INTERVAL_S).astype(np.int64)
        pct = np.minimum(vm.frame["cpu_percent"].to_numpy(), 100.0)
        if np.ptp(pct) == 0:
            constant.append(vm.vm_id)
        series, n = _resample(slots, pct / 100.0, n_slots)
        cpu[row], filled = series, filled + n
        mem[row] = _resample(slots, vm.frame["mem_usage_kb"].to_numpy()
                             / 1024.0, n_slots)[0]
        for key in _EXTRA:
            extra[key][row] = _resample(slots, vm.frame[key].to_numpy(),
                                        n_slots)[0]
    report = LoadReport(
        source="bitbrains", files_read=len(files),
        samples_clipped_above_100=counts["clipped"],
        max_cpu_percent_seen=round(counts["max_cpu"], 2),
        constant_vms=tuple(constant),
        zero_core_rows=counts["zero_rows"],
        files_with_zero_core_rows=counts["zero_files"],
        duplicate_timestamps=counts["dups"],
        repeated_block_files=counts["blocks"],
        gaps_filled=filled,
        vms_without_memory_size=tuple(v.vm_id for v in vms
                                      if not np.isfinite(v.mem_mb)),
        notes=(f"resampled to {INTERVAL_S:.0f} s slots, {n_slots} per VM; "
               f"gaps over {MAX_FILL_SLOTS} slots and time outside a VM's "
               "own range count as 0 % CPU",
               "rows with 0 cores: capacity unknown, last known carried, "
               "usage taken as 0"))
    return TraceSet(
        name=name, interval_s=INTERVAL_S,
        vm_ids=tuple(v.vm_id for v in vms), cpu=cpu, memory_mb=mem,
        vm_cores=np.array([v.cores for v in vms]),
        vm_cpu_mhz=np.array([v.cpu_mhz for v in vms]),
        vm_memory_mb=np.array([v.mem_mb for v in vms]),
        extra=extra, start_epoch_s=float(start), report=report)


def _read(path: Path, counts: dict) -> _Vm:
    import pandas as pd
    try:
        frame = pd.read_csv(path, sep=";", skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as exc:
        raise TraceError(f"{path}: cannot be read as a Bitbrains CSV: "
                         f"{exc}") from None
    if frame.shape[1] != len(_COLUMNS):
        raise TraceError(f"{path}: expected {len(_COLUMNS)} columns "
                         f"(Bitbrains layout), found {frame.shape[1]}")
    frame.columns = list(_COLUMNS)
    frame = frame.apply(pd.to_numeric, errors="coerce")
    if frame["timestamp"].isna().any():
        bad = int(frame["timestamp"].isna().idxmax()) + 2
        raise TraceError(f"{path}: line {bad}: timestamp is not a number")
    if frame.empty:
        raise TraceError(f"{path}: no samples")
    frame = frame.fillna(0.0)
    raw_zero = int((frame["cores"].to_numpy() <= 0).sum())
    if raw_zero:
        counts["zero_rows"] += raw_zero
        counts["zero_files"] += 1
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    seen_before = pd.Series(ts).duplicated().to_numpy()
    counts["dups"] += int(seen_before.sum())
    # whole rows written twice: the repeated blocks of some files
    if int(frame.duplicated().sum()) >= REPEATED_BLOCK_ROWS:
        counts["blocks"] += 1
    frame = frame.loc[~seen_before]
    frame = frame.sort_values("timestamp", kind="stable")
    zero = frame["cores"].to_numpy() <= 0
    if zero.any():
        frame.loc[zero, ["cores", "cpu_capacity_mhz"]] = np.nan
        frame.loc[zero, ["cpu_usage_mhz", "cpu_percent"]] = 0.0
        frame[["cores", "cpu_capacity_mhz"]] = \
            frame[["cores", "cpu_capacity_mhz"]].ffill().bfill()
    pct = frame["cpu_percent"].to_numpy()
    counts["clipped"] += int((pct > 100).sum())
    counts["max_cpu"] = max(counts["max_cpu"], float(pct.max()))
    known = frame["cores"].dropna()
    return _Vm(
        vm_id=_stem(path), ts=frame["timestamp"].to_numpy(dtype=np.int64),
        frame=frame,
        cores=float(known.median()) if len(known) else float("nan"),
        cpu_mhz=float(frame["cpu_capacity_mhz"].median())
        if frame["cpu_capacity_mhz"].notna().any() else float("nan"),
        mem_mb=_provisioned_mb(frame["mem_capacity_kb"]))


def _provisioned_mb(capacity_kb: pd.Series) -> float:
    """The VM's provisioned memory: the median of the rows that give one.

    NOTE(wa): some files write 0 KB of provisioned memory on every row (5
    of the 250 development VMs); 0 is "unknown", not a VM without memory
    (its usage column reaches GBs), so it is NaN and the replay sizes the
    VM as it does without a provisioned size.
    """
    known = capacity_kb[capacity_kb > 0]
    return float(known.median()) / 1024.0 if len(known) else float("nan")


def _resample(slots: np.ndarray, values: np.ndarray,
              n_slots: int) -> tuple[np.ndarray, int]:
    """Mean per slot; short gaps carry the last value, long ones are 0.

    :returns: the series and how many empty slots were filled.
    """
    total = np.bincount(slots, weights=values, minlength=n_slots)
    count = np.bincount(slots, minlength=n_slots)
    have = count > 0
    out = np.zeros(n_slots, dtype=np.float64)
    out[have] = total[have] / count[have]
    last = np.flatnonzero(have)[-1]
    # index of the last slot with data at or before each slot
    idx = np.where(have, np.arange(n_slots), -1)
    np.maximum.accumulate(idx, out=idx)
    gap = np.arange(n_slots) - idx
    fill = (~have) & (idx >= 0) & (gap <= MAX_FILL_SLOTS) & \
        (np.arange(n_slots) <= last)
    out[fill] = out[idx[fill]]
    return out.astype(np.float32), int(fill.sum())
