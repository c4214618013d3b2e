"""A minimal client for a guest's *second* QMP monitor.

libvirt holds the domain job for the whole post-copy phase on the
destination, so its own balloon call waits 30 s and fails; a second
monitor the operator added to the domain (``-qmp unix:…,server=on,
wait=off`` through ``<qemu:commandline>``) answers at once.  QEMU
serves one client per monitor: connect, negotiate, send, close.
"""
from __future__ import annotations

import json
import socket
from typing import Any
from typing import Optional

from nova_hooks.exceptions import QmpError


class Qmp:
    def __init__(self, path: str, timeout_s: float = 2.0) -> None:
        self.path = path
        self.timeout_s = timeout_s

    def execute(self, command: str,
                arguments: Optional[dict[str, Any]] = None) -> Any:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.path)
            reader = sock.makefile("rb")
            self._read(reader)                          # the greeting
            self._send(sock, {"execute": "qmp_capabilities"})
            self._reply(reader)
            msg: dict[str, Any] = {"execute": command}
            if arguments:
                msg["arguments"] = arguments
            self._send(sock, msg)
            return self._reply(reader)
        except OSError as exc:
            raise QmpError(f"QMP {self.path}: {exc}") from exc
        finally:
            sock.close()

    @staticmethod
    def _send(sock: socket.socket, msg: dict) -> None:
        sock.sendall(json.dumps(msg).encode() + b"\n")

    @staticmethod
    def _read(reader) -> dict:
        line = reader.readline()
        if not line:
            raise QmpError("QMP monitor closed the connection")
        return json.loads(line)

    def _reply(self, reader) -> Any:
        while True:
            msg = self._read(reader)
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise QmpError(f"QMP {self.path}: {msg['error']}")
            # asynchronous events (BALLOON_CHANGE, ...) come in between

    def set_balloon(self, kib: int) -> None:
        self.execute("balloon", {"value": int(kib) * 1024})

    def balloon_kib(self) -> int:
        return int(self.execute("query-balloon")["actual"]) // 1024
