"""Read a guest's own counters from ``/proc`` and turn two readings
into one interval's features.

:func:`read_counters` does the I/O (``proc_root`` lets tests point it at
a fixture tree); :func:`interval_features` is pure.  Everything here must
cost little: the agent's budget is 0.5 % of one core at a 30 s interval.
A file that is missing or unreadable (another kernel, no permission)
leaves its features out and its source as ``"none"``.
"""
import ipaddress
import os
import re

from . import schema

_PARTITION = re.compile(r"^(.*\D)\d+$|^(.*\d)p\d+$")
_VIRTUAL_DISKS = ("loop", "ram", "zram", "sr", "fd")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace")
    except OSError:
        return None


def _stat(text):
    out = {}
    cpus = 0
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "cpu":
            vals = [int(v) for v in parts[1:9]] + [0] * (8 - len(parts[1:9]))
            user, nice, system, idle, iowait, irq, softirq, steal = vals
            out["cpu"] = {"user": user + nice,
                          "system": system + irq + softirq,
                          "idle": idle, "iowait": iowait, "steal": steal}
        elif parts[0].startswith("cpu"):
            cpus += 1
        elif parts[0] in ("ctxt", "processes"):
            out[parts[0]] = int(parts[1])
        elif parts[0] == "intr":
            out["intr"] = int(parts[1])
    out["cpus"] = cpus or 1
    return out


def _proc_io(proc_root):
    """Per-process read/write system-call counters (``syscr``/``syscw``
    of ``/proc/<pid>/io``): the read and write classes of the syscall
    mix, for every process we may read."""
    counters, total = {}, 0
    try:
        pids = [p for p in os.listdir(proc_root) if p.isdigit()]
    except OSError:
        return counters, 0
    for pid in pids:
        total += 1
        text = _read(os.path.join(proc_root, pid, "io"))
        if not text:
            continue
        r = w = None
        for line in text.splitlines():
            if line.startswith("syscr:"):
                r = int(line.split()[1])
            elif line.startswith("syscw:"):
                w = int(line.split()[1])
        if r is not None and w is not None:
            counters[pid] = (r, w)
    return counters, total


def _net_dev(text):
    rx_b = rx_p = tx_b = tx_p = 0
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        if name.strip() == "lo" or not rest:
            continue
        f = rest.split()
        rx_b += int(f[0])
        rx_p += int(f[1])
        tx_b += int(f[8])
        tx_p += int(f[9])
    return {"rx_b": rx_b, "rx_p": rx_p, "tx_b": tx_b, "tx_p": tx_p}


def _port_class(port):
    if port < 1024:
        return "wellknown"
    return "registered" if port < 49152 else "ephemeral"


def _hex_addr(hexaddr):
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # /proc prints IPv6 as four host-order 32-bit words
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    addr = ipaddress.IPv6Address(b"".join(words))
    return addr.ipv4_mapped or addr


def _sockets(texts):
    """Connection counts by state and port class, and the number of
    distinct peers.  Addresses never leave this function."""
    out = {"established": 0, "listen": 0}
    for side in ("local", "remote"):
        for cls in ("wellknown", "registered", "ephemeral"):
            out[f"{side}_{cls}"] = 0
    peers = set()
    for text in texts:
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 4:
                continue
            state = f[3]
            if state == "0A":
                out["listen"] += 1
                continue
            if state != "01":
                continue
            out["established"] += 1
            laddr, lport = f[1].split(":")
            raddr, rport = f[2].split(":")
            out["local_" + _port_class(int(lport, 16))] += 1
            out["remote_" + _port_class(int(rport, 16))] += 1
            peers.add(raddr)
    private = 0
    for raddr in peers:
        try:
            addr = _hex_addr(raddr)
        except ValueError:
            continue
        if addr.is_private or addr.is_loopback or addr.is_link_local:
            private += 1
    out["peers"] = len(peers)
    out["peers_private"] = private
    return out


def _diskstats(text):
    rows = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 14 or f[2].startswith(_VIRTUAL_DISKS):
            continue
        rows[f[2]] = [int(v) for v in f[3:14]]
    disks = {}
    for name, vals in rows.items():
        m = _PARTITION.match(name)
        parent = m and (m.group(1) or m.group(2))
        if parent and parent in rows:
            continue
        disks[name] = vals
    return disks


def _keyed(text, sep=None):
    out = {}
    for line in text.splitlines():
        parts = line.replace(":", " ").split() if sep is None else \
            line.split(sep)
        if len(parts) >= 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _psi(text):
    out = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for item in rest.split():
            key, _, val = item.partition("=")
            if key == "avg10":
                out[kind] = float(val)
    return out


def read_counters(proc_root="/proc", now=None, perf=None):
    """One reading of every counter the features need.

    :param now: ``time.monotonic()`` of the reading (for rates).
    :param perf: an optional :class:`~.perf.PerfCounters`.
    """
    c = {"t": now, "sources": {}}
    p = lambda *parts: os.path.join(proc_root, *parts)  # noqa: E731
    text = _read(p("stat"))
    if text:
        c["stat"] = _stat(text)
        c["sources"]["cpu"] = "proc"
    io, total = _proc_io(proc_root)
    c["proc_io"], c["proc_total"] = io, total
    text = _read(p("net", "dev"))
    if text:
        c["net"] = _net_dev(text)
        c["sources"]["net"] = "proc"
    socks = [_read(p("net", n)) for n in ("tcp", "tcp6")]
    socks = [s for s in socks if s]
    if socks:
        c["sockets"] = _sockets(socks)
    udp = [_read(p("net", n)) for n in ("udp", "udp6")]
    udp = [u for u in udp if u]
    if udp:
        c["udp"] = sum(max(0, len(u.splitlines()) - 1) for u in udp)
    text = _read(p("diskstats"))
    if text:
        c["disks"] = _diskstats(text)
        c["sources"]["disk"] = "proc"
    text = _read(p("meminfo"))
    if text:
        c["meminfo"] = _keyed(text)
        c["sources"]["memory"] = "proc"
    text = _read(p("vmstat"))
    if text:
        c["vmstat"] = _keyed(text)
    text = _read(p("pressure", "memory"))
    if text:
        c["psi"] = _psi(text)
        c["sources"]["psi"] = "psi"
    text = _read(p("sys", "fs", "file-nr"))
    if text and text.split():
        c["file_nr"] = int(text.split()[0])
    if perf is not None:
        c["perf"] = perf.read()
    return c


def _rate(cur, prev, dt):
    return max(0.0, (cur - prev) / dt)


def _share(a, b):
    return a / (a + b) if a + b > 0 else None


def interval_features(prev, cur):
    """Features of the interval between two :func:`read_counters`
    readings, and the source of each feature group.

    Gauges (memory, sockets) come from ``cur``; rates from the
    difference.  Counter resets (a wrapped or restarted counter) give 0,
    never a negative rate.
    """
    dt = cur["t"] - prev["t"]
    if not dt or dt <= 0:
        raise ValueError("readings must be taken in order")
    f = {}
    sources = {k: "none" for k in schema.SOURCE_KEYS}
    sources.update(cur["sources"])
    if "stat" in cur and "stat" in prev:
        a, b = prev["stat"], cur["stat"]
        delta = {k: max(0, b["cpu"][k] - a["cpu"][k]) for k in b["cpu"]}
        ticks = sum(delta.values())
        if ticks > 0:
            for k in ("user", "system", "iowait", "steal", "idle"):
                f[f"cpu.{k}"] = delta[k] / ticks
        f["cpu.count"] = float(b["cpus"])
        for key, name in (("ctxt", "sys.ctxt_ps"), ("processes",
                                                     "sys.fork_ps"),
                          ("intr", "sys.intr_ps")):
            if key in a and key in b:
                f[name] = _rate(b[key], a[key], dt)
    if cur["proc_total"]:
        reads = writes = 0
        old = prev["proc_io"]
        for pid, (r, w) in cur["proc_io"].items():
            r0, w0 = old.get(pid, (0, 0))
            # a pid new since the last reading started in this interval
            reads += max(0, r - r0)
            writes += max(0, w - w0)
        f["sys.read_ps"] = reads / dt
        f["sys.write_ps"] = writes / dt
        f["sys.coverage"] = len(cur["proc_io"]) / cur["proc_total"]
        sources["syscalls"] = "proc-io" if cur["proc_io"] else "none"
    if "net" in cur and "net" in prev:
        a, b = prev["net"], cur["net"]
        f["net.rx_bps"] = _rate(b["rx_b"], a["rx_b"], dt)
        f["net.tx_bps"] = _rate(b["tx_b"], a["tx_b"], dt)
        f["net.rx_pps"] = _rate(b["rx_p"], a["rx_p"], dt)
        f["net.tx_pps"] = _rate(b["tx_p"], a["tx_p"], dt)
        share = _share(f["net.rx_bps"], f["net.tx_bps"])
        if share is not None:
            f["net.rx_share"] = share
    if "sockets" in cur:
        s = cur["sockets"]
        f["net.tcp_established"] = float(s["established"])
        f["net.tcp_listen"] = float(s["listen"])
        for key in ("local_wellknown", "local_registered",
                    "local_ephemeral", "remote_wellknown",
                    "remote_registered", "remote_ephemeral", "peers",
                    "peers_private"):
            f[f"net.{key}"] = float(s[key])
    if "udp" in cur:
        f["net.udp_sockets"] = float(cur["udp"])
    if "disks" in cur and "disks" in prev:
        _disk_features(prev["disks"], cur["disks"], dt, f)
    if "file_nr" in cur:
        f["fs.open_files"] = float(cur["file_nr"])
    if "meminfo" in cur:
        _memory_gauges(cur["meminfo"], f)
    if "vmstat" in cur and "vmstat" in prev:
        _memory_rates(prev["vmstat"], cur["vmstat"], dt, f)
    if "psi" in cur:
        if "some" in cur["psi"]:
            f["mem.psi_some"] = cur["psi"]["some"]
        if "full" in cur["psi"]:
            f["mem.psi_full"] = cur["psi"]["full"]
    if cur.get("perf") and prev.get("perf"):
        mix = _instruction_mix(prev["perf"], cur["perf"])
        if mix:
            f.update(mix)
            sources["cpu_mix"] = "perf"
    # never send what the host would refuse: clip to the schema's range
    for name, value in list(f.items()):
        lo, hi, _ = schema.FEATURES[name]
        f[name] = round(min(max(float(value), lo), hi), 6)
    return f, sources


def _disk_features(prev, cur, dt, f):
    rd = wr = rd_sec = wr_sec = merged = ms = 0
    util = 0.0
    for name, b in cur.items():
        a = prev.get(name)
        if a is None:
            continue
        d = [max(0, y - x) for x, y in zip(a, b, strict=True)]
        rd += d[0]
        merged += d[1] + d[5]
        rd_sec += d[2]
        ms += d[3] + d[7]
        wr += d[4]
        wr_sec += d[6]
        util = max(util, d[9] / (dt * 1000.0))
    f["disk.read_iops"] = rd / dt
    f["disk.write_iops"] = wr / dt
    f["disk.read_bps"] = rd_sec * 512 / dt
    f["disk.write_bps"] = wr_sec * 512 / dt
    share = _share(f["disk.write_bps"], f["disk.read_bps"])
    if share is not None:
        f["disk.write_share"] = share
    ios = rd + wr
    if ios:
        f["disk.await_ms"] = ms / ios
        f["disk.avg_req_kb"] = (rd_sec + wr_sec) * 512 / 1024 / ios
        f["disk.merge_ratio"] = merged / (merged + ios)
    f["disk.util"] = min(util, 1.0)


def _memory_gauges(m, f):
    total = m.get("MemTotal")
    if not total:
        return
    f["mem.total_mb"] = total / 1024
    if "MemAvailable" in m:
        f["mem.used_ratio"] = 1.0 - m["MemAvailable"] / total
    active = m.get("Active(anon)", 0) + m.get("Active(file)", 0)
    if "Active(anon)" in m or "Active(file)" in m:
        f["mem.working_set_ratio"] = active / total
    if "AnonPages" in m:
        f["mem.anon_mb"] = m["AnonPages"] / 1024
    if "Cached" in m:
        f["mem.cache_mb"] = m["Cached"] / 1024


def _memory_rates(a, b, dt, f):
    if "pgfault" in b and "pgfault" in a:
        minor = (b["pgfault"] - b.get("pgmajfault", 0)) - \
            (a["pgfault"] - a.get("pgmajfault", 0))
        f["mem.minflt_ps"] = max(0.0, minor / dt)
    if "pgmajfault" in b and "pgmajfault" in a:
        f["mem.majflt_ps"] = _rate(b["pgmajfault"], a["pgmajfault"], dt)
    keys = [k for k in ("workingset_refault", "workingset_refault_anon",
                        "workingset_refault_file") if k in b and k in a]
    if keys:
        f["mem.refault_ps"] = sum(_rate(b[k], a[k], dt) for k in keys)
    if "pswpin" in b and "pswpin" in a:
        f["mem.swapin_ps"] = _rate(b["pswpin"], a["pswpin"], dt)
    if "numa_local" in b and "numa_other" in b and "numa_local" in a:
        local = b["numa_local"] - a["numa_local"]
        other = b["numa_other"] - a.get("numa_other", 0)
        share = _share(max(0, local), max(0, other))
        if share is not None:
            f["mem.numa_local_ratio"] = share


def _instruction_mix(a, b):
    d = {k: max(0, b[k] - a.get(k, 0)) for k in b}
    instr, cycles = d.get("instructions", 0), d.get("cycles", 0)
    if not instr or not cycles:
        return None
    out = {"cpu.ipc": instr / cycles}
    if "cache_misses" in d:
        out["cpu.cache_miss_pki"] = d["cache_misses"] * 1000.0 / instr
    if "branch_misses" in d:
        out["cpu.branch_miss_pki"] = d["branch_misses"] * 1000.0 / instr
    return out
