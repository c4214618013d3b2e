"""``watcher-adaptive-guest-agent``: sample this guest every interval and
send one profile record out through a channel to the host.

Channels (``--channel``):

``file:PATH``
    keep the latest records in PATH (rewritten atomically); the host
    reads it through the QEMU guest agent Nova already sets up for
    images with ``hw_qemu_guest_agent=yes``.  The default.
``serial:PATH``
    write to a dedicated virtio-serial port, e.g.
    ``/dev/virtio-ports/org.openstack.watcher_adaptive.0``.
``unix:PATH``
    connect to a Unix socket (tests, non-libvirt setups).
``stdout``
    print the records.

No channel ever blocks sampling: a record that cannot go out now waits
in a small queue (the newest ``--backlog`` records) and older ones are
dropped, so a host that never reads costs the guest nothing.
"""
import argparse
import collections
import json
import os
import signal
import socket
import sys
import time

from . import perf as perf_mod
from . import samplers
from . import schema

DEFAULT_FILE = "/var/lib/watcher-adaptive/profile.jsonl"


def make_record(seq, ts, interval_s, features, sources):
    """The record's JSON line (without newline), within the size cap."""
    line = json.dumps({"v": schema.VERSION, "ts": round(ts, 3), "seq": seq,
                       "interval_s": interval_s, "sources": sources,
                       "f": features}, separators=(",", ":"),
                      sort_keys=True, allow_nan=False)
    if len(line.encode()) > schema.MAX_RECORD_BYTES:
        raise ValueError("record larger than the schema allows")
    return line


class FileChannel:
    """The newest ``keep`` records in one file, replaced atomically so a
    reader never sees half a record."""

    def __init__(self, path, keep=4):
        self.path, self._latest = path, collections.deque(maxlen=keep)
        if os.path.isdir(path):
            # found now, not at the first record an interval later
            raise ValueError(f"file channel {path}: is a directory")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)

    def send(self, line):
        self._latest.append(line)
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            f.write("".join(f"{r}\n" for r in self._latest))
        os.replace(tmp, self.path)
        return True

    def close(self):
        pass


class _QueuedChannel:
    """A stream channel with a bounded queue of records not yet sent."""

    def __init__(self, backlog):
        self._queue = collections.deque(maxlen=backlog)
        self._partial = b""

    def _write(self, data):  # -> bytes written, or raises OSError
        raise NotImplementedError

    def _reset(self):
        raise NotImplementedError

    def send(self, line):
        self._queue.append(f"{line}\n".encode())
        try:
            while self._partial or self._queue:
                if not self._partial:
                    self._partial = self._queue.popleft()
                n = self._write(self._partial)
                self._partial = self._partial[n:]
        except BlockingIOError:
            return False
        except OSError:
            # the host went away: start the line again on a new connection
            self._partial = b""
            self._reset()
            return False
        return True


class UnixChannel(_QueuedChannel):
    def __init__(self, path, backlog=8):
        super().__init__(backlog)
        self.path, self._sock = path, None

    def _write(self, data):
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(1.0)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            sock.setblocking(False)
            self._sock = sock
        return self._sock.send(data)

    def _reset(self):
        if self._sock is not None:
            self._sock.close()
        self._sock = None

    def close(self):
        self._reset()


class SerialChannel(_QueuedChannel):
    def __init__(self, path, backlog=8):
        super().__init__(backlog)
        self.path, self._fd = path, None

    def _write(self, data):
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        return os.write(self._fd, data)

    def _reset(self):
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None

    def close(self):
        self._reset()


class StdoutChannel:
    def send(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return True

    def close(self):
        pass


def open_channel(spec, backlog=8):
    kind, _, path = spec.partition(":")
    if kind == "file":
        return FileChannel(path or DEFAULT_FILE)
    if kind == "serial" and path:
        return SerialChannel(path, backlog)
    if kind == "unix" and path:
        return UnixChannel(path, backlog)
    if kind == "stdout":
        return StdoutChannel()
    raise ValueError(f"unknown channel {spec!r}: use file:PATH, "
                     "serial:PATH, unix:PATH or stdout")


class Agent:
    def __init__(self, channel, interval_s=30.0, proc_root="/proc",
                 use_perf=True, clock=time.time, monotonic=time.monotonic):
        if not schema.MIN_INTERVAL_S <= interval_s <= schema.MAX_INTERVAL_S:
            raise ValueError(f"interval must be within "
                             f"{schema.MIN_INTERVAL_S:g}-"
                             f"{schema.MAX_INTERVAL_S:g} s")
        self.channel, self.interval_s = channel, interval_s
        self.proc_root, self._clock, self._mono = proc_root, clock, monotonic
        self.perf, self.perf_unavailable = (None, "disabled")
        if use_perf:
            self.perf, self.perf_unavailable = perf_mod.PerfCounters.open()
        self.seq = 0
        self.sent = self.unsent = 0
        self._prev = None

    def _read(self):
        return samplers.read_counters(self.proc_root, now=self._mono(),
                                      perf=self.perf)

    def start(self):
        self._prev = self._read()

    def tick(self):
        """Sample, and send one record; the record's line."""
        cur = self._read()
        features, sources = samplers.interval_features(self._prev, cur)
        self._prev = cur
        self.seq += 1
        line = make_record(self.seq, self._clock(), self.interval_s,
                           features, sources)
        if self.channel.send(line):
            self.sent += 1
        else:
            self.unsent += 1
        return line


def _at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}")
        return value
    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="watcher-adaptive-guest-agent",
        description="Profile this guest's behaviour and send one compact "
                    "record per interval to the host.",
        epilog="example: watcher-adaptive-guest-agent --channel "
               f"file:{DEFAULT_FILE} --interval 30")
    parser.add_argument("--channel", default=f"file:{DEFAULT_FILE}",
                        help="file:PATH (read by the host through the "
                             "QEMU guest agent), serial:PATH, unix:PATH or "
                             "stdout (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=30.0,
                        help="seconds between records (default 30)")
    parser.add_argument("--count", type=_at_least(0), default=0,
                        help="stop after this many records (0: run on)")
    parser.add_argument("--backlog", type=_at_least(1), default=8,
                        help="records kept while the host is not reading")
    parser.add_argument("--no-perf", action="store_true",
                        help="do not open hardware counters")
    parser.add_argument("--proc", default="/proc", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        channel = open_channel(args.channel, args.backlog)
        agent = Agent(channel, args.interval, args.proc,
                      use_perf=not args.no_perf)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    agent.start()
    deadline = time.monotonic()
    try:
        while not stop and (not args.count or agent.seq < args.count):
            deadline += args.interval
            while not stop and time.monotonic() < deadline:
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            if stop:
                break
            agent.tick()
    except KeyboardInterrupt:
        pass
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
