"""QEMU's process and threads for one guest, found through procfs.

libvirt names the vCPU threads ``CPU <n>/KVM`` (or ``CPU <n>/TCG``);
every other thread of the process is an emulator thread.  Affinity set
with ``sched_setaffinity`` takes effect at once, while libvirt's domain
job is held by the incoming migration (measured: 0-5 ms, and it
survives the migration's Finish phase).
"""
from __future__ import annotations

import os
import re
from typing import Sequence

from nova_hooks.exceptions import QemuNotFound

_VCPU = re.compile(r"^CPU (\d+)/(KVM|TCG|HVF|WHPX)$")


def qemu_pid(run_dir: str, name: str) -> int:
    """The QEMU pid libvirt recorded for domain ``name``."""
    path = os.path.join(run_dir, f"{name}.pid")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError) as exc:
        raise QemuNotFound(f"{path}: {exc}") from None


def threads(proc_root: str, pid: int) -> tuple[dict[int, int], list[int]]:
    """``({vcpu index: tid}, [emulator tids])`` of process ``pid``."""
    task_dir = os.path.join(proc_root, str(pid), "task")
    try:
        tids = sorted(int(t) for t in os.listdir(task_dir) if t.isdigit())
    except OSError as exc:
        raise QemuNotFound(f"{task_dir}: {exc}") from None
    vcpus, emulator = {}, []
    for tid in tids:
        try:
            with open(os.path.join(task_dir, str(tid), "comm")) as f:
                comm = f.read().strip()
        except OSError:
            continue            # the thread ended while we looked
        m = _VCPU.match(comm)
        if m:
            vcpus[int(m.group(1))] = tid
        else:
            emulator.append(tid)
    return vcpus, emulator


def get_affinity(tid: int) -> list[int]:
    return sorted(os.sched_getaffinity(tid))


def set_affinity(tid: int, cpus: Sequence[int]) -> None:
    os.sched_setaffinity(tid, set(cpus))
