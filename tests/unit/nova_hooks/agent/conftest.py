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


class PageTree:
    """A procfs + sysfs fixture tree of one QEMU-like process: its maps,
    its pagemap (present frames from ``frame0``) and the kernel's idle
    page bitmap.  :meth:`touch` does what the kernel does when a frame
    is accessed: it clears the frame's idle bit."""

    MAP_START = 0x10000000

    def __init__(self, root, pid: int, pages: int, frame0: int = 4096,
                 soft_dirty_pages=()) -> None:
        import numpy as np

        self.proc = root / "proc"
        self.sys = root / "sys"
        self.pid, self.pages, self.frame0 = pid, pages, frame0
        pdir = self.proc / str(pid)
        pdir.mkdir(parents=True)
        end = self.MAP_START + pages * 4096
        (pdir / "maps").write_text(
            "00400000-00800000 r-xp 00000000 08:01 1 /usr/bin/qemu\n"
            f"{self.MAP_START:x}-{end:x} rw-p 00000000 00:00 0 \n"
            "7ffd0000-7ffd2000 rw-p 00000000 00:00 0 [stack]\n")
        entries = (np.uint64(1 << 63)
                   | np.arange(frame0, frame0 + pages, dtype=np.uint64))
        if len(soft_dirty_pages):
            entries[np.asarray(soft_dirty_pages)] |= np.uint64(1 << 55)
        with open(pdir / "pagemap", "wb") as f:
            f.seek(self.MAP_START // 4096 * 8)
            f.write(entries.tobytes())
        (pdir / "clear_refs").write_text("")
        idle = self.sys / "kernel" / "mm" / "page_idle"
        idle.mkdir(parents=True)
        self.bitmap = idle / "bitmap"
        self.bitmap.write_bytes(b"\0" * ((frame0 + pages) // 64 * 8 + 8))

    def idle_bits(self):
        import numpy as np

        words = np.frombuffer(self.bitmap.read_bytes(), dtype=np.uint64)
        frames = np.arange(self.frame0, self.frame0 + self.pages)
        return ((words[frames // 64] >> (frames % 64).astype(np.uint64))
                & np.uint64(1)).astype(bool)

    def touch(self, first_page: int, last_page: int) -> None:
        """The guest accessed pages [first, last): their frames are no
        longer idle."""
        import numpy as np

        words = np.frombuffer(self.bitmap.read_bytes(),
                              dtype=np.uint64).copy()
        frames = np.arange(self.frame0 + first_page,
                           self.frame0 + last_page)
        np.bitwise_and.at(words, frames // 64,
                          ~(np.uint64(1) << (frames % 64).astype(np.uint64)))
        self.bitmap.write_bytes(words.tobytes())
