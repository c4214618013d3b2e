"""Guests talking to the collector's sockets without the guest agent:
well-behaved guests, flooders and hostile ones, many in one process.

Run as a script (its own process, so that the collector competes with
it for the CPU as with real guests)::

    python tests/functional/guest_traffic.py PLAN.json

``PLAN.json``: ``{"seconds": 30, "seed": 1, "guests": [{"socket": PATH,
"rate": 20, "hostile_share": 0.5, "extra_connections": 2}, ...]}``:
each guest sends ``rate`` lines a second for ``seconds`` on one
connection (a thread each), a share ``hostile_share`` of them hostile
(one of :data:`HOSTILE` at random, seeded), the rest valid records with
strictly increasing timestamps; ``extra_connections`` more connections
are opened and held idle.  A guest with ``"rate": 0`` sends every
hostile kind once, in one write, and closes.  Prints a JSON report:
``{"guests": {PATH: {"sent": {kind: n}, "bytes": n, "started": t,
"ended": t}}}``.
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time

import numpy as np

#: the features of a valid line (``cpu.count``, which the tests count in
#: Gnocchi, and two shares)
FEATURES = ("cpu.count", "cpu.user", "cpu.idle")

#: hostile kind -> the collector's reason for refusing it
HOSTILE = {
    "oversize": "oversize",      # far beyond max_record_bytes
    "bad_json": "malformed",
    "nan": "malformed",
    "overflow": "malformed",     # 1e999 parses to infinity
    "future": "future",          # a day ahead of the host
    "stale": "stale",            # a day old
    "range": "range",            # cpu.user = 50
    "type": "schema",            # cpu.user = "idle"
    "version": "version",        # v 9.0
}


def valid_line(seq: int, ts: float, user: float) -> bytes:
    return json.dumps({"v": "1.0", "ts": round(ts, 6), "seq": seq,
                       "interval_s": 1.0,
                       "f": {"cpu.count": 2, "cpu.user": user,
                             "cpu.idle": 1.0 - user}},
                      separators=(",", ":")).encode()


def hostile_line(kind: str, seq: int, now: float,
                 oversize_bytes: int = 100000) -> bytes:
    good = {"v": "1.0", "ts": now, "seq": seq, "interval_s": 30,
            "f": {"cpu.user": 0.01}}
    if kind == "oversize":
        return b"A" * oversize_bytes
    if kind == "bad_json":
        return b"{]"
    if kind == "nan":
        return b'{"v": "1.0", "ts": NaN}'
    if kind == "overflow":
        return json.dumps(dict(good, f={"net.rx_bps": 1})).encode() \
            .replace(b": 1}", b": 1e999}")
    changed = {"future": {"ts": now + 86400}, "stale": {"ts": now - 86400},
               "range": {"f": {"cpu.user": 50}},
               "type": {"f": {"cpu.user": "idle"}},
               "version": {"v": "9.0"}}[kind]
    return json.dumps(dict(good, **changed)).encode()


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


class Guest(threading.Thread):
    def __init__(self, spec: dict, seconds: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.spec, self.seconds = spec, seconds
        self.rng = np.random.default_rng(seed)
        self.sent: dict[str, int] = {}
        self.bytes = 0
        self.started = self.ended = 0.0
        self.error = ""

    def run(self) -> None:
        try:
            self._run()
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        self.ended = time.time()

    def _count(self, kind: str) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + 1

    def _run(self) -> None:
        spec = self.spec
        self.started = time.time()
        sender = _connect(spec["socket"])
        held = [_connect(spec["socket"])
                for _ in range(spec.get("extra_connections", 0))]
        rate = spec["rate"]
        if rate == 0:
            data = b"\n".join(hostile_line(k, 1, self.started)
                               for k in HOSTILE) + b"\n"
            sender.sendall(data)
            self.sent, self.bytes = {k: 1 for k in HOSTILE}, len(data)
        else:
            self._send_at(sender, rate, spec.get("hostile_share", 0.0))
        for s in [sender] + held:
            s.close()

    def _send_at(self, sender: socket.socket, rate: float,
                 hostile_share: float) -> None:
        kinds = list(HOSTILE)
        start, last_ts, seq = time.monotonic(), 0.0, 0
        for i in range(int(self.seconds * rate)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.time()
            seq += 1
            if self.rng.random() < hostile_share:
                kind = kinds[self.rng.integers(len(kinds))]
                line = hostile_line(kind, seq, now, int(
                    self.rng.integers(65536, 300000)))
            else:
                kind, last_ts = "valid", max(now, last_ts + 1e-3)
                line = valid_line(seq, last_ts,
                                  round(float(self.rng.random()), 4))
            sender.sendall(line + b"\n")
            self._count(kind)
            self.bytes += len(line) + 1


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        plan = json.load(f)
    guests = [Guest(spec, plan.get("seconds", 0), plan.get("seed", 0) + i)
              for i, spec in enumerate(plan["guests"])]
    for g in guests:
        g.start()
    for g in guests:
        g.join()
    json.dump({"guests": {g.spec["socket"]: {
        "sent": g.sent, "bytes": g.bytes, "started": g.started,
        "ended": g.ended,
        "error": g.error} for g in guests}}, sys.stdout)
    return 1 if any(g.error for g in guests) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
