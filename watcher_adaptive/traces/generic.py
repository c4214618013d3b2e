"""Operators' own exports: a wide CSV, one column of CPU % per VM.

The first column is a timestamp (epoch seconds or ISO 8601) or a sample
number (0, 1, 2, … or 1, 2, 3, …: whole numbers from 0 or 1 in steps of
1, never taken for epoch seconds, which would put the trace in the first
minutes of 1970); every further column is one VM's CPU utilisation in
percent.  An optional second file of the same layout holds each VM's
memory in use (MB).  The sample interval is given or inferred from the
timestamps (their median step).  Cells above 100 % are clipped, empty
ones take the VM's previous value (0 before its first); both are counted.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Optional
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


def load_wide_csv(path: Union[str, Path],
                  interval_s: Optional[float] = None,
                  memory_path: Union[str, Path, None] = None) -> TraceSet:
    """Read a wide CPU CSV (and optionally its memory twin).

    :param path: the CPU file.
    :param interval_s: seconds between rows; required when the first
        column numbers the samples, inferred from timestamps otherwise.
    :param memory_path: optional memory file, same columns and rows.
    :raises TraceError: unreadable file, no VM columns, a column that is
        empty or not numeric, a missing interval, a mismatched memory file.
    """
    import pandas as pd
    path = Path(path)
    frame = _read(path)
    time_col, vm_cols = frame.columns[0], list(frame.columns[1:])
    if not vm_cols:
        raise TraceError(f"{path}: needs a time column and at least one "
                         "VM column")
    times, start, step = _time_axis(path, frame[time_col])
    if interval_s is None:
        if step is None:
            raise TraceError(f"{path}: the first column numbers the "
                             "samples (no timestamps); give the interval "
                             "with --interval SECONDS")
        interval_s = step
    if interval_s <= 0:
        raise TraceError(f"{path}: the interval must be positive")
    cpu, clipped, filled = _values(path, frame[vm_cols], clip=100.0)
    memory = None
    if memory_path is not None:
        mem_frame = _read(Path(memory_path))
        if list(mem_frame.columns[1:]) != vm_cols or \
                len(mem_frame) != len(frame):
            raise TraceError(f"{memory_path}: must have the same VM columns "
                             f"and rows as {path.name}")
        memory, _, mem_filled = _values(Path(memory_path),
                                        mem_frame[vm_cols], clip=None)
        filled += mem_filled
    how = "given" if step is None or interval_s != step else "inferred"
    report = LoadReport(
        source="csv", files_read=1 + (memory_path is not None),
        samples_clipped_above_100=clipped,
        max_cpu_percent_seen=float(np.nanmax(
            frame[vm_cols].apply(pd.to_numeric, errors="coerce").to_numpy())),
        gaps_filled=filled,
        notes=(f"interval {interval_s:g} s ({how})",
               "VM sizes assigned as for PlanetLab (CloudSim VM types)"))
    return TraceSet(name=f"csv:{path.name}", interval_s=float(interval_s),
                    vm_ids=tuple(str(c) for c in vm_cols),
                    cpu=(cpu / 100.0).astype(np.float32),
                    memory_mb=None if memory is None
                    else memory.astype(np.float32),
                    start_epoch_s=start, report=report)


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd
    if not path.is_file():
        raise TraceError(f"CSV trace not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise TraceError(f"{path}: not a readable CSV: {exc}") from None
    if frame.empty:
        raise TraceError(f"{path}: no rows")
    return frame


def _time_axis(path: Path, col: pd.Series
               ) -> tuple[np.ndarray, Optional[float], Optional[float]]:
    """Times in seconds, the start epoch, and the inferred step
    (``None`` for sample numbers)."""
    import pandas as pd
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype=np.float64)
        if is_sample_number(values):
            return values - values[0], None, None
        seconds = values
    else:
        parsed = pd.to_datetime(col, errors="coerce", utc=True)
        if parsed.isna().any():
            bad = int(parsed.isna().to_numpy().argmax()) + 2
            raise TraceError(f"{path}: line {bad}: {col.iloc[bad - 2]!r} is "
                             "neither epoch seconds, ISO 8601 nor an index")
        seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds() \
            .to_numpy()
    steps = np.diff(seconds)
    if len(steps) == 0 or (steps <= 0).any():
        raise TraceError(f"{path}: timestamps must increase")
    return seconds, float(seconds[0]), float(np.median(steps))


def is_sample_number(values: np.ndarray) -> bool:
    """Whole numbers from 0 or 1 in steps of 1: a sample count, not
    epoch seconds."""
    return values.size > 0 and values[0] in (0.0, 1.0) and \
        np.array_equal(values, values[0] + np.arange(values.size))


def _values(path: Path, frame: pd.DataFrame,
            clip: Optional[float]) -> tuple[np.ndarray, int, int]:
    import pandas as pd
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    for col in frame.columns:
        if numeric[col].isna().all():
            raise TraceError(f"{path}: column {col!r} is empty or not "
                             "numeric")
        bad = numeric[col].isna() & frame[col].notna()
        if bad.any():
            row = int(bad.to_numpy().argmax()) + 2
            raise TraceError(f"{path}: line {row}, column {col!r}: "
                             f"{frame[col].iloc[row - 2]!r} is not a number")
    values = numeric.to_numpy(dtype=np.float64).T
    missing = np.isnan(values)
    filled = int(missing.sum())
    values = pd.DataFrame(values.T).ffill().fillna(0.0).to_numpy().T
    values = np.maximum(values, 0.0)
    clipped = 0
    if clip is not None:
        clipped = int((values > clip).sum())
        values = np.minimum(values, clip)
    return values, clipped, filled
