"""The journal on disk: JSON lines, each fsync'ed before the change it
announces is made.

A write that fails (disk full, read-only, permissions) raises
:class:`JournalError`; the caller must not make the change.  A torn last
line (the agent died mid-write) is ignored on load and counted.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.core import journal_model as J


class JournalError(OSError):
    """The journal cannot be written: nothing may be changed."""


class Journal:
    def __init__(self, path: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.torn_lines = 0
        self._lock = threading.Lock()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        # the records written so far, kept as they are written: replaying
        # them for every decision must not re-read the whole file
        self._records = self.load()
        self._seq = max((r.seq for r in self._records), default=0)

    def load(self) -> list[J.Record]:
        records = []
        self.torn_lines = 0
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        records.append(J.Record.from_dict(json.loads(line)))
                    except (ValueError, KeyError, TypeError):
                        self.torn_lines += 1
        except FileNotFoundError:
            pass
        return records

    def write(self, vm: str, kind: J.Kind,
              action: Optional[J.Action] = None,
              channel: Optional[J.Channel] = None, before: Any = None,
              after: Any = None, detail: str = "") -> J.Record:
        """Append one record durably; :class:`JournalError` if it could
        not be."""
        with self._lock:
            rec = J.Record(self._seq + 1, self.clock(), vm, kind, action,
                           channel, before, after, detail)
            data = (json.dumps(rec.to_dict(), separators=(",", ":"))
                    + "\n").encode()
            try:
                fd = os.open(self.path,
                             os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                size = os.fstat(fd).st_size
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(28, "short write to the journal")
                    os.fsync(fd)
                except OSError:
                    # no torn line may swallow the next record
                    try:
                        os.ftruncate(fd, size)
                    except OSError:
                        pass
                    raise
                finally:
                    os.close(fd)
            except OSError as exc:
                raise JournalError(exc.errno, f"journal {self.path}: "
                                              f"{exc.strerror}") from exc
            self._seq = rec.seq
            self._records.append(rec)
            return rec

    def sessions(self) -> dict[str, J.SessionState]:
        with self._lock:
            return J.replay(list(self._records))
