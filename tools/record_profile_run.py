"""Record the guest agent on synthetic workloads of different kinds.

This machine stands in for a guest: the agent samples it every
``--interval`` seconds while phases of different workloads (idle, CPU,
disk, network, memory, system calls, bursty request handling) follow
each other in a seeded random order and length.  Each record is written
with the phase that was running, for ``watcher-adaptive
profile-backtest``.  Anything else running on the machine shows up in
the records too, as a neighbour would in a real guest's view of itself.

    python tools/record_profile_run.py --minutes 20 \\
        --output tools/data/profile-run.jsonl.gz
"""
from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import random
import socket
import sys
import tempfile
import time

from watcher_adaptive.profiler.guest import agent as guest_agent

PHASES = ("idle", "cpu", "cpu_all", "disk", "net", "memory", "syscalls",
          "bursty")


def _spin(stop):
    x = 0
    while not stop.is_set():
        for i in range(20000):
            x += i * i


def _disk(stop, directory):
    path = os.path.join(directory, "wa-disk-load")
    block = os.urandom(1 << 20)
    while not stop.is_set():
        with open(path, "wb") as f:
            for _ in range(16):
                f.write(block)
                f.flush()
                os.fsync(f.fileno())
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    os.unlink(path)


def _net(stop):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    chunk = b"x" * 65536
    while not stop.is_set():
        client.sendall(chunk)
        got = 0
        while got < len(chunk):
            got += len(peer.recv(65536))


def _memory(stop):
    buf = bytearray(384 << 20)
    while not stop.is_set():
        for i in range(0, len(buf), 4096):
            buf[i] = (buf[i] + 1) & 0xFF


def _syscalls(stop):
    fd = os.open("/dev/zero", os.O_RDONLY)
    while not stop.is_set():
        for _ in range(2000):
            os.read(fd, 64)
            os.stat("/")
    os.close(fd)


def _bursty(stop):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    addr = server.getsockname()
    rng = random.Random(1)  # noqa: S311 - a workload, not a secret
    while not stop.is_set():
        c = socket.create_connection(addr)
        s, _ = server.accept()
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.recv(1024)
        x = 0
        for i in range(rng.randint(20000, 400000)):
            x += i
        s.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * rng.randint(1, 65536))
        c.recv(65536)
        c.close()
        s.close()
        time.sleep(rng.uniform(0.05, 0.6))


def _start(phase, stop, directory):
    targets = {"cpu": [(_spin, ())], "cpu_all": [(_spin, ())] * 2,
               "disk": [(_disk, (directory,))], "net": [(_net, ())],
               "memory": [(_memory, ())], "syscalls": [(_syscalls, ())],
               "bursty": [(_bursty, ())], "idle": []}[phase]
    procs = [mp.Process(target=fn, args=(stop, *args), daemon=True)
             for fn, args in targets]
    for p in procs:
        p.start()
    return procs


class _Collect:
    """A channel that keeps the records in memory."""

    def __init__(self):
        self.lines = []

    def send(self, line):
        self.lines.append(line)
        return True

    def close(self):
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)  # noqa: S311 - a schedule
    agent = guest_agent.Agent(_Collect(), args.interval, use_perf=True)
    agent.start()
    end = time.monotonic() + args.minutes * 60
    records = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
        while time.monotonic() < end:
            phase = rng.choice(PHASES)
            length = rng.uniform(30, 120)
            stop = mp.Event()
            procs = _start(phase, stop, directory)
            phase_end = min(end, time.monotonic() + length)
            next_tick = time.monotonic() + args.interval
            while time.monotonic() < phase_end:
                time.sleep(max(0.0, next_tick - time.monotonic()))
                next_tick += args.interval
                line = agent.tick()
                records.append({"phase": phase, "record": json.loads(line)})
            stop.set()
            for p in procs:
                p.join(timeout=10)
                if p.is_alive():
                    p.terminate()
            print(f"{len(records):5d} records, phase {phase} "
                  f"{length:.0f} s", file=sys.stderr)
    with gzip.open(args.output, "wt") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    print(f"{len(records)} records -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
