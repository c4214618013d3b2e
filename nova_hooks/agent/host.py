"""This host's guests, as the agent may touch them.

Two kinds of call, kept apart on purpose.  *Immediate* calls never take
libvirt's domain job: they read ``domainListGetStats(..., NOWAIT)``,
procfs, and change thread affinity with ``sched_setaffinity`` or the
balloon through the guest's second QMP monitor; they work while an
incoming post-copy migration holds the job.  *Job-taking* calls
(``setMemoryFlags``, ``pinVcpuFlags``, ``pinEmulator``, ``memoryStats``)
wait 30 s and fail during post-copy (measured on libvirt 9.0), so the
manager makes them only after the migration completed, and never from
libvirt's event-loop thread.
"""
from __future__ import annotations

import os
import time
from typing import Optional
from typing import Protocol
from typing import Sequence

from nova_hooks.agent import qemu
from nova_hooks.agent import reclaim
from nova_hooks.agent.qmp import Qmp
from nova_hooks.core.reclaim import RamReading
from nova_hooks.core.reclaim import Range
from nova_hooks.core.types import Affinity
from nova_hooks.core.types import BalloonStats
from nova_hooks.core.types import Guest
from nova_hooks.core.types import HostTopology
from nova_hooks.core.types import NumaNode

#: the namespace of the metadata Nova's libvirt driver writes into every
#: instance's domain (``<nova:instance xmlns:nova=".../nova/1.1">``; the
#: version part left out)
NOVA_METADATA = "http://openstack.org/xmlns/libvirt/nova/"
#: guest-RAM mappings remembered at most (one per guest reclaim touched)
_MAX_RAM_MAPS = 64

__all__ = ["NOVA_METADATA", "Affinity", "Guest", "Host", "LibvirtHost",
           "ThreadAffinity", "host_topology", "numa_bytes",
           "parse_cpu_list"]


class Host(Protocol):
    """What the agent reads from and changes on this host; the one way
    to a guest (:class:`LibvirtHost` in service, test hosts in tests)."""

    def guest(self, uuid: str) -> Guest: ...

    def threads(self, guest: Guest) -> tuple[dict[int, int], list[int]]:
        ...

    def node_bytes(self, guest: Guest) -> tuple[tuple[int, int], ...]: ...

    def topology(self) -> HostTopology: ...

    def qmp(self, guest: Guest) -> Optional[Qmp]: ...

    def affinity(self, guest: Guest) -> Affinity: ...

    def set_vcpu_affinity(self, guest: Guest,
                          cpus: Sequence[Sequence[int]]) -> None: ...

    def set_emulator_affinity(self, guest: Guest,
                              cpus: Sequence[int]) -> None: ...

    def set_balloon(self, guest: Guest, kib: int) -> None: ...

    def pin(self, guest: Guest, vcpu_cpus: Sequence[Sequence[int]],
            emulator_cpus: Sequence[int]) -> None: ...

    def stats_period(self, guest: Guest) -> int: ...

    def set_stats_period(self, guest: Guest, seconds: int) -> None: ...

    def balloon_stats(self, guest: Guest) -> Optional[BalloonStats]: ...

    def nova_instance(self, guest: Guest) -> bool: ...

    def ram(self, guest: Guest) -> RamReading: ...

    def page_out(self, guest: Guest, ranges: Sequence[Range]) -> int: ...

    def page_in(self, guest: Guest, ranges: Sequence[Range]) -> int: ...


class ThreadAffinity:
    """Affinity of a guest's QEMU threads through ``sched_setaffinity``
    (immediate: no libvirt job), for any host whose ``threads(guest)``
    finds them."""

    def threads(self, guest: Guest) -> tuple[dict[int, int], list[int]]:
        raise NotImplementedError

    def affinity(self, guest: Guest) -> Affinity:
        vcpus, emulator = self.threads(guest)
        return Affinity([qemu.get_affinity(vcpus[i]) for i in sorted(vcpus)],
                        _affinity_of(emulator), bool(emulator))

    def set_vcpu_affinity(self, guest: Guest,
                          cpus: Sequence[Sequence[int]]) -> None:
        vcpus, _ = self.threads(guest)
        # NOTE: an undo may carry fewer lists than vCPUs (a journal of an
        # older layout): the vCPUs it names are set
        for i, each in zip(sorted(vcpus), cpus, strict=False):
            qemu.set_affinity(vcpus[i], each)

    def set_emulator_affinity(self, guest: Guest,
                              cpus: Sequence[int]) -> None:
        _, emulator = self.threads(guest)
        for tid in emulator:
            try:
                qemu.set_affinity(tid, cpus)
            except ProcessLookupError:
                pass    # a short-lived worker thread ended


def _affinity_of(tids: Sequence[int]) -> list[int]:
    """The CPUs any of ``tids`` may run on; QEMU's short-lived worker
    threads may end between listing and reading, and are skipped."""
    cpus: set[int] = set()
    for tid in tids:
        try:
            cpus.update(qemu.get_affinity(tid))
        except ProcessLookupError:
            continue
    return sorted(cpus)


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"0-3,8,10-11"`` -> {0, 1, 2, 3, 8, 10, 11}."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(cpus)


def host_topology(sys_root: str = "/sys") -> HostTopology:
    """NUMA nodes and their CPUs from sysfs (one node with every online
    CPU when the kernel shows no NUMA)."""
    base = os.path.join(sys_root, "devices", "system", "node")
    nodes = []
    try:
        names = sorted(n for n in os.listdir(base) if n.startswith("node")
                       and n[4:].isdigit())
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(base, name, "cpulist")) as f:
                nodes.append(NumaNode(int(name[4:]),
                                      parse_cpu_list(f.read().strip())))
        except OSError:
            continue
    if not nodes:
        nodes = [NumaNode(0, frozenset(os.sched_getaffinity(0)))]
    return HostTopology(tuple(nodes))


def numa_bytes(proc_root: str, pid: int,
               page_kib: int = 4) -> tuple[tuple[int, int], ...]:
    """Resident bytes of process ``pid`` per NUMA node, from
    ``/proc/<pid>/numa_maps`` (``N<node>=<pages>``)."""
    by_node: dict[int, int] = {}
    try:
        with open(os.path.join(proc_root, str(pid), "numa_maps")) as f:
            for line in f:
                kib = page_kib
                for field in line.split():
                    if field.startswith("kernelpagesize_kB="):
                        kib = int(field.split("=")[1])
                for field in line.split():
                    if field.startswith("N") and "=" in field:
                        node, pages = field[1:].split("=")
                        if node.isdigit():
                            by_node[int(node)] = by_node.get(int(node), 0) \
                                + int(pages) * kib * 1024
    except OSError:
        return ()
    return tuple(sorted(by_node.items()))


class LibvirtHost(ThreadAffinity):
    """The adapter over one libvirt connection and this host's procfs."""

    def __init__(self, conn, run_dir: str, proc_root: str = "/proc",
                 sys_root: str = "/sys",
                 second_monitor: str = "{run_dir}/{name}.qmp2",
                 qmp_timeout_s: float = 2.0) -> None:
        import libvirt

        self.libvirt = libvirt
        self.conn = conn
        self.run_dir = run_dir
        self.proc_root = proc_root
        self.sys_root = sys_root
        self.second_monitor = second_monitor
        self.qmp_timeout_s = qmp_timeout_s
        #: uuid -> (QEMU pid, its guest-RAM mapping): the mapping stays
        #: put for a QEMU's life, so a round reads /proc/<pid>/maps once
        self._ram_maps: dict[str, tuple[int, reclaim.RamMapping]] = {}

    # -- immediate ------------------------------------------------------
    def guest(self, uuid: str) -> Guest:
        lv = self.libvirt
        dom = self.conn.lookupByUUIDString(uuid)
        stats = self.conn.domainListGetStats(
            [dom], lv.VIR_DOMAIN_STATS_BALLOON | lv.VIR_DOMAIN_STATS_VCPU,
            lv.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
        values = stats[0][1] if stats else {}
        maximum = int(values.get("balloon.maximum") or 0)
        current = int(values.get("balloon.current") or maximum)
        vcpus = int(values.get("vcpu.current") or 0)
        if not maximum or not vcpus:
            # a driver without these stats: virDomainGetInfo (QEMU keeps
            # the balloon size from its events, so no job is taken)
            _state, max_kib, cur_kib, n_vcpus, _cpu = dom.info()
            maximum = maximum or int(max_kib)
            current = int(values.get("balloon.current") or cur_kib)
            vcpus = vcpus or int(n_vcpus)
        return Guest(uuid, dom.name(), vcpus, current, maximum)

    def threads(self, guest: Guest) -> tuple[dict[int, int], list[int]]:
        pid = qemu.qemu_pid(self.run_dir, guest.name)
        return qemu.threads(self.proc_root, pid)

    def node_bytes(self, guest: Guest) -> tuple[tuple[int, int], ...]:
        return numa_bytes(self.proc_root,
                          qemu.qemu_pid(self.run_dir, guest.name))

    def topology(self) -> HostTopology:
        return host_topology(self.sys_root)

    def qmp(self, guest: Guest) -> Optional[Qmp]:
        path = self.second_monitor.format(run_dir=self.run_dir,
                                          name=guest.name, uuid=guest.uuid)
        return Qmp(path, self.qmp_timeout_s) if os.path.exists(path) \
            else None

    def nova_instance(self, guest: Guest) -> bool:
        """Whether the domain carries Nova's instance metadata (its live
        XML, no job taken)."""
        xml = self.conn.lookupByUUIDString(guest.uuid).XMLDesc(0)
        return NOVA_METADATA in xml

    def ram(self, guest: Guest) -> RamReading:
        """The guest-RAM mapping of the guest's QEMU: present runs, host
        free memory (procfs; no job taken)."""
        pid, ram = self._guest_ram(guest)
        return reclaim.reading(pid, ram, guest.maximum_kib * 1024,
                               time.monotonic())

    def page_out(self, guest: Guest, ranges: Sequence[Range]) -> int:
        return self._advise(guest, ranges, reclaim.MADV_PAGEOUT)

    def page_in(self, guest: Guest, ranges: Sequence[Range]) -> int:
        return self._advise(guest, ranges, reclaim.MADV_WILLNEED)

    def _advise(self, guest: Guest, ranges: Sequence[Range],
                advice: int) -> int:
        pid, ram = self._guest_ram(guest)
        return reclaim.advise(pid, ram, ranges, advice)

    def _guest_ram(self, guest: Guest) -> tuple[int, reclaim.RamMapping]:
        """The guest's QEMU and its guest-RAM mapping, read again only
        when the QEMU is another one."""
        pid = qemu.qemu_pid(self.run_dir, guest.name)
        known = self._ram_maps.get(guest.uuid)
        if known is not None and known[0] == pid:
            return known
        # one entry per guest that reclaim touched; a session's end
        # leaves it to be replaced by the next QEMU of that uuid
        if len(self._ram_maps) >= _MAX_RAM_MAPS:
            self._ram_maps.pop(next(iter(self._ram_maps)))
        self._ram_maps[guest.uuid] = found = (
            pid, reclaim.guest_ram(pid, guest.maximum_kib * 1024))
        return found

    def state(self, uuid: str) -> Optional[tuple[int, int]]:
        """``(state, reason)``, or ``None`` when the domain is gone (no
        job taken)."""
        try:
            dom = self.conn.lookupByUUIDString(uuid)
        except self.libvirt.libvirtError as exc:
            if exc.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise
        st, reason = dom.state()
        return int(st), int(reason)

    # -- job-taking: only when no migration holds the job ----------------
    def set_balloon(self, guest: Guest, kib: int) -> None:
        self.conn.lookupByUUIDString(guest.uuid).setMemoryFlags(
            int(kib), self.libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def pin(self, guest: Guest, vcpu_cpus: Sequence[Sequence[int]],
            emulator_cpus: Sequence[int]) -> None:
        dom = self.conn.lookupByUUIDString(guest.uuid)
        n = self.conn.getInfo()[2]
        for vcpu, cpus in enumerate(vcpu_cpus):
            dom.pinVcpuFlags(vcpu, tuple(c in cpus for c in range(n)),
                             self.libvirt.VIR_DOMAIN_AFFECT_LIVE)
        dom.pinEmulator(tuple(c in emulator_cpus for c in range(n)),
                        self.libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def stats_period(self, guest: Guest) -> int:
        """The balloon statistics period of the live domain (0: none),
        from its XML (no job taken)."""
        import re

        xml = self.conn.lookupByUUIDString(guest.uuid).XMLDesc(0)
        m = re.search(r"<memballoon\b.*?</memballoon>", xml, re.S)
        period = re.search(r"<stats\s+period=['\"](\d+)['\"]",
                           m.group(0)) if m else None
        return int(period.group(1)) if period else 0

    def set_stats_period(self, guest: Guest, seconds: int) -> None:
        self.conn.lookupByUUIDString(guest.uuid).setMemoryStatsPeriod(
            int(seconds), self.libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def dirty_rate_bps(self, guest: Guest, seconds: int,
                       sleep=None) -> Optional[float]:
        """QEMU's dirty-page rate over ``seconds`` (bytes/s), or ``None``
        when the measurement did not finish."""
        import time

        lv = self.libvirt
        dom = self.conn.lookupByUUIDString(guest.uuid)
        dom.startDirtyRateCalc(int(seconds), 0)
        (sleep or time.sleep)(seconds + 0.5)
        stats = self.conn.domainListGetStats(
            [dom], lv.VIR_DOMAIN_STATS_DIRTYRATE)
        values = stats[0][1] if stats else {}
        # calc_status 2: VIR_DOMAIN_DIRTYRATE_MEASURED
        if values.get("dirtyrate.calc_status") != 2:
            return None
        return float(values["dirtyrate.megabytes_per_second"]) * 1024 ** 2

    def balloon_stats(self, guest: Guest) -> Optional[BalloonStats]:
        stats = self.conn.lookupByUUIDString(guest.uuid).memoryStats()
        if "actual" not in stats:
            return None
        return BalloonStats(actual_kib=int(stats["actual"]),
                            available_kib=stats.get("available"),
                            unused_kib=stats.get("unused"),
                            usable_kib=stats.get("usable"),
                            disk_caches_kib=stats.get("disk_caches"))
