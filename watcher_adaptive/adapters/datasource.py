"""What an audit reads, whichever metric store holds it.

The strategy reads through one :class:`Datasource`: per-instance usage
windows (CPU, memory; the training job reads the same over a day),
per-host usage windows, and the guest profiler's behaviour series — all
as :class:`UsageWindow` on one time grid, each in one batched read per
audit.  :mod:`.gnocchi` and :mod:`.prometheus` implement it; Aetos is
the Prometheus one behind Keystone.

:func:`check_names` and :class:`FallbackSource` select among them as
Watcher's ``DataSourceManager`` does: the configured names in order,
``prometheus`` and ``aetos`` refused together, a source that cannot be
built or read is skipped (logged) for the next one.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Callable
from typing import Mapping
from typing import Optional
from typing import Protocol
from typing import Sequence

import numpy as np

from watcher_adaptive.exceptions import DatasourceConflict
from watcher_adaptive.exceptions import MetricSourceError

LOG = logging.getLogger(__name__)

#: Watcher's datasource names this project reads (grafana it does not)
GNOCCHI = "gnocchi"
PROMETHEUS = "prometheus"
AETOS = "aetos"
SUPPORTED = (GNOCCHI, PROMETHEUS, AETOS)

#: what one audit of the strategy reads
AUDIT_METRICS = ("cpu_cores",)
#: what the training job reads
DEFAULT_METRICS = ("cpu_cores", "memory_mb")
#: profile features the predictor's behaviour columns take, read when a
#: trained model is in use
PROFILE_METRICS = ("profile_mem_used", "profile_disk_write_share",
                   "profile_net_rx_share")
#: our key -> the guest agent's feature name, for the hot-set predictor
HOTSET_METRICS = {
    "profile_mem_total_mb": "mem.total_mb",
    "profile_mem_used": "mem.used_ratio",
    "profile_ws_ratio": "mem.working_set_ratio",
    "profile_anon_mb": "mem.anon_mb", "profile_cache_mb": "mem.cache_mb",
    "profile_minflt_ps": "mem.minflt_ps",
    "profile_majflt_ps": "mem.majflt_ps",
    "profile_refault_ps": "mem.refault_ps",
    "profile_cpu_idle": "cpu.idle",
    "profile_disk_write_share": "disk.write_share"}
#: what a per-host window holds
HOST_METRICS = ("cpu_cores", "memory_mb")


@dataclasses.dataclass(frozen=True)
class UsageWindow:
    """Usage of many instances (or hosts) on one time grid.

    :param resource_ids: instance uuids (host names), one row each.
    :param times: ``(n_times,)`` sample times (``datetime64[s]``, UTC).
    :param values: our metric key -> ``(n_resources, n_times)`` floats,
        NaN where the store has no point.
    :param requests: HTTP requests the read made.
    :param source: the datasource that answered (``gnocchi``, ...).
    """

    resource_ids: tuple[str, ...]
    times: np.ndarray
    values: dict[str, np.ndarray]
    requests: int
    source: str = GNOCCHI


class Datasource(Protocol):
    """A metric store the strategy reads; every method is one batched
    read (a few requests whatever the number of resources).

    :raises MetricSourceError: the store is unreachable, refuses, or
        does not hold what is asked.
    """

    name: str

    def read_usage(self, resource_ids: Sequence[str],
                   start: datetime.datetime, stop: datetime.datetime,
                   granularity: int = 300,
                   metrics: Optional[Sequence[str]] = None
                   ) -> UsageWindow:
        """Instances' usage (or behaviour profiles, by metric key) over
        ``[start, stop)``."""

    def read_host_usage(self, hostnames: Sequence[str],
                        start: datetime.datetime, stop: datetime.datetime,
                        granularity: int = 300) -> UsageWindow:
        """Hosts' :data:`HOST_METRICS` over ``[start, stop)``, rows in
        ``hostnames`` order."""


def grid(start: datetime.datetime, stop: datetime.datetime,
         granularity: int) -> np.ndarray:
    """Sample times ``start <= t < stop`` aligned on ``granularity``, as
    both stores align their aggregates."""
    first = int(np.ceil(start.timestamp() / granularity)) * granularity
    last = int(stop.timestamp())
    return np.arange(first, last, granularity).astype("datetime64[s]")


def check_names(names: Sequence[str]) -> list[str]:
    """The configured datasource names this project can read, in order.

    Names Watcher knows but this project does not read (``grafana``) are
    skipped with a warning, as Watcher skips an unavailable one.

    :raises DatasourceConflict: ``prometheus`` and ``aetos`` together
        (Watcher's ``DataSourceConfigConflict``: the same store twice).
    """
    names = [str(n).strip() for n in names if str(n).strip()]
    if PROMETHEUS in names and AETOS in names:
        raise DatasourceConflict(
            "datasources lists both prometheus and aetos: use one (aetos "
            "is prometheus behind Keystone)")
    usable = [n for n in names if n in SUPPORTED]
    for name in names:
        if name not in SUPPORTED:
            LOG.warning("datasource %s is not read by watcher-adaptive; "
                        "skipping it", name)
    return usable


class FallbackSource:
    """The configured datasources in order: each read goes to the first
    that can be built and answers; one that fails is logged and the next
    one tried (Watcher's fallback order).

    :param builders: ``(name, build)`` in order; ``build()`` returns a
        :class:`Datasource` or raises (e.g. a missing endpoint).
    :param min_coverage: the share of instances an audit's usage read
        (one without ``metrics``) must find usage for; a store that
        answers for fewer is taken as partial and the next one tried.
    """

    def __init__(self, builders: Sequence[tuple[str, Callable[[],
                                                               Datasource]]],
                 min_coverage: float = 0.0) -> None:
        self.min_coverage = min_coverage
        if not builders:
            raise MetricSourceError(
                "no usable datasource configured (this project reads "
                f"{', '.join(SUPPORTED)})")
        self._builders = list(builders)
        self._built: dict[str, Datasource] = {}
        #: why each skipped datasource was skipped, in the order tried
        self.skipped: list[str] = []
        #: the datasource that answered the last read
        self.used: Optional[str] = None

    @property
    def name(self) -> str:
        return self.used or self._builders[0][0]

    def _source(self, name: str, build) -> Datasource:
        if name not in self._built:
            self._built[name] = build()
        return self._built[name]

    def source(self, name: str) -> Datasource:
        """The configured datasource ``name``, built (its errors
        raised).

        :raises KeyError: ``name`` is not in the list.
        """
        return self._source(name, dict(self._builders)[name])

    def _first(self, read: Callable[[Datasource], UsageWindow],
               min_coverage: float = 0.0) -> UsageWindow:
        reasons = []
        for name, build in self._builders:
            try:
                window = read(self._source(name, build))
                partial = partial_reason(window, min_coverage)
                if partial:
                    raise MetricSourceError(partial)
            except Exception as exc:  # noqa: BLE001 - next one, logged
                reason = f"{name}: {type(exc).__name__}: {exc}"
                reasons.append(reason)
                LOG.warning("datasource %s unusable (%s)", name, reason)
                continue
            self.used = name
            self.skipped = reasons
            return window
        self.skipped = reasons
        raise MetricSourceError("no datasource answered: "
                                + "; ".join(reasons))

    def read_usage(self, resource_ids: Sequence[str],
                   start: datetime.datetime, stop: datetime.datetime,
                   granularity: int = 300,
                   metrics: Optional[Sequence[str]] = None
                   ) -> UsageWindow:
        return self._first(lambda s: s.read_usage(
            resource_ids, start, stop, granularity, metrics),
            self.min_coverage if metrics is None else 0.0)

    def read_host_usage(self, hostnames: Sequence[str],
                        start: datetime.datetime, stop: datetime.datetime,
                        granularity: int = 300) -> UsageWindow:
        return self._first(lambda s: s.read_host_usage(
            hostnames, start, stop, granularity))


def partial_reason(window: UsageWindow, min_coverage: float
                   ) -> Optional[str]:
    """Why ``window`` is too partial to plan on (fewer than
    ``min_coverage`` of its rows with any usage in their first metric),
    or ``None``."""
    n = len(window.resource_ids)
    if min_coverage <= 0.0 or not n or not window.values:
        return None
    key = "cpu_cores" if "cpu_cores" in window.values \
        else next(iter(window.values))
    have = int(np.isfinite(np.asarray(window.values[key], dtype=float))
               .any(axis=1).sum()) if window.times.size else 0
    if have >= min_coverage * n:
        return None
    return (f"partial answer: usage for {have} of {n} instance(s), "
            f"fewer than min_usage_coverage {min_coverage:.0%}")


def empty_values(keys: Sequence[str], rows: int,
                 times: np.ndarray) -> dict[str, np.ndarray]:
    """NaN arrays ``(rows, n_times)`` for each key."""
    return {k: np.full((rows, times.size), np.nan) for k in keys}


def check_keys(metrics: Sequence[str], known: Mapping) -> list[str]:
    """``metrics`` as a list, every one a key of ``known``.

    :raises ValueError: an unknown key (a caller's bug, found before any
        request).
    """
    keys = [k for k in metrics if k in known]
    unknown = set(metrics) - set(keys)
    if unknown:
        raise ValueError(f"unknown metric key(s) {sorted(unknown)}; "
                         f"known: {sorted(known)}")
    return keys
