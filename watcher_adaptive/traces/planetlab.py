"""PlanetLab CPU traces (CoMon, March-April 2011, as shipped by CloudSim).

A day is a directory with one file per VM: 288 integer CPU percentages
(0-99), one per 300 s, no header, no timestamp.  VMs are taken in sorted
file-name order, which CloudSim's VM-type assignment relies on.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np

from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet

INTERVAL_S = 300.0
SAMPLES_PER_DAY = 288


def day_dir(path: Union[str, Path]) -> Path:
    """``path`` as a PlanetLab day directory.

    :raises TraceError: it is not a directory.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise TraceError(f"PlanetLab trace directory not found: {folder}")
    return folder


def load_planetlab_day(path: Union[str, Path]) -> TraceSet:
    """Read one PlanetLab day directory.

    :param path: the day's directory (e.g. ``.../planetlab/20110303``).
    :raises TraceError: missing or empty directory, a non-integer line,
        a value outside 0-100, or files of different lengths.
    """
    folder = day_dir(path)
    names = sorted(n for n in os.listdir(folder)
                   if (folder / n).is_file() and not n.startswith("."))
    if not names:
        raise TraceError(f"PlanetLab trace directory is empty: {folder}")
    rows = [_read_vm(folder / name) for name in names]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        counts = {n: len(r) for n, r in zip(names, rows, strict=True)}
        common = max(lengths, key=lambda k: list(counts.values()).count(k))
        odd = [n for n, c in counts.items() if c != common][:3]
        raise TraceError(
            f"PlanetLab files in {folder} differ in length: most have "
            f"{common} samples, but e.g. {odd} do not")
    percent = np.array(rows, dtype=np.uint8)
    report = LoadReport(source="planetlab", files_read=len(names),
                        notes=(f"{percent.shape[1]} samples of "
                               f"{INTERVAL_S:.0f} s per VM",))
    return TraceSet(name=f"planetlab:{folder.name}", interval_s=INTERVAL_S,
                    vm_ids=tuple(names),
                    cpu=(percent.astype(np.float32) / np.float32(100.0)),
                    report=report)


def _read_vm(path: Path) -> list[int]:
    values = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            text = raw.strip()
            if not text:
                continue
            try:
                value = int(text)
            except ValueError:
                raise TraceError(
                    f"{path}: line {lineno} is not an integer CPU "
                    f"percentage: {text[:40]!r}") from None
            if not 0 <= value <= 100:
                raise TraceError(f"{path}: line {lineno}: CPU {value} % "
                                 "is outside 0-100")
            values.append(value)
    if not values:
        raise TraceError(f"{path}: no samples")
    return values
