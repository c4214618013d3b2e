"""The physical energy floor of a replay: ``fluid_bound_kwh``.

The energy needed to serve *all* the CPU demand of a trace if it ran on
the most energy-efficient host model at that model's most efficient
utilisation, with fractional hosts, idle hosts off and free migrations.
No strategy that serves all demand can use less (up to the engine's
frame-by-frame accounting, see below); a strategy below it left demand
unserved, which its ``served_fraction`` shows.  All demand means every
VM's demand for the whole trace: where a world lets VMs leave (CloudSim's
"zero demand = finished" rule on PlanetLab), what they would have asked
afterwards is demand left unserved, not demand that vanished.

In a world that enforces capacity (``realistic``) the fractional host
count at each moment is the largest of the CPU need (demand at the most
efficient utilisation), the RAM need (allocated RAM / a host's RAM
limit) and the vCPU need (vCPUs / a host's vCPU limit); power is then
taken at the CPU utilisation that count gives.  With several host models
the cheapest one is taken at each moment.

The integral is the engine's: trapezoids between its scheduling frames,
from the first frame it accounts (the engine gives a frame energy only
for hosts already on at its start).
"""
from __future__ import annotations

import numpy as np

from watcher_adaptive.replay import api
from watcher_adaptive.replay import power


def _models(hosts: api.HostTable, limits: api.Limits
            ) -> list[tuple[float, float, float, np.ndarray]]:
    """Distinct host models: (CPU capacity, RAM limit, vCPU limit,
    power table)."""
    seen: dict[tuple, tuple[float, float, float, np.ndarray]] = {}
    for h in range(hosts.n):
        table = np.asarray(hosts.power_w[h], dtype=float)
        key = (float(hosts.total_mips[h]), float(limits.ram_mb[h]),
               float(limits.vcpus[h]), tuple(table))
        seen.setdefault(key, (key[0], key[1], key[2], table))
    return list(seen.values())


def _power(capacity: float, ram_limit: float, vcpu_limit: float,
           table: np.ndarray, cpu: np.ndarray, ram: np.ndarray,
           vcpus: np.ndarray) -> np.ndarray:
    """Watts of fractional hosts of one model serving the given needs."""
    levels = np.linspace(0.0, 1.0, table.size)
    # efficiency (MIPS per watt) is best at a table point: on a linear
    # piece u / (a + b u) is monotone
    eff = levels[1:] * capacity / table[1:]
    best_u = float(levels[1:][int(np.argmax(eff))])
    n = cpu / (capacity * best_u)
    if np.isfinite(ram_limit) and ram_limit > 0:
        n = np.maximum(n, ram / ram_limit)
    if np.isfinite(vcpu_limit) and vcpu_limit > 0:
        n = np.maximum(n, vcpus / vcpu_limit)
    safe_n = np.where(n > 0, n, 1.0)
    u = np.clip(cpu / (safe_n * capacity), 0.0, 1.0)
    watts = power.power_at(np.broadcast_to(table, (u.size, table.size)), u)
    return np.where(n > 0, n * watts, 0.0)


def fluid_bound_curve(hosts: api.HostTable, vms: api.VmTable,
                      utilization_at, frame_times: np.ndarray,
                      limits: api.Limits) -> tuple[np.ndarray, np.ndarray]:
    """The floor accumulated over time (see the module docstring).

    :param utilization_at: ``t -> (n_vms,)`` demand as a fraction of each
        VM's capacity (the engine's interpolation of the trace).
    :param frame_times: the engine's scheduling frames, ascending.
    :param limits: the world's per-host limits.
    :returns: ``(frame_times_s, cumulative_kwh)``, 0 at the first frame;
        its last value is :func:`fluid_bound_kwh` (the report draws the
        curve beside each strategy's cumulative energy).
    """
    times = np.asarray(frame_times, dtype=float)
    if times.size < 2:
        return times, np.zeros(times.size)
    size = vms.total_mips.astype(float)
    ram = vms.ram_mb.astype(float)
    vcpus = vms.pes.astype(float)
    cpu = np.array([float(np.dot(utilization_at(float(t)), size))
                    for t in times])
    ram_need = np.full(times.size, float(ram.sum()))
    vcpu_need = np.full(times.size, float(vcpus.sum()))
    watts = np.full(times.size, np.inf)
    for capacity, ram_limit, vcpu_limit, table in _models(hosts, limits):
        watts = np.minimum(watts, _power(capacity, ram_limit, vcpu_limit,
                                         table, cpu, ram_need, vcpu_need))
    joules = np.concatenate(
        [[0.0], np.cumsum((watts[:-1] + watts[1:]) / 2.0 * np.diff(times))])
    return times, joules / 3.6e6


def fluid_bound_kwh(hosts: api.HostTable, vms: api.VmTable,
                    utilization_at, frame_times: np.ndarray,
                    limits: api.Limits) -> float:
    """The floor for one trace in one world: the last value of
    :func:`fluid_bound_curve`."""
    _, kwh = fluid_bound_curve(hosts, vms, utilization_at, frame_times,
                               limits)
    return float(kwh[-1]) if kwh.size else 0.0
