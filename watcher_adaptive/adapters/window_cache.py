"""The last usage window a source read, so that the next audit asks the
store only for what is new.

An audit reads the same instances over a window that slides by one
audit interval: from the second audit on, all but the last few points
are already known.  Gnocchi's cost per instance grows with the points it
serialises (and the client's with the points it parses), so reading
only the tail plus ``reread_s`` (measures gnocchi-metricd had not yet
processed at the previous read) makes an audit's read several times
cheaper.  Bounded by construction: one window per (granularity, metric
set), the last one read, of the instances last asked for.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Hashable
from typing import Optional
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Fetch:
    """Rows still to read, from column ``first`` of the window on."""

    rows: np.ndarray
    first: int


@dataclasses.dataclass(frozen=True)
class _Window:
    rows: dict[str, int]
    epochs: np.ndarray
    values: dict[str, np.ndarray]


class WindowCache:
    """The last window read per key; thread-safe.

    :param reread_s: seconds before the end of the cached window that
        are read again (late measures).
    """

    def __init__(self, reread_s: int = 900) -> None:
        self.reread_s = int(reread_s)
        self._lock = threading.Lock()
        self._last: dict[Hashable, _Window] = {}

    def plan(self, key: Hashable, ids: Sequence[str], epochs: np.ndarray,
             metrics: Sequence[str], granularity: int
             ) -> tuple[dict[str, np.ndarray], list[Fetch]]:
        """The window ``epochs`` (seconds, on the ``granularity`` grid)
        of ``ids`` filled from the cache where known, and what is left
        to read: known rows from a late column on, the others whole."""
        values = {m: np.full((len(ids), epochs.size), np.nan)
                  for m in metrics}
        everything = [Fetch(np.arange(len(ids)), 0)] if len(ids) and \
            epochs.size else []
        with self._lock:
            last = self._last.get(key)
        if last is None or not epochs.size or not last.epochs.size or \
                last.epochs[0] > epochs[0] or last.epochs[-1] < epochs[0] \
                or (last.epochs[0] - epochs[0]) % granularity:
            return values, everything
        old_rows = [last.rows.get(rid, -1) for rid in ids]
        known = np.array([i for i, r in enumerate(old_rows) if r >= 0],
                         dtype=int)
        if not known.size:
            return values, everything
        # the columns of the old window inside the new one, up to where
        # the re-read starts
        since = int(last.epochs[-1]) + granularity - self.reread_s
        first = int(np.clip(-(-(since - int(epochs[0])) // granularity),
                            0, epochs.size))
        new_cols = (last.epochs - epochs[0]) // granularity
        keep = (new_cols >= 0) & (new_cols < first)
        src_rows = np.array([old_rows[i] for i in known], dtype=int)
        for m in metrics:
            old = last.values.get(m)
            if old is not None and keep.any():
                values[m][np.ix_(known, new_cols[keep])] = \
                    old[np.ix_(src_rows, np.flatnonzero(keep))]
        fetches = []
        if first < epochs.size:
            fetches.append(Fetch(known, first))
        unknown = np.setdiff1d(np.arange(len(ids)), known)
        if unknown.size:
            fetches.append(Fetch(unknown, 0))
        return values, fetches

    def store(self, key: Hashable, ids: Sequence[str], epochs: np.ndarray,
              values: dict[str, np.ndarray]) -> None:
        """Remember this window (copied) in place of the last one."""
        window = _Window({rid: i for i, rid in enumerate(ids)},
                         np.array(epochs, dtype=np.int64),
                         {m: np.array(v, dtype=float)
                          for m, v in values.items()})
        with self._lock:
            self._last[key] = window


def plan(cache: Optional[WindowCache], key: Hashable, ids: Sequence[str],
         epochs: np.ndarray, metrics: Sequence[str], granularity: int
         ) -> tuple[dict[str, np.ndarray], list[Fetch]]:
    """:meth:`WindowCache.plan` where a datasource keeps a cache; without
    one, NaN values and every row to read whole."""
    if cache is not None:
        return cache.plan(key, ids, epochs, metrics, granularity)
    values = {m: np.full((len(ids), epochs.size), np.nan) for m in metrics}
    return values, ([Fetch(np.arange(len(ids)), 0)]
                    if len(ids) and epochs.size else [])
