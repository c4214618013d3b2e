"""The traces shipped inside the package, the default of every command.

See ``watcher_adaptive/data/TRACES_ATTRIBUTION.rst`` for their origin and
``tools/make_embedded_sample.py`` for how the file is made.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from watcher_adaptive.exceptions import TraceError
from watcher_adaptive.traces.model import LoadReport
from watcher_adaptive.traces.model import TraceSet

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / \
    "embedded_traces.npz"
KINDS = ("planetlab", "bitbrains")
_EXTRA = ("disk_read_kbs", "disk_write_kbs", "net_rx_kbs", "net_tx_kbs")


@functools.lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    if not DATA_FILE.is_file():
        raise TraceError(f"the embedded trace file is missing: {DATA_FILE}")
    with np.load(DATA_FILE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def embedded_planetlab_day() -> str:
    """The PlanetLab day the package embeds."""
    return str(_arrays()["planetlab_day"])


def load_embedded(kind: str = "planetlab") -> TraceSet:
    """One of the embedded traces: ``planetlab`` or ``bitbrains``."""
    if kind not in KINDS:
        raise TraceError(f"unknown embedded trace {kind!r}; choose one of "
                         f"{', '.join(KINDS)}")
    a = _arrays()
    if kind == "planetlab":
        percent = a["planetlab_percent"]
        day = str(a["planetlab_day"])
        return TraceSet(
            name=f"planetlab:{day}", interval_s=300.0,
            vm_ids=tuple(str(x) for x in a["planetlab_ids"]),
            cpu=percent.astype(np.float32) / np.float32(100.0),
            report=LoadReport(
                source="planetlab", files_read=1,
                notes=(f"embedded copy of PlanetLab day {day}",)))
    report_lines = str(a["bitbrains_report"]).splitlines()
    return TraceSet(
        name="bitbrains:embedded", interval_s=300.0,
        vm_ids=tuple(str(x) for x in a["bitbrains_ids"]),
        cpu=a["bitbrains_cpu_centipercent"].astype(np.float32) / 10000.0,
        memory_mb=a["bitbrains_memory_mb"].astype(np.float32),
        vm_cores=a["bitbrains_vm_cores"],
        vm_cpu_mhz=a["bitbrains_vm_cpu_mhz"],
        vm_memory_mb=a["bitbrains_vm_memory_mb"],
        extra={k: a[f"bitbrains_{k}"].astype(np.float32) for k in _EXTRA},
        start_epoch_s=float(a["bitbrains_start_epoch_s"]),
        report=LoadReport(source="bitbrains", files_read=1,
                          notes=("embedded sample of 40 Bitbrains Rnd "
                                 "development VMs; cleaned when made:",
                                 *report_lines)))
