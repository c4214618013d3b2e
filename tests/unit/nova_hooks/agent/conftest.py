"""This test process plays QEMU: two of its threads carry the names of
libvirt's vCPU threads, so the real procfs and affinity calls apply."""
from __future__ import annotations

import os
import threading

import pytest


@pytest.fixture
def vcpu_threads():
    """Two real threads named ``CPU 0/TCG`` and ``CPU 1/TCG``; every
    thread's affinity is put back afterwards."""
    stop = threading.Event()
    tids: list[int] = []
    ready = threading.Barrier(3)
    cpus = sorted(os.sched_getaffinity(0))

    def run(i):
        tid = threading.get_native_id()
        with open(f"/proc/self/task/{tid}/comm", "w") as f:
            f.write(f"CPU {i}/TCG")
        tids.append(tid)
        ready.wait()
        stop.wait()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    ready.wait()
    yield tids
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass            # a thread that ended meanwhile
    stop.set()
    for t in threads:
        t.join()
