"""Watcher compute models and recorded usage for the strategy tests."""
from __future__ import annotations

import uuid

import numpy as np

from watcher_adaptive.adapters import gnocchi


class RecordingSource:
    """Serves one recorded window and remembers what was asked.

    :param cpu_by_vm: utilisation series of 2-vCPU instances (the
        builders' default flavor), served as cores in use.
    """

    def __init__(self, cpu_by_vm: dict[str, list[float]],
                 vcpus: float = 2.0,
                 profiles: dict[str, dict[str, list[float]]] | None = None
                 ) -> None:
        self.cpu_by_vm = cpu_by_vm
        self.vcpus = vcpus
        #: profile metric key -> {vm: series}, served when asked for
        self.profiles = profiles or {}
        self.calls: list[tuple] = []

    def read_usage(self, resource_ids, start, stop, granularity=300,
                   metrics=None):
        if metrics is not None:
            self.calls.append(("profile", tuple(metrics)))
            ids = tuple(resource_ids)
            width = max((len(v) for by_vm in self.profiles.values()
                         for v in by_vm.values()), default=0)
            values = {}
            for key, by_vm in self.profiles.items():
                arr = np.full((len(ids), width), np.nan)
                for i, rid in enumerate(ids):
                    series = by_vm.get(rid, [])
                    arr[i, width - len(series):] = series
                values[key] = arr
            return gnocchi.UsageWindow(ids, grid(stop, granularity, width),
                                       values, 1)
        self.calls.append((tuple(resource_ids), start, stop, granularity))
        ids = tuple(r for r in resource_ids if r in self.cpu_by_vm)
        width = max((len(v) for v in self.cpu_by_vm.values()), default=0)
        cpu = np.full((len(ids), width), np.nan)
        for i, rid in enumerate(ids):
            series = self.cpu_by_vm[rid]
            cpu[i, width - len(series):] = series
        return gnocchi.UsageWindow(
            ids, grid(stop, granularity, width),
            {"cpu_cores": cpu * self.vcpus}, 1)


def grid(stop, granularity: int, width: int) -> np.ndarray:
    """``width`` sample times on the store's grid, the last at or before
    ``stop`` (as Gnocchi aligns its points)."""
    last = int(stop.timestamp()) // granularity * granularity
    return (last - granularity * np.arange(width)[::-1]).astype(
        "datetime64[s]")


class BrokenSource:
    def read_usage(self, resource_ids, start, stop, granularity=300):
        raise ConnectionError("gnocchi at http://127.0.0.1:1 unreachable")


def vm_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))


def make_model(hosts: dict[str, dict], vms: dict[str, dict]):
    """``hosts``: name -> ComputeNode overrides; ``vms``: name -> dict
    with ``host`` and Instance overrides."""
    from watcher.decision_engine.model import element
    from watcher.decision_engine.model import model_root

    model = model_root.ModelRoot()
    nodes = {}
    for name, over in hosts.items():
        fields = dict(uuid=vm_uuid("node-" + name), hostname=name, vcpus=8,
                      vcpu_reserved=0, vcpu_ratio=4.0, memory=32768,
                      memory_mb_reserved=0, memory_ratio=1.0, disk=500,
                      disk_gb_reserved=0, disk_ratio=1.0, state="up",
                      status="enabled", disabled_reason=None)
        fields.update(over)
        node = element.ComputeNode(**fields)
        model.add_node(node)
        nodes[name] = node
    for name, over in vms.items():
        over = dict(over)
        host = over.pop("host")
        fields = dict(uuid=over.pop("uuid", vm_uuid(name)), name=name,
                      state="active",
                      vcpus=2, memory=2048, disk=20, metadata={},
                      project_id=vm_uuid("project"), host=host,
                      hypervisor_hostname=host)
        fields.update(over)
        inst = element.Instance(**fields)
        model.add_instance(inst)
        model.map_instance(inst, nodes[host])
    return model


#: the audit the strategy tests' hand-built clusters were drawn for:
#: relieve above 0.9 down to 0.8, no consolidation (the product's defaults
#: are tuned on traces and may move; these tests are about the mechanism)
AUDIT = {"overload_threshold": 0.9, "target_utilization": 0.8,
         "underload_threshold": 0.3, "consolidate": False,
         "max_migrations_per_audit": 20, "max_migrations_per_hour": 60,
         "max_concurrent_per_host": 2}
