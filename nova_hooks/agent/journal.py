"""The journal on disk: JSON lines, each fsync'ed before the change it
announces is made.

A write that fails (disk full, read-only, permissions) raises
:class:`JournalError`; the caller must not make the change.  A torn last
line (the agent died mid-write) is ignored on load and counted.

Once the file outgrows ``max_bytes`` it is rotated when a session
closes: the full file is kept as ``<path>.1`` (one generation, the
history an operator may want) and ``<path>`` starts again with the
records of the sessions still open, so the disk use and the replay
behind every decision stay bounded however long the agent runs.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any
from typing import Callable
from typing import Optional

from nova_hooks.core import journal_model as J
from nova_hooks.exceptions import JournalError

LOG = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: str,
                 clock: Callable[[], float] = time.time,
                 max_bytes: int = 0) -> None:
        self.path = path
        self.clock = clock
        #: rotate past this size (0: never)
        self.max_bytes = max_bytes
        self.rotations = 0
        self.torn_lines = 0
        self._lock = threading.Lock()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        # the records written so far, kept as they are written: replaying
        # them for every decision must not re-read the whole file
        self._records = self.load()
        # numbering goes on across a rotation: the rotated file may end
        # higher than what was kept
        self._seq = max(max((r.seq for r in self._records), default=0),
                        _last_seq(f"{path}.1"))

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
            data = _line(rec)
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
            if (kind is J.Kind.CLOSE and self.max_bytes
                    and size + len(data) > self.max_bytes):
                self._rotate()
            return rec

    def _rotate(self) -> None:
        """Keep the full file as ``<path>.1`` and start ``<path>`` again
        with the open sessions' records.  Every step leaves a complete
        journal at ``<path>``: the new one is written and fsync'ed aside,
        the old one hard-linked to ``.1``, then the new one renamed over
        it.  A failure (disk full) leaves the journal as it was."""
        keep = J.open_session_records(self._records)
        tmp, old = f"{self.path}.tmp", f"{self.path}.1"
        try:
            with open(tmp, "wb") as f:
                f.writelines(_line(rec) for rec in keep)
                f.flush()
                os.fsync(f.fileno())
            if os.path.exists(old):
                os.unlink(old)
            os.link(self.path, old)
            os.replace(tmp, self.path)
            dirfd = os.open(os.path.dirname(os.path.abspath(self.path)),
                            os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
        except OSError as exc:
            LOG.warning("journal %s not rotated (%s); it keeps growing "
                        "until a later rotation succeeds", self.path, exc)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return
        LOG.info("journal %s rotated: %d record(s) of %d open session(s) "
                 "kept, the rest in %s", self.path, len(keep),
                 len({r.vm for r in keep}), old)
        self._records = keep
        self.rotations += 1

    def records(self) -> list[J.Record]:
        """The records written so far (since the last rotation: the
        open sessions' records and every one after), as kept in memory."""
        with self._lock:
            return list(self._records)

    def sessions(self) -> dict[str, J.SessionState]:
        return J.replay(self.records())


def _line(rec: J.Record) -> bytes:
    """One record as the journal stores it."""
    return (json.dumps(rec.to_dict(), separators=(",", ":")) + "\n").encode()


def _last_seq(path: str) -> int:
    """``seq`` of the last whole record of ``path`` (0: none)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 65536))
            tail = f.read().splitlines()
    except OSError:
        return 0
    for line in reversed(tail):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0
