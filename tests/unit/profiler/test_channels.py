"""The socket channel with real Unix sockets: a hostile guest is
refused and counted while a well-behaved one is served in full."""
from __future__ import annotations

import base64
import json
import shutil
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.unit.profiler.records import NOW
from tests.unit.profiler.records import line
from watcher_adaptive.profiler import channels
from watcher_adaptive.profiler import collector as C
from watcher_adaptive.profiler import gate as G
from watcher_adaptive.profiler.spool import Spool

GOOD, BAD = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def setup(tmp_path):
    spool = Spool(str(tmp_path / "spool.db"), 10_000)
    coll = C.Collector(spool, G.GatePolicy(records_per_minute=60, burst=10),
                       clock=lambda: NOW)
    # short: Unix socket paths hold 107 bytes, pytest's tmp_path may not
    sock_dir = Path(tempfile.mkdtemp(prefix="wa-", dir="/tmp"))
    chan = channels.SocketChannel(coll, str(sock_dir), 4096)
    chan.sync_guests([GOOD, BAD])
    yield coll, chan, spool, sock_dir
    chan.close()
    spool.close()
    shutil.rmtree(sock_dir, ignore_errors=True)


def _connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    return s


def _serve_until(chan, done, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not done():
        chan.serve_once(0.05)
    assert done(), "channel did not catch up"


def test_hostile_guest_is_counted_and_the_good_one_served(setup):
    coll, chan, spool, sock_dir = setup
    good = _connect(sock_dir / f"{GOOD}.sock")
    bad = _connect(sock_dir / f"{BAD}.sock")
    hostile = [b"x" * 10_000, b"{oops", line(seq=1, ts=NOW + 999),
               line(seq=2, f={"cpu.user": 7}), line(seq=3, ts=NOW - 5),
               line(seq=4, ts=NOW - 9)]
    flood = [line(seq=10 + i, ts=NOW - 3 + i * 1e-3) for i in range(500)]

    def send_bad():
        bad.sendall(b"\n".join(hostile + flood) + b"\n")

    sender = threading.Thread(target=send_bad)
    sender.start()
    for i in range(5):
        good.sendall(line(seq=i + 1, ts=NOW - 60 + i) + b"\n")
    sender.join()
    gg = coll.gate(GOOD)
    bg = coll.gate(BAD)
    _serve_until(chan, lambda: gg.counters["accepted"] == 5 and
                 sum(bg.counters.values()) >= len(hostile) + len(flood))
    assert bg.counters["oversize"] == 1 and bg.counters["malformed"] == 1
    assert bg.counters["future"] == 1 and bg.counters["range"] == 1
    assert bg.counters["backwards"] == 1
    assert bg.counters["rate_limited"] >= 490
    taken = spool.take(10_000, now=NOW)
    assert [t.resource_id for t in taken].count(GOOD) == 5
    # the flooder keeps only what its own bucket allowed
    assert [t.resource_id for t in taken].count(BAD) == \
        bg.counters["accepted"] <= 10
    good.close()
    bad.close()


def test_a_third_connection_is_refused(setup):
    coll, chan, _, sock_dir = setup
    conns = [_connect(sock_dir / f"{GOOD}.sock") for _ in range(3)]
    _serve_until(chan, lambda: coll.gate(GOOD).counters[
        "connections_refused"] == 1)
    for c in conns:
        c.close()


def test_a_socket_dir_too_long_for_unix_sockets_is_refused(tmp_path):
    spool = Spool(str(tmp_path / "s.db"), 10)
    coll = C.Collector(spool, G.GatePolicy())
    with pytest.raises(ValueError, match="too long"):
        channels.SocketChannel(coll, "/tmp/" + "d" * 80, 4096)


def test_guests_that_leave_lose_their_socket(setup):
    coll, chan, _, sock_dir = setup
    coll.gate(BAD).counters["accepted"] += 1
    chan.sync_guests([GOOD])
    assert not (sock_dir / f"{BAD}.sock").exists()
    assert BAD not in coll.gates
    with pytest.raises(ValueError):
        chan.sync_guests(["../../etc/passwd"])


def test_closing_the_channel_keeps_the_guests_counters(setup):
    # the collector writes its last status after closing the channel:
    # that status used to lose every guest's counters
    coll, chan, _, sock_dir = setup
    with _connect(sock_dir / f"{GOOD}.sock") as good:
        good.sendall(line(seq=1, ts=NOW - 1) + b"\n")
        _serve_until(chan, lambda: coll.gate(GOOD).counters["accepted"])
    chan.close()
    assert C.status(coll, None)["guests"] == {GOOD: {"accepted": 1}}
    assert not (sock_dir / f"{GOOD}.sock").exists()


class SlowAgent:
    """A stand-in for qemu-ga (a fault we cannot cause here): answers
    from a file's lines, or hangs for one guest."""

    def __init__(self, lines, hang):
        self.lines, self.hang = lines, hang
        self.release = threading.Event()
        #: set when a call for the hung guest came back
        self.hung_returned = threading.Event()

    def __call__(self, domain, command, timeout):
        cmd = json.loads(command)
        if domain == self.hang:
            self.release.wait(30)
            self.hung_returned.set()
        if cmd["execute"] == "guest-file-open":
            return json.dumps({"return": 1})
        if cmd["execute"] == "guest-file-read":
            data = b"".join(x + b"\n" for x in self.lines)
            return json.dumps({"return": {
                "count": len(data), "eof": True,
                "buf-b64": base64.b64encode(data).decode()}})
        return json.dumps({"return": {}})


def test_qemu_agent_channel_never_waits_on_a_hung_guest(tmp_path):
    spool = Spool(str(tmp_path / "spool.db"), 100)
    coll = C.Collector(spool, G.GatePolicy(records_per_minute=60,
                                           rereads=True),
                       clock=lambda: NOW)
    agent = SlowAgent([line(seq=1, ts=NOW - 60), line(seq=2, ts=NOW - 30)],
                      hang="hung")
    chan = channels.QemuAgentChannel(coll, "/x", 1, 65536, agent)
    domains = {GOOD: "ok", BAD: "hung"}
    for _ in range(3):
        chan.poll(domains)
        time.sleep(0.2)
    # the polls came back while the hung guest's call still hangs: they
    # never waited on it (had one, that call would have returned first)
    assert not agent.hung_returned.is_set()
    assert coll.gate(GOOD).counters["accepted"] == 2
    assert coll.gate(GOOD).counters["duplicate"] >= 2
    assert coll.gate(BAD).counters["busy"] >= 1
    agent.release.set()
    chan.close()
    spool.close()


def test_agent_reply_with_a_cut_last_line_keeps_whole_lines():
    data = b'{"a":1}\n{"b":2}\n{"c"'
    reply = json.dumps({"return": {"buf-b64": base64.b64encode(data)
                                   .decode()}})
    assert channels._agent_lines(reply, len(data)) == [b'{"a":1}',
                                                       b'{"b":2}']
