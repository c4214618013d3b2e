"""A fake ``/proc`` tree of the files the guest agent reads."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

#: the unspecified address, as /proc shows listening sockets
ANY = "0.0.0.0"  # noqa: S104 - text in a fixture file, nothing binds
TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr "
              "tm->when retrnsmt   uid  timeout inode\n")


def tcp_line(local: str, lport: int, remote: str, rport: int,
             state: str) -> str:
    def addr(ip: str) -> str:
        return "".join(f"{int(o):02X}" for o in reversed(ip.split(".")))
    return (f"   0: {addr(local)}:{lport:04X} {addr(remote)}:{rport:04X} "
            f"{state} 00000000:00000000 00:00000000 00000000     0        "
            f"0 1 1 0000000000000000 20 4 30 10 -1\n")


def write(root: Path, *, cpu: tuple[int, ...], ctxt: int, processes: int,
          intr: int, rx: tuple[int, int], tx: tuple[int, int],
          disk: tuple[int, ...], pgfault: int, pgmajfault: int,
          refault: int, io: dict[str, tuple[int, int]],
          tcp: str = "", psi: Optional[str] = None,
          mem_available_kb: int = 600_000) -> Path:
    """Write one reading's worth of files under ``root``."""
    (root / "net").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "fs").mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(
        "cpu  " + " ".join(str(v) for v in cpu) + " 0 0\n"
        "cpu0 " + " ".join(str(v) for v in cpu) + " 0 0\n"
        "cpu1 0 0 0 0 0 0 0 0 0 0\n"
        f"intr {intr} 1 2 3\nctxt {ctxt}\nbtime 1\nprocesses {processes}\n")
    (root / "net" / "dev").write_text(
        "Inter-|   Receive                                                |"
        "  Transmit\n face |bytes    packets errs drop fifo frame "
        "compressed multicast|bytes    packets errs drop fifo colls "
        "carrier compressed\n"
        "    lo: 999999 999 0 0 0 0 0 0 999999 999 0 0 0 0 0 0\n"
        f"  eth0: {rx[0]} {rx[1]} 0 0 0 0 0 0 {tx[0]} {tx[1]} 0 0 0 0 0 0\n")
    (root / "net" / "tcp").write_text(TCP_HEADER + tcp)
    (root / "net" / "udp").write_text(TCP_HEADER + tcp_line(
        ANY, 68, ANY, 0, "07"))
    fields = " ".join(str(v) for v in disk)
    part = " ".join(str(v // 2) for v in disk)
    (root / "diskstats").write_text(
        f"   7       0 loop0 5 0 5 5 5 0 5 5 0 5 5 0 0 0 0\n"
        f" 253       0 vda {fields} 0 0 0 0\n"
        f" 253       1 vda1 {part} 0 0 0 0\n")
    (root / "meminfo").write_text(
        "MemTotal:        1000000 kB\n"
        f"MemAvailable:     {mem_available_kb} kB\n"
        "Cached:            200000 kB\nAnonPages:         300000 kB\n"
        "Active(anon):      250000 kB\nActive(file):      150000 kB\n")
    (root / "vmstat").write_text(
        f"pgfault {pgfault}\npgmajfault {pgmajfault}\n"
        f"workingset_refault_anon 0\nworkingset_refault_file {refault}\n"
        "pswpin 0\nnuma_local 90\nnuma_other 10\n")
    if psi is not None:
        (root / "pressure").mkdir(exist_ok=True)
        (root / "pressure" / "memory").write_text(psi)
    (root / "sys" / "fs" / "file-nr").write_text("512\t0\t100000\n")
    for pid, (r, w) in io.items():
        (root / pid).mkdir(exist_ok=True)
        (root / pid / "io").write_text(
            f"rchar: 1\nwchar: 1\nsyscr: {r}\nsyscw: {w}\n")
    return root
