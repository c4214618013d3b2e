"""Ways records come out of guests, each feeding a :class:`~.collector.
Collector` without ever waiting on a guest.

:class:`SocketChannel` listens on one Unix socket per guest, named by
the instance UUID, so a guest's identity comes from the socket it can
reach, never from what it writes.  :class:`QemuAgentChannel` reads the
guest agent's record file through the QEMU guest agent
(``guest-file-open``/``-read``/``-close``).
"""
from __future__ import annotations

import base64
import concurrent.futures
import json
import logging
import os
import selectors
import socket
import uuid
from typing import Callable
from typing import Iterable

from watcher_adaptive.profiler import framing
from watcher_adaptive.profiler.collector import Collector

LOG = logging.getLogger(__name__)

#: bytes read from one guest per readiness event: a flooder gets no
#: more of the loop than a quiet guest
READ_CHUNK = 65536
#: connections one guest may hold open on its socket
MAX_CONNECTIONS = 2
#: sun_path holds 108 bytes with its terminating NUL
MAX_SOCKET_PATH = 107


def checked_uuid(value: str) -> str:
    """``value`` as a canonical UUID; anything else is refused before it
    can become part of a path."""
    return str(uuid.UUID(str(value)))


class SocketChannel:
    def __init__(self, collector: Collector, socket_dir: str,
                 max_line: int) -> None:
        self.collector = collector
        self.socket_dir = socket_dir
        self.max_line = max_line
        self.selector = selectors.DefaultSelector()
        self.listeners: dict[str, socket.socket] = {}
        self.connections: dict[str, list[socket.socket]] = {}
        longest = len(os.path.join(os.path.abspath(socket_dir),
                                   f"{uuid.UUID(int=0)}.sock").encode())
        if longest > MAX_SOCKET_PATH:
            raise ValueError(
                f"socket_dir {socket_dir!r} is too long for Unix socket "
                f"paths ({longest} > {MAX_SOCKET_PATH} bytes with the "
                f"instance uuid); choose a shorter directory")
        os.makedirs(socket_dir, mode=0o750, exist_ok=True)

    def sync_guests(self, guest_ids: Iterable[str]) -> None:
        """Listen for exactly these guests."""
        wanted = {checked_uuid(g) for g in guest_ids}
        for gid in sorted(set(self.listeners) - wanted):
            self._close_guest(gid)
            self.collector.forget(gid)
        for gid in sorted(wanted - set(self.listeners)):
            path = os.path.join(self.socket_dir, f"{gid}.sock")
            if os.path.exists(path):
                os.unlink(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(path)
            sock.listen(4)
            sock.setblocking(False)
            self.listeners[gid] = sock
            self.connections[gid] = []
            self.selector.register(sock, selectors.EVENT_READ,
                                   ("listen", gid, None))

    def _close_guest(self, gid: str) -> None:
        for conn in self.connections.pop(gid, []):
            self._drop(gid, conn, keep_list=False)
        sock = self.listeners.pop(gid)
        self.selector.unregister(sock)
        sock.close()
        try:
            os.unlink(os.path.join(self.socket_dir, f"{gid}.sock"))
        except FileNotFoundError:
            pass

    def _drop(self, gid: str, conn: socket.socket,
              keep_list: bool = True) -> None:
        self.selector.unregister(conn)
        conn.close()
        if keep_list:
            self.connections[gid].remove(conn)

    def serve_once(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            kind, gid, buf = key.data
            if kind == "listen":
                self._accept(gid, key.fileobj)
            else:
                self._read(gid, key.fileobj, buf)

    def _accept(self, gid: str, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return
        if len(self.connections[gid]) >= MAX_CONNECTIONS:
            self.collector.gate(gid).counters["connections_refused"] += 1
            conn.close()
            return
        conn.setblocking(False)
        self.connections[gid].append(conn)
        self.selector.register(conn, selectors.EVENT_READ,
                               ("conn", gid,
                                framing.LineBuffer(self.max_line)))

    def _read(self, gid: str, conn: socket.socket,
              buf: framing.LineBuffer) -> None:
        try:
            data = conn.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(gid, conn)
            return
        self.collector.offer(gid, buf.feed(data))

    def close(self) -> None:
        """Stop listening; the guests' counters stay with the collector
        (the status written on the way out reports them)."""
        for gid in list(self.listeners):
            self._close_guest(gid)
        self.selector.close()


def _agent_lines(reply: str, max_bytes: int) -> list[bytes]:
    """Lines of a ``guest-file-read`` reply; the last, possibly cut, line
    is dropped when the read hit ``max_bytes``."""
    doc = json.loads(reply)
    ret = doc.get("return", {}) if isinstance(doc, dict) else {}
    data = base64.b64decode(ret.get("buf-b64", ""), validate=True)
    lines = data.split(b"\n")
    if len(data) >= max_bytes or not data.endswith(b"\n"):
        lines = lines[:-1]
    return [line for line in lines if line]


class QemuAgentChannel:
    """Polls every running guest's record file through qemu-ga.

    :param agent_command: ``(domain, command_json, timeout_s) -> reply``,
        ``libvirt_qemu.qemuAgentCommand`` in production.
    """

    def __init__(self, collector: Collector, path: str, timeout_s: int,
                 max_file_bytes: int,
                 agent_command: Callable[[object, str, int], str],
                 workers: int = 8) -> None:
        self.collector = collector
        self.path = path
        self.timeout_s = timeout_s
        self.max_file_bytes = max_file_bytes
        self.agent_command = agent_command
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.in_flight: dict[str, concurrent.futures.Future] = {}

    def read_file(self, domain) -> list[bytes]:
        cmd = self.agent_command
        handle = json.loads(cmd(domain, json.dumps({
            "execute": "guest-file-open",
            "arguments": {"path": self.path, "mode": "r"}}),
            self.timeout_s))["return"]
        try:
            reply = cmd(domain, json.dumps({
                "execute": "guest-file-read",
                "arguments": {"handle": handle,
                              "count": self.max_file_bytes}}),
                self.timeout_s)
        finally:
            cmd(domain, json.dumps({"execute": "guest-file-close",
                                    "arguments": {"handle": handle}}),
                self.timeout_s)
        return _agent_lines(reply, self.max_file_bytes)

    def poll(self, domains: dict[str, object]) -> None:
        """Start a read of each guest whose previous read is done, and
        hand finished reads to the collector."""
        for gid, fut in list(self.in_flight.items()):
            if not fut.done():
                continue
            del self.in_flight[gid]
            try:
                self.collector.offer(gid, fut.result())
            except Exception as exc:  # noqa: BLE001 - a guest's failure
                # the agent is missing, slow or answered nonsense
                counters = self.collector.gate(gid).counters
                counters["read_failed"] += 1
                log = LOG.warning if counters["read_failed"] == 1 \
                    else LOG.debug
                log("guest %s: record file not read: %s: %s", gid,
                    type(exc).__name__, exc)
        for gid, dom in domains.items():
            if gid in self.in_flight:
                self.collector.gate(gid).counters["busy"] += 1
                continue
            self.in_flight[gid] = self.pool.submit(self.read_file, dom)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
