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
from typing import Iterable
from typing import Mapping

LOG = logging.getLogger(__name__)
#: entries older than this are dropped when the journal is written
KEEP_S = 86400.0
#: the entry that holds when a plan last woke a host (not an instance
#: uuid, so it cannot collide with one)
WAKE = "host-woken"


class MoveJournal:
    """``{instance uuid: epoch seconds of its last planned move}``, and
    under :data:`WAKE` when a plan last woke a host."""

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
               previous: Mapping[str, float], woke_host: bool = False
               ) -> None:
        if self.path is None:
            return
        entries = {k: v for k, v in previous.items() if now - v < KEEP_S}
        entries.update({uuid: now for uuid in moved})
        if woke_host:
            entries[WAKE] = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent,
                                   prefix=self.path.name + ".")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(entries, handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
