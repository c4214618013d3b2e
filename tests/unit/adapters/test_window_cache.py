"""The window cache: what the next audit still has to read, and that
what it had read is carried over unchanged."""
from __future__ import annotations

import numpy as np

from watcher_adaptive.adapters.window_cache import WindowCache

G = 300
T0 = 1_800_000_000 // G * G


def _epochs(first: int, n: int) -> np.ndarray:
    return np.arange(T0 + first * G, T0 + (first + n) * G, G)


def _stored(cache, ids, first=0, n=12):
    epochs = _epochs(first, n)
    values = {"cpu": np.arange(len(ids) * n, dtype=float).reshape(
        len(ids), n)}
    cache.store("k", ids, epochs, values)
    return values["cpu"]


def test_empty_cache_reads_everything():
    values, fetches = WindowCache().plan("k", ["a", "b"], _epochs(0, 12),
                                         ["cpu"], G)
    assert [(list(f.rows), f.first) for f in fetches] == [([0, 1], 0)]
    assert np.isnan(values["cpu"]).all()


def test_next_audit_reads_only_the_tail_of_known_instances():
    cache = WindowCache(reread_s=3 * G)
    old = _stored(cache, ["a", "b"])
    # one step later, with a new instance "c" between them
    values, fetches = cache.plan("k", ["b", "c", "a"], _epochs(1, 12),
                                 ["cpu"], G)
    # the old window ended at column 11 (new 10): columns from 11 - 3 + 1
    # = 9 (new 8) on are read again
    assert [(list(f.rows), f.first) for f in fetches] == \
        [([0, 2], 8), ([1], 0)]
    np.testing.assert_array_equal(values["cpu"][0, :8], old[1, 1:9])
    np.testing.assert_array_equal(values["cpu"][2, :8], old[0, 1:9])
    assert np.isnan(values["cpu"][:, 8:]).all()
    assert np.isnan(values["cpu"][1]).all()


def test_a_window_that_does_not_meet_the_cached_one_reads_everything():
    cache = WindowCache()
    _stored(cache, ["a"])
    _, fetches = cache.plan("k", ["a"], _epochs(13, 12), ["cpu"], G)
    assert [(list(f.rows), f.first) for f in fetches] == [([0], 0)]
    # nor one starting before the cached window (older points unknown)
    _, fetches = cache.plan("k", ["a"], _epochs(-1, 12), ["cpu"], G)
    assert [(list(f.rows), f.first) for f in fetches] == [([0], 0)]


def test_other_keys_and_granularities_do_not_share():
    cache = WindowCache()
    _stored(cache, ["a"])
    _, fetches = cache.plan("other", ["a"], _epochs(1, 12), ["cpu"], G)
    assert fetches[0].first == 0


def test_cache_holds_only_the_last_window():
    cache = WindowCache()
    _stored(cache, ["a", "b"])
    _stored(cache, ["b"], first=1)
    _, fetches = cache.plan("k", ["a", "b"], _epochs(2, 12), ["cpu"], G)
    assert sorted((list(f.rows), f.first > 0) for f in fetches) == \
        [([0], False), ([1], True)]
