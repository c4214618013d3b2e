"""Builders for the agent's core types (tests only)."""
from __future__ import annotations

import numpy as np

from nova_hooks.core import types

MiB = 1 << 20
GiB = 1 << 30


def figures(hot=0, warm=0, cold=0, need_kib=None, by_node=()):
    return types.VmFigures(guest_bytes=hot + warm + cold, hot_bytes=hot,
                           warm_bytes=warm, cold_bytes=cold,
                           hot_bytes_by_node=tuple(by_node),
                           guest_need_kib=need_kib)


def samples(accesses, writes=None, idle=None, intervals=10, node=None,
            interval_s=1.0):
    acc = np.asarray(accesses, dtype=np.uint8)
    n = acc.shape[0]
    return types.PageSamples(
        accesses=acc,
        writes=np.asarray(writes if writes is not None else [0] * n,
                          dtype=np.uint8),
        idle_s=np.asarray(idle if idle is not None else [0] * n,
                          dtype=np.uint16),
        intervals=intervals, interval_s=interval_s,
        node=None if node is None else np.asarray(node, dtype=np.int8))


def random_samples(n, seed=0, nodes=2, intervals=10):
    rng = np.random.default_rng(seed)
    return types.PageSamples(
        accesses=rng.integers(0, intervals + 1, n, dtype=np.uint8),
        writes=rng.integers(0, 3, n, dtype=np.uint8),
        idle_s=rng.integers(0, 120, n, dtype=np.uint16),
        intervals=intervals,
        node=rng.integers(-1, nodes, n, dtype=np.int8))


def topology(*cpus_per_node):
    return types.HostTopology(tuple(
        types.NumaNode(i, frozenset(c)) for i, c in enumerate(cpus_per_node)))
