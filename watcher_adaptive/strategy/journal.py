"""When the strategy last moved each instance, across audits.

Watcher builds a new strategy object for every audit, so the cooldown
and the hourly budget need memory outside it.  A small JSON file, written
atomically (temporary file + rename), is enough: one entry per instance
moved within the last day.  A corrupt or unreadable file is reported and
treated as empty, which can only make the strategy *more* willing to
move, never lose a VM.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import IO
from typing import Callable
from typing import Iterable
from typing import Mapping

LOG = logging.getLogger(__name__)
#: entries older than this are dropped when the journal is written
KEEP_S = 86400.0
#: the entry that holds when a plan last woke a host (not an instance
#: uuid, so it cannot collide with one)
WAKE = "host-woken"
#: the prefix of the entries that hold when a consolidation last moved an
#: instance (``consolidated:<uuid>``)
CONSOLIDATED = "consolidated:"


def consolidations(entries: Mapping[str, float]) -> dict[str, float]:
    """``{instance uuid: when a consolidation last moved it}``."""
    return {k[len(CONSOLIDATED):]: v for k, v in entries.items()
            if k.startswith(CONSOLIDATED)}


def moves(entries: Mapping[str, float]) -> dict[str, float]:
    """``{instance uuid: when it last moved}``, whatever moved it."""
    return {k: v for k, v in entries.items()
            if k != WAKE and not k.startswith(CONSOLIDATED)}


class MoveJournal:
    """``{instance uuid: epoch seconds of its last planned move}``, under
    :data:`WAKE` when a plan last woke a host, and under
    :data:`CONSOLIDATED` ``+ uuid`` when a consolidation last moved an
    instance."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None

    def load(self) -> dict[str, float]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            return {str(k): float(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            LOG.warning("move journal %s unreadable (%s); cooldowns start "
                        "afresh", self.path, exc)
            return {}

    def record(self, moved: Iterable[str], now: float,
               previous: Mapping[str, float], woke_host: bool = False,
               consolidated: Iterable[str] = (), keep_s: float = KEEP_S
               ) -> None:
        """Write ``previous`` (entries older than ``keep_s`` dropped)
        with this plan's moves, those of them a consolidation made, and
        whether it woke a host."""
        if self.path is None:
            return
        keep_s = max(keep_s, KEEP_S)
        entries = {k: v for k, v in previous.items() if now - v < keep_s}
        entries.update({uuid: now for uuid in moved})
        entries.update({CONSOLIDATED + uuid: now for uuid in consolidated})
        if woke_host:
            entries[WAKE] = now
        write_atomically(self.path, lambda handle: handle.write(
            json.dumps(entries).encode()))


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]
                     ) -> None:
    """``write`` the file at ``path`` through a temporary file beside it
    and a rename: a reader sees the old file or the new one, never half
    of one (the strategy's files across audits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
