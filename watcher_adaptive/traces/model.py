"""The one in-memory, columnar form every trace loader produces.

A :class:`TraceSet` holds, for ``n_vms`` VMs on one fixed sample grid, the
CPU utilisation as a fraction of the VM's own capacity (0..1) and, where the
source has them, memory and I/O columns.  Loaders for PlanetLab, Bitbrains
and the generic CSV layout all return this, so the replay and the predictor
never care where a trace came from.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What a loader changed or noticed while reading a trace.

    Every entry counts something the loader did instead of failing, so
    that nothing is dropped silently.
    """

    source: str
    files_read: int = 0
    samples_clipped_above_100: int = 0
    max_cpu_percent_seen: float = 0.0
    constant_vms: tuple[str, ...] = ()
    zero_core_rows: int = 0
    files_with_zero_core_rows: int = 0
    duplicate_timestamps: int = 0
    repeated_block_files: int = 0
    gaps_filled: int = 0
    #: VMs whose every row gives 0 provisioned memory: size unknown (NaN)
    vms_without_memory_size: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = [f"source: {self.source}", f"files read: {self.files_read}"]
        for field in dataclasses.fields(self):
            if field.name in ("source", "files_read", "notes"):
                continue
            value = getattr(self, field.name)
            if value:
                if isinstance(value, tuple):
                    value = f"{len(value)} ({', '.join(value[:5])}"\
                            f"{', …' if len(value) > 5 else ''})"
                out.append(f"{field.name.replace('_', ' ')}: {value}")
        out.extend(self.notes)
        return out


@dataclasses.dataclass(frozen=True)
class TraceSet:
    """Per-VM utilisation series on a common grid.

    :param name: a label for reports (``planetlab:20110303``, …).
    :param interval_s: seconds between two samples.
    :param vm_ids: one id per row, in the order the loader defines
        (PlanetLab: sorted file names, which the CloudSim model relies on).
    :param cpu: ``float32`` array ``(n_vms, n_samples)``, CPU use as a
        fraction of the VM's capacity, clipped to ``[0, 1]``.
    :param memory_mb: optional ``(n_vms, n_samples)`` memory in use (MB).
    :param vm_cores: optional ``(n_vms,)`` provisioned cores (NaN unknown).
    :param vm_cpu_mhz: optional ``(n_vms,)`` provisioned CPU capacity.
    :param vm_memory_mb: optional ``(n_vms,)`` provisioned memory (MB).
    :param extra: optional further columns, e.g. ``disk_read_kbs``,
        ``disk_write_kbs``, ``net_rx_kbs``, ``net_tx_kbs``; each
        ``(n_vms, n_samples)``.
    :param start_epoch_s: wall-clock time of sample 0 when known.
    :param report: what the loader cleaned, clipped or flagged.
    """

    name: str
    interval_s: float
    vm_ids: tuple[str, ...]
    cpu: np.ndarray
    memory_mb: Optional[np.ndarray] = None
    vm_cores: Optional[np.ndarray] = None
    vm_cpu_mhz: Optional[np.ndarray] = None
    vm_memory_mb: Optional[np.ndarray] = None
    extra: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    start_epoch_s: Optional[float] = None
    report: LoadReport = dataclasses.field(
        default_factory=lambda: LoadReport(source="unknown"))

    def __post_init__(self) -> None:
        if self.cpu.ndim != 2:
            raise ValueError("cpu must be a 2-D array (n_vms, n_samples)")
        if self.cpu.shape[0] != len(self.vm_ids):
            raise ValueError(
                f"{self.cpu.shape[0]} cpu rows but {len(self.vm_ids)} VM ids")
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")
        for label, arr in (("memory_mb", self.memory_mb),
                           *self.extra.items()):
            if arr is not None and arr.shape != self.cpu.shape:
                raise ValueError(
                    f"{label} has shape {arr.shape}, cpu has {self.cpu.shape}")

    @property
    def n_vms(self) -> int:
        return self.cpu.shape[0]

    @property
    def n_samples(self) -> int:
        return self.cpu.shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples * self.interval_s

    def head(self, n_samples: int) -> "TraceSet":
        """The first ``n_samples`` samples of every series (all of them
        when the trace is shorter)."""
        def cut(arr: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if arr is None else arr[:, :n_samples]

        return dataclasses.replace(
            self, cpu=self.cpu[:, :n_samples],
            memory_mb=cut(self.memory_mb),
            extra={k: v[:, :n_samples] for k, v in self.extra.items()})

    def subset(self, rows: "np.ndarray | list[int]") -> "TraceSet":
        """A TraceSet restricted to the given VM rows, in that order."""
        rows = np.asarray(rows, dtype=int)

        def pick(arr: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if arr is None else arr[rows]

        return dataclasses.replace(
            self,
            vm_ids=tuple(self.vm_ids[i] for i in rows),
            cpu=self.cpu[rows],
            memory_mb=pick(self.memory_mb),
            vm_cores=pick(self.vm_cores),
            vm_cpu_mhz=pick(self.vm_cpu_mhz),
            vm_memory_mb=pick(self.vm_memory_mb),
            extra={k: v[rows] for k, v in self.extra.items()},
        )
