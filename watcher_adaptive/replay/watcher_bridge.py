"""OpenStack Watcher's own strategies, run in-process inside the replay.

Each audit builds a Watcher ``ModelRoot`` from the simulated cluster, gives
the strategy a datasource fed from the replay, loads the strategy through
Watcher's own stevedore loader and turns its solution back into moves: no
Watcher service, database, message bus or Keystone is involved.

Mapping: a host's vCPUs are its PEs, a VM has its PEs as vCPUs and its
RAM; CPU usage is MIPS used / MIPS capacity (per VM and per host).  A VM
in migration sits on its destination in the model, in state
``migrating``, which Watcher's strategies do not move.

Per-audit cost measured on this project's 2-core machine on the embedded
PlanetLab day (800 hosts, 1,052 VMs): workload_balance 0.06-0.16 s,
workload_stabilization 0.11-0.20 s, vm_workload_consolidation about
0.34 s, basic 8-34 s.  The default audit intervals
(:data:`DEFAULT_AUDIT_INTERVAL_S`) keep the default ``simulate`` run under
three minutes; any peer can be given its own with ``watcher:NAME@SECONDS``.
"""
from __future__ import annotations

import copy
import random
import uuid
from typing import Any
from typing import Optional

import numpy as np

from watcher_adaptive.exceptions import PeerError
from watcher_adaptive.replay import api

#: seconds between audits per Watcher strategy, chosen from measured cost
DEFAULT_AUDIT_INTERVAL_S = {
    "vm_workload_consolidation": 3600.0,
    "workload_stabilization": 900.0,
    "workload_balance": 900.0,
    "basic": 43200.0,
}
_NAMESPACE = uuid.UUID("6f1d8c53-51f5-4b0e-9a57-7b44ad5a7d11")
_CONF_READY = False
_PROJECT = str(uuid.uuid5(_NAMESPACE, "project/replay"))


def _ensure_watcher_conf() -> None:
    """Parse an empty command line for Watcher's options, once, unless the
    process already parsed a configuration of its own."""
    global _CONF_READY
    if _CONF_READY:
        return
    import watcher.conf  # noqa: F401 - registers Watcher's option groups
    from oslo_config import cfg

    try:
        parsed = cfg.CONF.project is not None  # raises before any parse
    except cfg.Error:
        parsed = False
    if not parsed:
        cfg.CONF([], project="watcher", default_config_files=[])
    _CONF_READY = True


def watcher_strategy_names() -> list[str]:
    """Strategies registered under Watcher's ``watcher_strategies``."""
    from stevedore import extension

    mgr = extension.ExtensionManager("watcher_strategies",
                                     invoke_on_load=False)
    return sorted(mgr.names())


def _host_uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"host/{name}"))


def _vm_uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"vm/{name}"))


class WatcherPeer(api.ReplayStrategy):
    """``watcher:<strategy>`` — a Watcher built-in as a replay peer.

    :param strategy_name: the name in Watcher's ``watcher_strategies``.
    :param audit_parameters: overrides of the strategy's schema defaults.
    """

    #: Nova's cpu_allocation_ratio on the model's nodes in a world that
    #: sets none (``cloudsim``): the hosts' own cores; a world with
    #: limits gives its own ratios (see :func:`_build_model`)
    vcpu_ratio: float = 1.0

    def __init__(self, strategy_name: str,
                 audit_parameters: Optional[dict[str, Any]] = None) -> None:
        names = watcher_strategy_names()
        if strategy_name not in names:
            raise ValueError(f"unknown Watcher strategy {strategy_name!r}; "
                             f"Watcher has: {', '.join(names)}")
        self.strategy_name = strategy_name
        self.name = f"watcher:{strategy_name}"
        self.audit_parameters = dict(audit_parameters or {})
        self.audit_interval_s = DEFAULT_AUDIT_INTERVAL_S.get(strategy_name,
                                                             1800.0)
        self.ignored_actions: dict[str, int] = {}

    @classmethod
    def from_spec(cls, param: Optional[str]) -> "WatcherPeer":
        if not param:
            raise ValueError("watcher needs a strategy name, e.g. "
                             "watcher:vm_workload_consolidation")
        return cls(param)

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in
                           sorted(self.audit_parameters.items()))
        return (f"Watcher 17.0.0 {self.strategy_name} in-process, audit "
                f"every {self.audit_interval_s:g} s"
                + (f" ({params})" if params else ""))

    # ------------------------------------------------------------------
    def decide(self, view: api.ClusterView) -> api.Decision:
        _ensure_watcher_conf()
        from watcher.common import utils
        from watcher.decision_engine.loading import default as loading

        model, node_index, vm_index = _build_model(view, self.vcpu_ratio)
        source = _make_datasource(view, model)
        strategy = loading.DefaultStrategyLoader().load(self.strategy_name)
        strategy._compute_model = model
        strategy._datasource_backend = source
        strategy.audit_scope = []
        params = copy.deepcopy(self.audit_parameters)
        schema = strategy.get_schema()
        if schema:
            utils.StrictDefaultValidatingDraft4Validator(schema).validate(
                params)
        strategy.input_parameters.update(params)
        # NOTE(wa): some Watcher strategies draw from Python's global RNG;
        # seed it per audit so that a replay is repeatable.
        random.seed(int(view.time_s))
        try:
            solution = strategy.execute()
        except Exception as exc:
            raise PeerError(f"{self.name} failed: {type(exc).__name__}: "
                            f"{exc}") from exc
        return self._translate(solution.actions, node_index, vm_index,
                               view)

    def _translate(self, actions, node_index: dict[str, int],
                   vm_index: dict[str, int],
                   view: api.ClusterView) -> api.Decision:
        moves, disable, enable = [], [], []
        ignored: dict[str, int] = {}
        for action in actions:
            kind = action["action_type"]
            p = action["input_parameters"]
            if kind == "migrate":
                vm = vm_index.get(p.get("resource_id"))
                target = node_index.get(p.get("destination_node"))
                if vm is not None and target is not None \
                        and not view.vm_in_migration[vm]:
                    moves.append(api.Move(vm, target, reason=self.name))
            elif kind == "change_nova_service_state":
                host = node_index.get(p.get("resource_name"))
                if host is not None:
                    (disable if p.get("state") == "disabled"
                     else enable).append(host)
            else:
                ignored[kind] = ignored.get(kind, 0) + 1
        for kind, n in ignored.items():
            self.ignored_actions[kind] = self.ignored_actions.get(kind,
                                                                  0) + n
        note = ", ".join(f"{n} {k}" for k, n in sorted(ignored.items()))
        return api.Decision(moves=tuple(moves), disable_hosts=tuple(disable),
                            enable_hosts=tuple(enable),
                            note=f"ignored: {note}" if note else "")


# ----------------------------------------------------------------------
#: memory_allocation_ratio in a world that does not limit RAM on
#: migration (``cloudsim``): so large that RAM never binds, as for the
#: other strategies of that world
_UNLIMITED_RATIO = 1000.0


def _ratios(view: api.ClusterView, h: int,
            vcpu_ratio: float) -> tuple[float, float]:
    """(vCPU ratio, RAM ratio) of host ``h`` in the view's world."""
    limits = view.host_limits()
    hosts = view.hosts
    vcpu = (float(limits.vcpus[h]) / float(hosts.pes[h])
            if np.isfinite(limits.vcpus[h]) else vcpu_ratio)
    ram = (float(limits.ram_mb[h]) / float(hosts.ram_mb[h])
           if np.isfinite(limits.ram_mb[h]) else _UNLIMITED_RATIO)
    return vcpu, ram


def _build_model(view: api.ClusterView, vcpu_ratio: float = 1.0):
    from watcher.decision_engine.model import element
    from watcher.decision_engine.model import model_root

    class ReplayModel(model_root.ModelRoot):
        # NOTE(wa): Watcher's base strategy logs ``to_string()`` of the
        # whole model at debug level on every audit, and the argument is
        # built even when debug is off (about 2.5 s at 1,000 hosts); the
        # replay has no use for it.
        def to_string(self) -> str:
            nodes = len(self.get_all_compute_nodes())
            return f"<replay model: {nodes} nodes>"

    model = ReplayModel()
    hosts, vms = view.hosts, view.vms
    nodes = []
    node_index: dict[str, int] = {}
    for h in range(hosts.n):
        name = hosts.names[h]
        node_vcpu_ratio, node_ram_ratio = _ratios(view, h, vcpu_ratio)
        node = element.ComputeNode(
            uuid=_host_uuid(name), hostname=name,
            vcpus=int(hosts.pes[h]), vcpu_reserved=0,
            vcpu_ratio=node_vcpu_ratio,
            memory=int(hosts.ram_mb[h]), memory_mb_reserved=0,
            memory_ratio=node_ram_ratio, disk=10_000, disk_gb_reserved=0,
            disk_ratio=1.0, state=element.ServiceState.ONLINE.value,
            status=(element.ServiceState.ENABLED.value
                    if view.host_enabled[h]
                    else element.ServiceState.DISABLED.value),
            disabled_reason=None if view.host_enabled[h]
            else "watcher_disabled")
        model.add_node(node)
        nodes.append(node)
        node_index[name] = h
        node_index[node.uuid] = h
    vm_index: dict[str, int] = {}
    target = view.vm_migration_target
    for v in range(vms.n):
        host = int(target[v]) if target[v] >= 0 else int(view.vm_host[v])
        if host < 0:
            continue
        vm_uuid = _vm_uuid(vms.names[v])
        inst = element.Instance(
            uuid=vm_uuid, name=str(vms.names[v]),
            state="migrating" if target[v] >= 0 else "active",
            vcpus=int(vms.pes[v]), memory=int(vms.ram_mb[v]), disk=1,
            metadata={}, project_id=_PROJECT,
            host=hosts.names[host], hypervisor_hostname=hosts.names[host])
        model.add_instance(inst)
        model.map_instance(inst, nodes[host])
        vm_index[vm_uuid] = v
    return model, node_index, vm_index


def _period_means(view: api.ClusterView, period_s: float) -> np.ndarray:
    """Each VM's mean CPU utilisation over the last ``period_s``."""
    k = max(1, int(np.ceil(period_s / view.interval_s)))
    recent = view.vm_cpu_history[:, -k:]
    have = ~np.isnan(recent)
    sums = np.where(have, recent, 0.0).sum(axis=1)
    counts = have.sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1),
                    view.vm_cpu_util)


def _make_datasource(view: api.ClusterView, model):
    from watcher.decision_engine.datasources import base as ds_base

    class ReplayDataSource(ds_base.DataSourceBase):
        """Metrics of the simulated cluster, in Watcher's units."""

        NAME = "replay"
        METRIC_MAP = dict(
            host_cpu_usage="replay.host.cpu", host_ram_usage="replay.host.ram",
            host_outlet_temp=None, host_inlet_temp=None, host_airflow=None,
            host_power=None,
            instance_cpu_usage="replay.vm.cpu",
            instance_ram_usage="replay.vm.ram",
            instance_ram_allocated="replay.vm.ram_alloc",
            instance_l3_cache_usage=None,
            instance_root_disk_size="replay.vm.disk")

        def __init__(self) -> None:
            super().__init__()
            self._means: dict[float, np.ndarray] = {}
            self._vm_of = {_vm_uuid(n): i
                           for i, n in enumerate(view.vms.names)}
            self._ram = (view.vm_memory_used_mb
                         if view.vm_memory_used_mb is not None
                         else view.vms.ram_mb)

        def _cpu(self, period: float) -> np.ndarray:
            if period not in self._means:
                self._means[period] = _period_means(view, period)
            return self._means[period]

        def query_retry_reset(self, exception_instance) -> None:
            return None

        def list_metrics(self):
            return {v for v in self.METRIC_MAP.values() if v}

        def check_availability(self) -> str:
            return "available"

        def statistic_series(self, resource=None, resource_type=None,
                             meter_name=None, start_time=None,
                             end_time=None, granularity=300):
            return {}

        def _statistic_aggregation(self, resource=None, resource_type=None,
                                   meter_name=None, period=300,
                                   aggregate="mean", granularity=300):
            self._get_meter(meter_name)  # MetricNotAvailable if unmapped
            cpu = self._cpu(float(period or view.interval_s))
            if resource_type == "instance":
                v = self._vm_of[resource.uuid]
                return {
                    "instance_cpu_usage": 100.0 * float(cpu[v]),
                    "instance_ram_usage": float(self._ram[v]),
                    "instance_ram_allocated": float(view.vms.ram_mb[v]),
                    "instance_root_disk_size": 1.0,
                }.get(meter_name)
            if resource_type == "compute_node":
                node = model.get_node_by_uuid(resource.uuid)
                insts = model.get_node_instances(node)
                idx = [self._vm_of[i.uuid] for i in insts]
                h = int(np.flatnonzero(
                    np.array(view.hosts.names) == node.hostname)[0])
                if meter_name == "host_cpu_usage":
                    used = float(np.sum(cpu[idx] * view.vms.total_mips[idx]))
                    return 100.0 * used / float(view.hosts.total_mips[h])
                if meter_name == "host_ram_usage":
                    return 1024.0 * float(np.sum(self._ram[idx]))
            return None

        def _getter(rtype: str, meter: str):
            def get(self, resource, period, aggregate, granularity=300):
                return self.statistic_aggregation(resource, rtype, meter,
                                                  period, aggregate,
                                                  granularity)
            return get

        get_host_cpu_usage = _getter("compute_node", "host_cpu_usage")
        get_host_ram_usage = _getter("compute_node", "host_ram_usage")
        get_host_outlet_temp = _getter("compute_node", "host_outlet_temp")
        get_host_inlet_temp = _getter("compute_node", "host_inlet_temp")
        get_host_airflow = _getter("compute_node", "host_airflow")
        get_host_power = _getter("compute_node", "host_power")
        get_instance_cpu_usage = _getter("instance", "instance_cpu_usage")
        get_instance_ram_usage = _getter("instance", "instance_ram_usage")
        get_instance_ram_allocated = _getter("instance",
                                             "instance_ram_allocated")
        get_instance_l3_cache_usage = _getter("instance",
                                              "instance_l3_cache_usage")
        get_instance_root_disk_size = _getter("instance",
                                              "instance_root_disk_size")
        del _getter

    return ReplayDataSource()
