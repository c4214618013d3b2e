"""A bounded, on-disk queue of accepted profiles waiting for Gnocchi.

SQLite (standard library, atomic commits) so that a collector restart
or a Gnocchi outage loses nothing within the bound.  Above
``max_records`` the oldest records are dropped and counted in
``lost``, which is itself kept on disk.  One instance per thread: the
collector's reader thread puts, its flusher thread takes.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Sequence

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id TEXT NOT NULL,
    ts REAL NOT NULL,
    features TEXT NOT NULL,
    not_before REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);
INSERT OR IGNORE INTO meta VALUES ('lost', 0);
"""


@dataclasses.dataclass(frozen=True)
class Spooled:
    id: int
    resource_id: str
    ts: float
    features: dict[str, float]


class Spool:
    def __init__(self, path: str, max_records: int) -> None:
        if max_records < 1:
            raise ValueError("max_records must be positive")
        self.path, self.max_records = path, max_records
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put(self, items: Sequence[tuple[str, float, dict[str, float]]]
            ) -> int:
        """Queue ``(resource_id, ts, features)`` items; returns how many
        older records were dropped to stay within the bound."""
        if not items:
            return 0
        with self._tx():
            self._db.executemany(
                "INSERT INTO spool (resource_id, ts, features) "
                "VALUES (?, ?, ?)",
                [(rid, ts, json.dumps(f, separators=(",", ":")))
                 for rid, ts, f in items])
            excess = self.depth() - self.max_records
            if excess > 0:
                self._db.execute(
                    "DELETE FROM spool WHERE id IN (SELECT id FROM spool "
                    "ORDER BY id LIMIT ?)", (excess,))
                self._db.execute("UPDATE meta SET value = value + ? "
                                 "WHERE key = 'lost'", (excess,))
        return max(0, excess)

    def take(self, limit: int, now: float) -> list[Spooled]:
        """The oldest records that are due (not deferred), without
        removing them: :meth:`done` does that once they landed."""
        rows = self._db.execute(
            "SELECT id, resource_id, ts, features FROM spool "
            "WHERE not_before <= ? ORDER BY id LIMIT ?", (now, limit))
        return [Spooled(i, rid, ts, json.loads(f)) for i, rid, ts, f in rows]

    def done(self, ids: Sequence[int]) -> None:
        with self._tx():
            self._db.executemany("DELETE FROM spool WHERE id = ?",
                                 [(i,) for i in ids])

    def defer(self, ids: Sequence[int], until: float) -> None:
        with self._tx():
            self._db.executemany(
                "UPDATE spool SET not_before = ? WHERE id = ?",
                [(until, i) for i in ids])

    def depth(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0]

    @property
    def lost(self) -> int:
        return self._db.execute(
            "SELECT value FROM meta WHERE key = 'lost'").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def _tx(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()
