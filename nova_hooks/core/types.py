"""Value objects of the destination agent's pure core.

Everything the classifier and the planners read or return is a frozen
dataclass defined here; the adapters (backends, libvirt wrapper, journal)
build these and the core never touches the host.  Sizes are in bytes
unless a name ends in ``_kib`` (libvirt's unit for memory).
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any
from typing import Mapping
from typing import Optional

import numpy as np

PAGE_SIZE = 4096


class PageClass(enum.IntEnum):
    """Temperature of a page or region."""

    COLD = 0
    WARM = 1
    HOT = 2


class Phase(enum.Enum):
    """Where an incoming migration is, as seen from the destination."""

    PREPARED = "prepared"      # hint received, no domain yet
    INCOMING = "incoming"      # destination QEMU exists, pre-copy runs
    POSTCOPY = "postcopy"      # guest runs here, pages still arrive
    STEADY = "steady"          # migration completed
    FAILED = "failed"          # aborted, cancelled or rolled back
    DONE = "done"              # agent released the guest


#: phases during which the destination's libvirt domain job is held by
#: the incoming migration: every job-taking libvirt call blocks (30 s on
#: libvirt 9.0.0, then error code 68).
JOB_HELD_PHASES = frozenset({Phase.INCOMING, Phase.POSTCOPY})


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When a page is hot, warm or cold.

    Rates are the share of sampling intervals in which the page was seen
    accessed (0..1).  A write counts ``write_weight`` accesses.

    :param hot_access_rate: score at or above which a page is hot.
    :param warm_access_rate: score at or above which a page is warm.
    :param cold_min_idle_s: a page below ``warm_access_rate`` is cold only
        after this long without access; younger idle pages stay warm.
    :param write_weight: weight of a write relative to a read.
    :param dirty_window_s: with no per-page data, the bytes dirtied in
        this window (dirty rate x window) are taken as the hot set.
    """

    hot_access_rate: float = 0.5
    warm_access_rate: float = 0.05
    cold_min_idle_s: float = 30.0
    write_weight: float = 2.0
    dirty_window_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.warm_access_rate <= self.hot_access_rate <= 1.0:
            raise ValueError(
                "need 0 <= warm_access_rate <= hot_access_rate <= 1, got "
                f"{self.warm_access_rate} / {self.hot_access_rate}")
        for name in ("cold_min_idle_s", "write_weight", "dirty_window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0: {value}")
        if self.write_weight > 15:
            raise ValueError("write_weight must be <= 15")

    def replace(self, overrides: Mapping[str, Any]) -> "Thresholds":
        """A copy with ``overrides`` applied; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown threshold(s): {sorted(unknown)}")
        return dataclasses.replace(
            self, **{k: float(v) for k, v in overrides.items()})


@dataclasses.dataclass(frozen=True)
class Region:
    """A contiguous range of guest memory with one access behaviour.

    DAMON-like: ``access_rate`` and ``write_rate`` are the shares of
    sampling intervals with an access / a write (0..1), ``idle_s`` how
    long the region has gone without access, ``node`` the host NUMA node
    holding it (-1: unknown).
    """

    start: int
    size: int
    access_rate: float
    write_rate: float = 0.0
    idle_s: float = 0.0
    node: int = -1

    def __post_init__(self) -> None:
        if self.size < 0 or self.start < 0:
            raise ValueError("region start and size must be >= 0")
        if not (0.0 <= self.access_rate <= 1.0
                and 0.0 <= self.write_rate <= 1.0):
            raise ValueError("region rates must be within 0..1")


@dataclasses.dataclass(frozen=True, eq=False)
class PageSamples:
    """Per-page counters from ``intervals`` sampling intervals.

    Arrays are one entry per page: ``accesses`` and ``writes`` (uint8,
    how many intervals saw the page accessed / written), ``idle_s``
    (uint16 seconds since last access) and optionally ``node`` (int8 host
    NUMA node, -1 unknown).
    """

    accesses: np.ndarray
    writes: np.ndarray
    idle_s: np.ndarray
    intervals: int
    interval_s: float = 1.0
    node: Optional[np.ndarray] = None
    page_size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        n = self.accesses.shape[0]
        if self.writes.shape[0] != n or self.idle_s.shape[0] != n:
            raise ValueError("page sample arrays differ in length")
        if self.node is not None and self.node.shape[0] != n:
            raise ValueError("node array differs in length")
        if not 1 <= self.intervals <= 255:
            raise ValueError("intervals must be within 1..255")
        if self.accesses.dtype != np.uint8 or self.writes.dtype != np.uint8:
            raise ValueError("accesses and writes must be uint8")

    @property
    def pages(self) -> int:
        return int(self.accesses.shape[0])


@dataclasses.dataclass(frozen=True)
class Classification:
    """Sizes per class and where the hot set lives."""

    hot_bytes: int
    warm_bytes: int
    cold_bytes: int
    hot_bytes_by_node: tuple[tuple[int, int], ...] = ()
    #: pages read / written per second over the sampled window
    read_rate: Optional[float] = None
    write_rate: Optional[float] = None

    @property
    def total_bytes(self) -> int:
        return self.hot_bytes + self.warm_bytes + self.cold_bytes


@dataclasses.dataclass(frozen=True)
class BalloonStats:
    """The guest's view of its memory (virtio-balloon stats), KiB."""

    actual_kib: int
    available_kib: Optional[int] = None   # MemTotal inside the guest
    unused_kib: Optional[int] = None      # MemFree
    usable_kib: Optional[int] = None      # MemAvailable
    disk_caches_kib: Optional[int] = None

    @property
    def need_kib(self) -> Optional[int]:
        """Memory the guest cannot give back: MemTotal - MemAvailable."""
        if self.available_kib is None or self.usable_kib is None:
            return None
        return max(0, self.available_kib - self.usable_kib)


@dataclasses.dataclass(frozen=True)
class Observation:
    """What one sampling backend saw in one round.

    A backend fills what it measures and leaves the rest empty.
    ``covers_all`` says whether ``regions``/``pages`` cover the whole
    guest memory (memory outside them then counts as cold) or only part
    of it (the rest is unknown).
    """

    backend: str
    regions: tuple[Region, ...] = ()
    pages: Optional[PageSamples] = None
    covers_all: bool = False
    faults: Optional[int] = None          # post-copy demand requests
    placed: Optional[int] = None          # post-copy pages placed
    dirty_rate_bps: Optional[float] = None
    balloon: Optional[BalloonStats] = None
    node_bytes: tuple[tuple[int, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class VmFigures:
    """One VM's memory behaviour, combined from every observation."""

    guest_bytes: int
    hot_bytes: int
    warm_bytes: int
    cold_bytes: int
    hot_bytes_by_node: tuple[tuple[int, int], ...] = ()
    miss_ratio: Optional[float] = None
    read_rate: Optional[float] = None
    write_rate: Optional[float] = None
    dirty_rate_bps: Optional[float] = None
    guest_need_kib: Optional[int] = None
    sources: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hot_bytes_by_node"] = dict(self.hot_bytes_by_node)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "VmFigures":
        """The inverse of :meth:`as_dict` (as JSON gives it back: node
        keys as strings, lists for tuples); unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        nodes = values.get("hot_bytes_by_node") or {}
        values["hot_bytes_by_node"] = tuple(
            (int(n), int(b)) for n, b in dict(nodes).items())
        values["sources"] = tuple(values.get("sources") or ())
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Guest:
    """One guest as the host shows it: its name (QEMU's files are named
    after it), vCPU count and balloon sizes (KiB)."""

    uuid: str
    name: str
    n_vcpus: int
    current_kib: int
    maximum_kib: int


@dataclasses.dataclass(frozen=True)
class Affinity:
    """Where a guest's QEMU threads may run now."""

    #: CPUs of each vCPU thread, in vCPU order
    vcpus: list[list[int]]
    #: CPUs any emulator thread may run on
    emulator: list[int]
    #: whether the guest has emulator threads at all
    has_emulator: bool


@dataclasses.dataclass(frozen=True)
class BalloonPolicy:
    """Bounds of the balloon planner (KiB).

    :param floor_kib: never below this.
    :param headroom_kib: kept on top of hot + warm (and of guest need).
    :param headroom_ratio: headroom as a share of hot + warm; the larger
        of the two headrooms applies.
    :param max_step_kib: largest single shrink; growing is one step.
    :param min_change_kib: smaller changes are not worth making.
    :param require_guest_need: never shrink without the guest's stats.
    """

    floor_kib: int = 262144
    headroom_kib: int = 65536
    headroom_ratio: float = 0.1
    max_step_kib: int = 131072
    min_change_kib: int = 16384
    require_guest_need: bool = True

    def __post_init__(self) -> None:
        for name in ("floor_kib", "headroom_kib", "min_change_kib"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_step_kib <= 0:
            raise ValueError("max_step_kib must be > 0")
        if not 0.0 <= self.headroom_ratio <= 10.0:
            raise ValueError("headroom_ratio must be within 0..10")


@dataclasses.dataclass(frozen=True)
class BalloonPlan:
    """Balloon targets to set one after the other (KiB)."""

    current_kib: int
    target_kib: int
    steps_kib: tuple[int, ...]
    reason: str

    @property
    def changes(self) -> bool:
        return bool(self.steps_kib)


@dataclasses.dataclass(frozen=True)
class NumaNode:
    """A host NUMA node and the CPUs that belong to it."""

    id: int
    cpus: frozenset[int]


@dataclasses.dataclass(frozen=True)
class HostTopology:
    nodes: tuple[NumaNode, ...]

    @property
    def cpus(self) -> frozenset[int]:
        return frozenset().union(*(n.cpus for n in self.nodes))

    def node(self, node_id: int) -> Optional[NumaNode]:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclasses.dataclass(frozen=True)
class PinningPolicy:
    """Where the agent may place a guest's threads.

    :param guest_cpus: CPUs vCPUs may run on (empty: every host CPU),
        like Nova's ``cpu_shared_set``.
    :param emulator_cpus: CPUs for the emulator threads (empty: the same
        CPUs as the vCPUs).
    :param min_hot_share: follow the hot set only when this share of it
        sits on one node; otherwise spread over ``guest_cpus``.
    """

    guest_cpus: frozenset[int] = frozenset()
    emulator_cpus: frozenset[int] = frozenset()
    min_hot_share: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_hot_share <= 1.0:
            raise ValueError("min_hot_share must be within 0..1")


@dataclasses.dataclass(frozen=True)
class PinningPlan:
    """CPU affinity for every vCPU and for the emulator threads."""

    node: Optional[int]
    vcpu_cpus: tuple[frozenset[int], ...]
    emulator_cpus: frozenset[int]
    reason: str
