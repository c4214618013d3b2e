"""``damon``: the guest's access pattern from the kernel's DAMON (virtual
address operations on QEMU's process), through DAMON's sysfs interface.

DAMON's cost is bounded by its region count (``[page_sampling]
max_regions``), not by memory size.  The agent only ever uses a kdamond
it created itself: it creates one when the host has none (the kernel
refuses to change ``nr_kdamonds`` while any kdamond runs, and changing it
would wipe another user's setup), records that it owns it in
``owner_path``, points it at one guest's QEMU with a ``stat`` scheme, and
reads the scheme's tried regions each round.  A kdamond it did not
create is never touched: the probe says so and the backend stays off.
One guest at a time per agent.
"""
from __future__ import annotations

import json
import os
import time
from typing import Optional

from nova_hooks.agent import qemu
from nova_hooks.agent.backends import Backend
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Region

SAMPLE_US = 5000
AGGR_US = 100000
UPDATE_US = 1000000


class DamonBackend(Backend):
    name = "damon"
    during_postcopy = True

    def __init__(self, host, conf=None, owner_path: Optional[str] = None,
                 clock=time.monotonic) -> None:
        super().__init__(host, conf)
        self.clock = clock
        self.max_regions = 1000
        self.owner_path = owner_path or "/run/nova-adaptive-agent/damon"
        if conf is not None:
            self.max_regions = conf.page_sampling.max_regions
            self.owner_path = os.path.join(
                os.path.dirname(conf.agent.journal_path), "damon-owner.json")
        self.admin = os.path.join(host.sys_root, "kernel", "mm", "damon",
                                  "admin", "kdamonds")
        self.watching: Optional[str] = None

    # -- sysfs ----------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return os.path.join(self.admin, *parts)

    def _read(self, *parts: str) -> str:
        with open(self._path(*parts)) as f:
            return f.read().strip()

    def _write(self, value, *parts: str) -> None:
        with open(self._path(*parts), "w") as f:
            f.write(f"{value}\n")

    def _owned(self) -> bool:
        """Whether kdamond 0 is the one this agent created (its owner
        record names the kdamond's pid, or it never ran)."""
        try:
            with open(self.owner_path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return False
        try:
            pid = self._read("0", "pid")
        except OSError:
            return False
        return record.get("kdamond_pid") in (pid, None) or pid == "-1"

    def _own(self, pid: Optional[str]) -> None:
        os.makedirs(os.path.dirname(self.owner_path), exist_ok=True)
        with open(self.owner_path, "w") as f:
            json.dump({"kdamond_pid": pid, "agent_pid": os.getpid()}, f)

    # -- backend --------------------------------------------------------
    def probe(self, guest) -> Optional[str]:
        if not os.path.isdir(self.admin):
            return (f"no {self.admin}: the kernel has no DAMON sysfs "
                    "interface (CONFIG_DAMON_SYSFS)")
        if self.watching not in (None, guest.uuid):
            return (f"DAMON already watches {self.watching} for this agent "
                    "(one guest at a time)")
        try:
            count = int(self._read("nr_kdamonds"))
        except (OSError, ValueError) as exc:
            return f"DAMON sysfs not readable: {exc}"
        if count and not self._owned():
            states = []
            for i in range(count):
                try:
                    states.append(f"kdamond {i} {self._read(str(i), 'state')}")
                except OSError:
                    states.append(f"kdamond {i}")
            return ("DAMON is in use by a kdamond this agent did not create "
                    f"({', '.join(states)}); it is left alone")
        try:
            if not count:
                self._write(1, "nr_kdamonds")
                self._own(None)
                self._write(1, "0", "contexts", "nr_contexts")
            ops = self._read("0", "contexts", "0", "avail_operations")
        except OSError as exc:
            self.release()
            return f"could not set up a kdamond: {exc}"
        if "vaddr" not in ops.split():
            self.release()
            return (f"the kernel's DAMON has no virtual address operations "
                    f"(available: {ops or 'none'}; CONFIG_DAMON_VADDR)")
        return None

    def _start(self, guest) -> None:
        pid = qemu.qemu_pid(self.host.run_dir, guest.name)
        ctx = ("0", "contexts", "0")
        self._write("vaddr", *ctx, "operations")
        attrs = (*ctx, "monitoring_attrs")
        self._write(SAMPLE_US, *attrs, "intervals", "sample_us")
        self._write(AGGR_US, *attrs, "intervals", "aggr_us")
        self._write(UPDATE_US, *attrs, "intervals", "update_us")
        self._write(10, *attrs, "nr_regions", "min")
        self._write(self.max_regions, *attrs, "nr_regions", "max")
        self._write(1, *ctx, "targets", "nr_targets")
        self._write(pid, *ctx, "targets", "0", "pid_target")
        # a 'stat' scheme matching every region: DAMON then lists the
        # regions it monitors under tried_regions, and acts on nothing
        self._write(1, *ctx, "schemes", "nr_schemes")
        self._write("stat", *ctx, "schemes", "0", "action")
        self._write("on", "0", "state")
        self._own(self._read("0", "pid"))
        self.watching = guest.uuid
        self.started = self.clock()

    def sample(self, guest) -> Observation:
        if self.watching is None:
            self._start(guest)
            return Observation(backend=self.name)
        self._write("update_schemes_tried_regions", "0", "state")
        base = self._path("0", "contexts", "0", "schemes", "0",
                          "tried_regions")
        samples_per_aggr = AGGR_US / SAMPLE_US
        regions = []
        names = sorted((n for n in os.listdir(base) if n.isdigit()), key=int)
        for name in names[:self.max_regions]:
            def value(field: str, region: str = name) -> int:
                with open(os.path.join(base, region, field)) as f:
                    return int(f.read().strip())
            start, end = value("start"), value("end")
            accesses, age = value("nr_accesses"), value("age")
            rate = min(1.0, accesses / samples_per_aggr)
            # age counts aggregation intervals the region kept its rate
            idle = age * AGGR_US / 1e6 if accesses == 0 else 0.0
            regions.append(Region(start=start, size=max(0, end - start),
                                  access_rate=rate, idle_s=idle))
        return Observation(backend=self.name, regions=tuple(regions),
                           covers_all=False)

    def release(self) -> None:
        """Stop and remove the kdamond this agent created."""
        if not self._owned():
            return
        try:
            if self._read("0", "state") == "on":
                self._write("off", "0", "state")
            self._write(0, "nr_kdamonds")
        except OSError:
            pass
        try:
            os.unlink(self.owner_path)
        except OSError:
            pass
        self.watching = None
