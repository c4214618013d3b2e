"""Drive cold-page reclaim and pre-paging on host B's QEMU while a real
post-copy migration from host A runs, with the agent's own pieces: the
``postcopy_trace`` backend's parsing and slicing, the classifier's
thresholds, :mod:`nova_hooks.core.reclaim` / :mod:`nova_hooks.core.
prepage` and their adapter :mod:`nova_hooks.agent.reclaim`.

Used by ``tests/functional/test_dest_reclaim.py`` and
``benchmarks/bench_dest_levers.py``.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable
from typing import Optional

from nova_hooks.agent import reclaim as adapter
from nova_hooks.agent.backends import postcopy_trace
from nova_hooks.agent.qmp import Qmp
from nova_hooks.core import classify
from nova_hooks.core import prepage as prepage_core
from nova_hooks.core import reclaim as reclaim_core
from nova_hooks.core.types import PAGE_SIZE
from nova_hooks.core.types import Observation
from nova_hooks.core.types import Thresholds

#: the trace's slices (the agent's ``[page_sampling] max_regions`` caps
#: its own at 1024): 256 KiB for the 256 MiB guest
N_SLICES = 1024


def qemu_pid(hosts: dict, host: str, name: str) -> Optional[int]:
    f = Path(hosts["hosts"][host]["qemu_run_dir"]) / f"{name}.pid"
    try:
        return int(f.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running_on(hosts: dict, host: str, name: str) -> bool:
    """The guest runs on ``host`` (post-copy began or it completed),
    asked through its second monitor (libvirt's job is held)."""
    sock = Path(hosts["hosts"][host]["qemu_run_dir"]) / f"{name}.qmp2"
    try:
        return bool(Qmp(str(sock), 0.5).execute("query-status")["running"])
    except Exception:  # noqa: BLE001 (monitor not up yet)
        return False


class Trace:
    """B's QEMU log, read on: the guest's missed offsets so far."""

    def __init__(self, hosts: dict, name: str) -> None:
        self.path = Path(hosts["hosts"]["B"]["serial_dir"]) / f"{name}.log"
        self.pos = 0
        self.missed: list[int] = []

    def read(self) -> list[int]:
        """The offsets missed since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        _, _, offs = postcopy_trace.parse(data[:cut].decode("utf-8",
                                                            "replace"))
        new = max(offs.values(), key=len) if offs else []
        self.missed += new
        return new


def classes(missed: list[int], guest_bytes: int,
            thresholds: Optional[Thresholds] = None
            ) -> tuple[tuple[reclaim_core.Range, ...],
                       tuple[reclaim_core.Range, ...]]:
    """(hot, warm) ranges as the agent classes the trace's slices (its
    own :func:`classify.located`)."""
    trace = Observation(postcopy_trace.PostcopyTraceBackend.name,
                        regions=postcopy_trace.regions(missed, guest_bytes,
                                                       N_SLICES))
    return classify.located([trace], thresholds or Thresholds()) \
        or ((), ())


def ranking(missed: list[int], guest_bytes: int
            ) -> tuple[reclaim_core.Range, ...]:
    """The predicted hot set: the trace's slices, most missed first."""
    counts = postcopy_trace.bin_counts(missed, guest_bytes, N_SLICES)
    size = -(-guest_bytes // N_SLICES)
    return tuple((i * size, min(size, guest_bytes - i * size))
                 for i, _ in sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclasses.dataclass
class LeverRun:
    """What the driver did and saw, per round."""

    rounds: list[dict] = dataclasses.field(default_factory=list)
    reclaimer: Optional[adapter.Reclaimer] = None
    prepager: Optional[adapter.Prepager] = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    error: Optional[str] = None


def drive(hosts: dict, name: str, journal_path: str,
          reclaim: Optional[reclaim_core.ReclaimPolicy],
          prepage: Optional[prepage_core.PrepagePolicy],
          stop: threading.Event, period_s: float = 1.0,
          rank: Callable[[list[int], int], tuple] = ranking,
          check: Optional[Callable[[LeverRun, dict], None]] = None,
          guest_bytes: Optional[int] = None,
          verify_hot: bool = False) -> LeverRun:
    """From the moment the guest runs on B until ``stop``: every
    ``period_s`` read the trace, class the slices, reclaim (when a
    policy is given) and pre-page (likewise).  ``check(run, round)`` is
    called after each round (tests assert there); ``verify_hot``
    records, from pagemap, which pages of the hot ranges were present
    just before the round's ``process_madvise`` and which of those were
    swapped just after (``hot_present_before``, ``hot_swapped_after``).
    Pre-paging runs on its own thread (its reads wait for the
    source)."""
    run = LeverRun()
    guest_bytes = guest_bytes or hosts["guest"]["memory_mib"] << 20
    while not stop.is_set() and not running_on(hosts, "B", name):
        time.sleep(0.05)
    pid = qemu_pid(hosts, "B", name)
    if stop.is_set() or pid is None:
        return run
    journal = adapter.ReclaimJournal(journal_path)
    trace = Trace(hosts, name)
    cpu0, wall0 = time.process_time(), time.monotonic()
    if reclaim is not None:
        run.reclaimer = adapter.Reclaimer(pid, guest_bytes, reclaim,
                                          journal, vm=name)
    pending: list[int] = []
    lock = threading.Lock()
    pre_thread = None
    if prepage is not None:
        run.prepager = adapter.Prepager(pid, guest_bytes, prepage, journal,
                                        vm=name)

        def prepage_loop() -> None:
            assert run.prepager is not None
            while not stop.is_set() and not run.prepager.state.stopped:
                with lock:
                    faults, pending[:] = list(pending), []
                    own = run.prepager.state.requested
                    # the trace logs pre-paging's own requests too
                    missed = [o for o in trace.missed
                              if not any(s <= o < s + n for s, n in own)]
                try:
                    run.prepager.round(rank(missed, guest_bytes), faults)
                except OSError as e:
                    run.error = f"prepage: {e}"
                    return
                stop.wait(period_s)
        pre_thread = threading.Thread(target=prepage_loop, daemon=True)
        pre_thread.start()
    try:
        while not stop.is_set():
            with lock:
                new = trace.read()
                pending += new
                missed = list(trace.missed)
            hot, warm = classes(missed, guest_bytes)
            rnd: dict = {"t": time.monotonic(), "missed": len(missed),
                         "hot": hot, "warm": warm}
            if run.prepager is not None:
                # what pre-paging fetched is the predicted hot set: the
                # trace never sees the guest miss it, reclaim must not
                # take it for cold
                warm = reclaim_core.merge(
                    warm + run.prepager.state.requested)
                rnd["warm"] = warm
            if run.reclaimer is not None:
                ram = run.reclaimer.ram
                if verify_hot:
                    before = hot_pages(pid, ram, hot, adapter.PRESENT)
                try:
                    p = run.reclaimer.round(hot, warm, None)
                except (OSError, LookupError) as e:
                    run.error = f"reclaim: {e}"
                    break
                rnd.update(ranges=p.ranges, bytes=p.bytes, reason=p.reason,
                           window_start=p.state.window_start,
                           window_bytes=p.state.window_bytes,
                           floor=p.floor_bytes)
                if verify_hot:
                    after = hot_pages(pid, ram, hot, adapter.SWAPPED)
                    rnd["hot_present_before"] = len(before)
                    rnd["hot_swapped_after"] = len(before & after)
            run.rounds.append(rnd)
            if check is not None:
                check(run, rnd)
            stop.wait(period_s)
    finally:
        stop.set()
        if pre_thread is not None:
            pre_thread.join(30)
        if run.prepager is not None:
            run.prepager.close()
        run.cpu_s = time.process_time() - cpu0
        run.wall_s = time.monotonic() - wall0
    return run


def page_states(pid: int, ram: adapter.RamMapping,
                ranges: tuple[reclaim_core.Range, ...]
                ) -> tuple[int, int, int]:
    """(present, swapped, absent) pages of ``ranges`` (pagemap)."""
    p = s = a = 0
    for start, length in ranges:
        for v in adapter.page_flags(pid, ram, start, length):
            if v & adapter.PRESENT:
                p += 1
            elif v & adapter.SWAPPED:
                s += 1
            else:
                a += 1
    return p, s, a


def hot_pages(pid: int, ram: adapter.RamMapping,
              ranges: tuple[reclaim_core.Range, ...], bit: int) -> set[int]:
    """Offsets of the pages of ``ranges`` with pagemap ``bit`` set."""
    out = set()
    for start, length in ranges:
        for i, v in enumerate(adapter.page_flags(pid, ram, start, length)):
            if v & bit:
                out.add(start + i * PAGE_SIZE)
    return out


def swapped_ranges(pid: int, ram: adapter.RamMapping
                   ) -> tuple[reclaim_core.Range, ...]:
    flags = adapter.page_flags(pid, ram)
    out = [(i * PAGE_SIZE, PAGE_SIZE) for i, v in enumerate(flags)
           if v & adapter.SWAPPED]
    return reclaim_core.merge(out)


def swap_total_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SwapTotal:"):
                return int(line.split()[1])
    return 0


def os_has_swap() -> bool:
    return swap_total_kib() > 0 and os.path.exists("/proc/self/pagemap")


def main(argv: Optional[list[str]] = None) -> int:
    """Run :func:`drive` as its own process (the benchmark measures its
    CPU apart from the rest): until ``--stop-file`` exists, then write
    a summary to ``--out``."""
    import argparse
    import json

    from tests.functional import libvirt_hosts as lh

    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--journal", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--guest-mib", type=int, required=True)
    ap.add_argument("--quota-mib", type=float, default=0)
    ap.add_argument("--headroom-mib", type=float, default=16)
    ap.add_argument("--prepage-pages-per-s", type=int, default=0)
    ap.add_argument("--prepage-in-flight", type=int, default=1)
    a = ap.parse_args(argv)
    hosts = lh.load_hosts()
    reclaim = None if not a.quota_mib else reclaim_core.ReclaimPolicy(
        quota_bytes_per_s=int(a.quota_mib * (1 << 20)),
        headroom_bytes=int(a.headroom_mib * (1 << 20)))
    prepage = None if not a.prepage_pages_per_s else \
        prepage_core.PrepagePolicy(pages_per_s=a.prepage_pages_per_s,
                                   in_flight=a.prepage_in_flight)
    stop = threading.Event()

    def watch() -> None:
        while not os.path.exists(a.stop_file):
            time.sleep(0.05)
        stop.set()
    threading.Thread(target=watch, daemon=True).start()
    run = drive(hosts, a.name, a.journal, reclaim, prepage, stop,
                guest_bytes=a.guest_mib << 20)
    out = {"rounds": len(run.rounds), "error": run.error,
           "paged_bytes": run.reclaimer.paged_total if run.reclaimer
           else 0,
           "prepaged_pages": run.prepager.touched if run.prepager else 0,
           "prepage_stopped": run.prepager.state.stopped if run.prepager
           else "", "hot_bytes": reclaim_core.total(run.rounds[-1]["hot"])
           if run.rounds else 0, "wall_s": run.wall_s}
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
