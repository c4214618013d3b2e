"""Watcher's compute model to a :class:`~watcher_adaptive.core.types.
ClusterSnapshot`.

Capacities follow Nova's placement arithmetic: what a host may allocate
is ``(total - reserved) * allocation_ratio`` for vCPUs, RAM and disk;
the CPU *load* capacity (what utilisation is measured against) is the
physical cores, ``vcpus - vcpu_reserved``.  An instance may move when it
is active, not locked, not ``watcher_exclude``d, not opted out through
the ``optimize`` metadata Watcher already honours, and not of a
CPU-pinned flavor (``hw:cpu_policy=dedicated``) unless the operator
allows those moves.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping
from typing import Optional

import numpy as np

from watcher_adaptive.core.types import ClusterSnapshot


@dataclasses.dataclass(frozen=True)
class ModelIndex:
    """Watcher objects behind the snapshot's numbers."""

    nodes: tuple
    instances: tuple


def _pinned(instance) -> bool:
    specs = getattr(instance, "flavor_extra_specs", None) or {}
    return str(specs.get("hw:cpu_policy", "")).lower() == "dedicated"


def _opted_out(instance) -> bool:
    meta = getattr(instance, "metadata", None) or {}
    value = str(meta.get("optimize", "true")).strip().lower()
    return value in ("false", "0", "no", "off")


def build_snapshot(model, seconds_since_move: Mapping[str, float],
                   moves_last_hour: int = 0,
                   host_zones: Optional[Mapping[str, str]] = None,
                   allow_pinned_moves: bool = False,
                   excluded_hosts: frozenset = frozenset(),
                   seconds_since_consolidation: Optional[
                       Mapping[str, float]] = None,
                   ) -> tuple[ClusterSnapshot, ModelIndex]:
    """The snapshot of ``model`` (a Watcher ``ModelRoot``).

    :param seconds_since_move: per instance uuid, from the move journal.
    :param seconds_since_consolidation: likewise, the moves a
        consolidation made; ``None``: not known.
    :param host_zones: availability zone per hostname; instances pinned
        to a zone only move within it, and stay put when zones are
        unknown.
    """
    zones = dict(host_zones or {})
    nodes = tuple(sorted(model.get_all_compute_nodes().values(),
                         key=lambda n: n.hostname))
    instances = []
    vm_host = []
    for i, node in enumerate(nodes):
        for inst in sorted(model.get_node_instances(node),
                           key=lambda x: x.uuid):
            instances.append(inst)
            vm_host.append(i)

    def host_array(get) -> np.ndarray:
        return np.array([float(get(n)) for n in nodes], dtype=float)

    cores = host_array(lambda n: max(n.vcpus - (n.vcpu_reserved or 0), 0))
    vcpus = cores * host_array(lambda n: n.vcpu_ratio or 1.0)
    ram = host_array(lambda n: max(n.memory - (n.memory_mb_reserved or 0),
                                   0) * (n.memory_ratio or 1.0))
    disk = host_array(lambda n: max(n.disk - (n.disk_gb_reserved or 0), 0)
                      * (n.disk_ratio or 1.0))
    accepts = np.array([n.status == "enabled" and n.state == "up"
                        and n.hostname not in excluded_hosts
                        and n.uuid not in excluded_hosts
                        for n in nodes], dtype=bool)
    movable = np.array([
        inst.state == "active" and not inst.locked
        and not inst.watcher_exclude and not _opted_out(inst)
        and (allow_pinned_moves or not _pinned(inst))
        and (not inst.pinned_az or bool(zones))
        for inst in instances], dtype=bool)
    snapshot = ClusterSnapshot(
        host_names=tuple(n.hostname for n in nodes),
        host_cpu_capacity=cores, host_ram_mb=ram, host_disk_gb=disk,
        host_vcpus=vcpus, host_accepts=accepts,
        host_zone=tuple(zones.get(n.hostname, "") for n in nodes),
        vm_names=tuple(inst.uuid for inst in instances),
        vm_host=np.array(vm_host, dtype=np.int64),
        vm_vcpus=np.array([inst.vcpus for inst in instances], dtype=float),
        vm_ram_mb=np.array([inst.memory for inst in instances],
                           dtype=float),
        vm_disk_gb=np.array([inst.disk for inst in instances],
                            dtype=float),
        vm_movable=movable,
        vm_zone=tuple(inst.pinned_az or "" for inst in instances),
        vm_seconds_since_move=np.array(
            [seconds_since_move.get(inst.uuid, np.inf)
             for inst in instances], dtype=float),
        vm_seconds_since_consolidation=None
        if seconds_since_consolidation is None else np.array(
            [seconds_since_consolidation.get(inst.uuid, np.inf)
             for inst in instances], dtype=float),
        moves_last_hour=moves_last_hour)
    return snapshot, ModelIndex(nodes, tuple(instances))
