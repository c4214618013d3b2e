"""The profile record: one JSON object per line, per sampling interval.

Shared by the guest agent (which writes it) and the host collector
(which trusts none of it and checks every field against this table).
A record::

    {"v": "1.0", "ts": 1764424800.0, "seq": 17, "interval_s": 30.0,
     "sources": {"syscalls": "proc-io", ...},
     "f": {"cpu.user": 0.12, "net.rx_bps": 5210.0, ...}}

A feature the guest could not measure is left out, never sent as NaN or
null.  Minor versions may add features; hosts ignore names they do not
know.  A major version change is refused.
"""

VERSION = "1.0"
#: a record longer than this (bytes, newline excluded) is refused
MAX_RECORD_BYTES = 4096
#: the guest may sample no faster than this, nor slower than MAX
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 3600.0

_RATE = 1e12      # any per-second rate: far above a real guest
_COUNT = 1e9      # gauges that count things (sockets, peers, files)

#: feature name -> (lowest, highest) allowed value, and what it holds
FEATURES: dict[str, tuple[float, float, str]] = {
    # CPU time shares over the interval (all CPUs together)
    "cpu.user": (0.0, 1.0, "share of CPU time in user mode (incl. nice)"),
    "cpu.system": (0.0, 1.0, "share in kernel mode (incl. irq/softirq)"),
    "cpu.iowait": (0.0, 1.0, "share idle while waiting for I/O"),
    "cpu.steal": (0.0, 1.0, "share stolen by the hypervisor"),
    "cpu.idle": (0.0, 1.0, "share idle"),
    "cpu.count": (1.0, 4096.0, "online CPUs"),
    # CPU instruction mix (perf counters; absent when not permitted)
    "cpu.ipc": (0.0, 64.0, "instructions per cycle"),
    "cpu.cache_miss_pki": (0.0, 1000.0, "cache misses per 1000 instr."),
    "cpu.branch_miss_pki": (0.0, 1000.0, "branch misses per 1000 instr."),
    # system-call activity by class
    "sys.read_ps": (0.0, _RATE, "read-class system calls per second"),
    "sys.write_ps": (0.0, _RATE, "write-class system calls per second"),
    "sys.fork_ps": (0.0, _RATE, "processes created per second"),
    "sys.ctxt_ps": (0.0, _RATE, "context switches per second"),
    "sys.intr_ps": (0.0, _RATE, "interrupts per second"),
    "sys.coverage": (0.0, 1.0, "share of processes whose counters "
                               "were readable"),
    # network
    "net.rx_bps": (0.0, _RATE, "bytes received per second"),
    "net.tx_bps": (0.0, _RATE, "bytes sent per second"),
    "net.rx_pps": (0.0, _RATE, "packets received per second"),
    "net.tx_pps": (0.0, _RATE, "packets sent per second"),
    "net.rx_share": (0.0, 1.0, "received / (received + sent) bytes"),
    "net.tcp_established": (0.0, _COUNT, "established TCP connections"),
    "net.tcp_listen": (0.0, _COUNT, "listening TCP sockets"),
    "net.udp_sockets": (0.0, _COUNT, "UDP sockets"),
    "net.local_wellknown": (0.0, _COUNT, "connections on a local port "
                                         "below 1024"),
    "net.local_registered": (0.0, _COUNT, "... local port 1024-49151"),
    "net.local_ephemeral": (0.0, _COUNT, "... local port 49152 and up"),
    "net.remote_wellknown": (0.0, _COUNT, "... remote port below 1024"),
    "net.remote_registered": (0.0, _COUNT, "... remote port 1024-49151"),
    "net.remote_ephemeral": (0.0, _COUNT, "... remote port 49152 and up"),
    "net.peers": (0.0, _COUNT, "distinct remote addresses"),
    "net.peers_private": (0.0, _COUNT, "of which private/loopback/link-"
                                       "local"),
    # disk
    "disk.read_iops": (0.0, _RATE, "reads completed per second"),
    "disk.write_iops": (0.0, _RATE, "writes completed per second"),
    "disk.read_bps": (0.0, _RATE, "bytes read per second"),
    "disk.write_bps": (0.0, _RATE, "bytes written per second"),
    "disk.write_share": (0.0, 1.0, "written / (read + written) bytes"),
    "disk.await_ms": (0.0, 1e7, "mean time per completed request"),
    "disk.avg_req_kb": (0.0, 1e7, "mean request size"),
    "disk.merge_ratio": (0.0, 1.0, "merged / (merged + completed): a "
                                   "sequential-access estimate"),
    "disk.util": (0.0, 1.0, "share of time with I/O in flight (busiest "
                            "disk)"),
    "fs.open_files": (0.0, _COUNT, "allocated file handles"),
    # memory
    "mem.total_mb": (0.0, 1e9, "memory the guest sees"),
    "mem.used_ratio": (0.0, 1.0, "1 - available / total"),
    "mem.working_set_ratio": (0.0, 1.0, "active anon + active file / "
                                        "total"),
    "mem.anon_mb": (0.0, 1e9, "anonymous pages"),
    "mem.cache_mb": (0.0, 1e9, "page cache"),
    "mem.minflt_ps": (0.0, _RATE, "minor page faults per second"),
    "mem.majflt_ps": (0.0, _RATE, "major page faults per second"),
    "mem.refault_ps": (0.0, _RATE, "working-set refaults per second"),
    "mem.swapin_ps": (0.0, _RATE, "pages swapped in per second"),
    "mem.numa_local_ratio": (0.0, 1.0, "local / (local + other) NUMA "
                                       "allocations"),
    "mem.psi_some": (0.0, 100.0, "PSI memory 'some' avg10 (%)"),
    "mem.psi_full": (0.0, 100.0, "PSI memory 'full' avg10 (%)"),
}

#: which measurement each feature group came from; values are short
#: identifiers, e.g. "proc", "proc-io", "perf", "psi", "none"
SOURCE_KEYS = ("cpu", "cpu_mix", "syscalls", "net", "disk", "memory",
               "psi")
