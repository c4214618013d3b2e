"""Simulated clusters: the host and VM tables a replay runs on.

Two models:

* :func:`cloudsim_planetlab_cluster` reproduces the CloudSim 3.0.3
  power-aware PlanetLab experiment (Beloglazov & Buyya, CCPE 2012):
  800 hosts alternating HP ProLiant ML110 G4 / G5, four VM types assigned
  in contiguous blocks of the (sorted) trace list.
* :func:`modern_cluster` is for traces whose VMs do not fit CloudSim's
  4 GB hosts (Bitbrains, operators' own exports): a two-socket server with
  a published SPECpower curve, and the host count sized from the load.
  There is no CloudSim reference for it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import cloudsim_policies
from watcher_adaptive.replay import power
from watcher_adaptive.replay import worlds
from watcher_adaptive.traces.model import TraceSet


@dataclasses.dataclass(frozen=True)
class HostModel:
    """One kind of physical server."""

    label: str
    pes: int
    mips_per_pe: float
    ram_mb: float
    bw_mbps: float
    power_w: tuple[float, ...]


HP_ML110_G4 = HostModel("HP ProLiant ML110 G4", 2, 1860.0, 4096.0, 1000.0,
                        power.HP_ML110_G4_W)
HP_ML110_G5 = HostModel("HP ProLiant ML110 G5", 2, 2660.0, 4096.0, 1000.0,
                        power.HP_ML110_G5_W)
#: Two-socket server for the modern model: IBM System x3550 M3 with
#: 2 x Xeon X5675 (12 cores at 3067 MHz), its published SPECpower_ssj2008
#: curve (the newest CloudSim ships), 192 GB (the model's maximum), 10 GbE.
TWO_SOCKET_X5675 = HostModel("IBM x3550 M3, 2 x Xeon X5675", 12,
                             3067.0, 196608.0, 10000.0,
                             power.IBM_X3550_X5675_W)

#: CloudSim's VM types: (MIPS, RAM MB), one PE, 100 Mbit/s each.
CLOUDSIM_VM_TYPES = ((2500.0, 870.0), (2000.0, 1740.0), (1000.0, 1740.0),
                     (500.0, 613.0))
CLOUDSIM_VM_BW_MBPS = 100.0
CLOUDSIM_HOSTS = 800
#: RAM of a VM whose size the trace does not give (Nova's m1.small: 2 GB
#: would overstate the small Bitbrains VMs; 1 GB is the common tiny flavour)
DEFAULT_VM_RAM_MB = 1024.0


def _host_table(models: list[HostModel]) -> api.HostTable:
    return api.HostTable(
        names=tuple(f"host-{i}" for i in range(len(models))),
        pes=np.array([m.pes for m in models], dtype=np.int64),
        mips_per_pe=np.array([m.mips_per_pe for m in models]),
        ram_mb=np.array([m.ram_mb for m in models]),
        bw_mbps=np.array([m.bw_mbps for m in models]),
        power_w=np.array([m.power_w for m in models]),
        model=tuple(m.label for m in models),
    )


def cloudsim_vm_types(n_vms: int) -> np.ndarray:
    """CloudSim's type index per VM: ``i // ceil(n / 4)``."""
    block = math.ceil(n_vms / len(CLOUDSIM_VM_TYPES))
    return np.arange(n_vms) // block


def cloudsim_planetlab_cluster(
        trace: TraceSet,
        n_hosts: int = CLOUDSIM_HOSTS) -> tuple[api.HostTable, api.VmTable]:
    """Hosts and VMs exactly as CloudSim's PlanetLab runner builds them.

    Host ``j`` is a G4 when ``j`` is even, a G5 when odd; VM ``i`` (in the
    trace's order, sorted file names for PlanetLab) gets type
    ``i // ceil(N / 4)``.
    """
    if n_hosts < 1:
        raise ValueError("n_hosts must be at least 1")
    hosts = _host_table([HP_ML110_G4 if j % 2 == 0 else HP_ML110_G5
                         for j in range(n_hosts)])
    types = cloudsim_vm_types(trace.n_vms)
    mips = np.array([CLOUDSIM_VM_TYPES[t][0] for t in types])
    ram = np.array([CLOUDSIM_VM_TYPES[t][1] for t in types])
    vms = api.VmTable(
        names=trace.vm_ids,
        mips=mips,
        pes=np.ones(trace.n_vms, dtype=np.int64),
        ram_mb=ram,
        bw_mbps=np.full(trace.n_vms, CLOUDSIM_VM_BW_MBPS),
    )
    return hosts, vms


def modern_cluster(trace: TraceSet, n_hosts: Optional[int] = None,
                   host: HostModel = TWO_SOCKET_X5675,
                   ) -> tuple[api.HostTable, api.VmTable, list[str]]:
    """A cluster of identical two-socket hosts for large-VM traces.

    VM capacity comes from the trace (provisioned cores, MHz, memory);
    where the trace has none, the CloudSim VM types are used.  Without
    ``n_hosts`` there are enough hosts for every VM's provisioned CPU and
    memory, plus 25 %.  VMs larger than a host are shrunk to one
    host (their demand then saturates it); the returned notes say which.
    """
    n = trace.n_vms
    notes: list[str] = []
    if trace.vm_cpu_mhz is not None and trace.vm_cores is not None:
        cores = np.nan_to_num(trace.vm_cores, nan=1.0)
        too_many = np.flatnonzero(cores > host.pes)
        if too_many.size:
            notes.append(f"{too_many.size} VM(s) with more cores than a "
                         f"host ({host.pes}) shrunk to one host: "
                         + ", ".join(trace.vm_ids[i] for i in too_many[:8]))
        cores = np.clip(np.round(cores), 1, host.pes).astype(np.int64)
        mhz = np.nan_to_num(trace.vm_cpu_mhz, nan=2000.0)
        per_pe = np.minimum(mhz / cores, host.mips_per_pe)
    else:
        types = cloudsim_vm_types(n)
        cores = np.ones(n, dtype=np.int64)
        per_pe = np.array([CLOUDSIM_VM_TYPES[t][0] for t in types])
    if trace.memory_mb is not None:
        # a VM without a provisioned size (a --memory CSV gives none, a
        # Bitbrains file may write 0): its largest use is the least its
        # flavour can have been
        with np.errstate(all="ignore"):
            peak = np.nanmax(trace.memory_mb, axis=1)
        peak = np.where(np.isfinite(peak) & (peak > 0), np.ceil(peak),
                        DEFAULT_VM_RAM_MB)
        given = (np.full(n, np.nan) if trace.vm_memory_mb is None
                 else np.asarray(trace.vm_memory_mb, dtype=np.float64))
        sized = np.isfinite(given) & (given > 0)
        ram = np.where(sized, given, peak)
        if not sized.all():
            notes.append(
                "VM RAM sizes are each VM's peak memory use in the trace "
                "(no provisioned size given)" if not sized.any() else
                f"{int((~sized).sum())} VM(s) without a provisioned memory "
                "size sized by their peak memory use")
    elif trace.vm_memory_mb is not None:
        ram = np.nan_to_num(trace.vm_memory_mb, nan=DEFAULT_VM_RAM_MB)
    else:
        types = cloudsim_vm_types(n)
        ram = np.array([CLOUDSIM_VM_TYPES[t][1] for t in types])
    too_big = np.flatnonzero(ram > host.ram_mb)
    if too_big.size:
        notes.append(f"{too_big.size} VM(s) with more memory than a host "
                     f"({host.ram_mb / 1024:.0f} GB) shrunk to it: "
                     + ", ".join(trace.vm_ids[i] for i in too_big[:8]))
    ram = np.minimum(ram, host.ram_mb)
    vms = api.VmTable(names=trace.vm_ids, mips=per_pe, pes=cores,
                      ram_mb=ram, bw_mbps=np.full(n, CLOUDSIM_VM_BW_MBPS))
    if n_hosts is None:
        # VMs are placed on their provisioned size (as CloudSim does when
        # it creates them), so size for that, with 25 % spare for the
        # fragmentation of first-fit placement
        by_cpu = float(vms.total_mips.sum()) / (host.pes * host.mips_per_pe)
        by_ram = float(ram.sum()) / host.ram_mb
        n_hosts = max(2, math.ceil(max(by_cpu, by_ram) * 1.25))
        n_hosts = _enough_hosts(host, vms, n_hosts)
    return _host_table([host] * n_hosts), vms, notes


def _enough_hosts(host: HostModel, vms: api.VmTable, n_hosts: int) -> int:
    """Grow ``n_hosts`` until both start-up placements (first fit and
    power-aware best fit) find a host for every VM."""
    for _ in range(50):
        hosts = _host_table([host] * n_hosts)
        # the realistic world's limits are the tighter: what fits there
        # fits in every world
        limits = worlds.REALISTIC.limits(hosts)
        placed = (cloudsim_policies.first_fit_initial_placement(
            hosts, vms, None, limits) >= 0).all() and \
            (cloudsim_policies.pabfd_initial_placement(
                hosts, vms, None, limits) >= 0).all()
        if placed:
            return n_hosts
        n_hosts = math.ceil(n_hosts * 1.1) + 1
    return n_hosts
