"""Recent usage of many instances from Gnocchi, in a few requests.

Watcher's own Gnocchi datasource asks for one metric of one instance per
request; an audit of 10,000 instances would make tens of thousands.  The
reader here uses the aggregates API with a resource search: one request
per chunk of instances (``chunk_size``) returns every metric of every
instance in the chunk at one granularity.  Ceilometer's cumulative
counters (``cpu`` in ns, bytes read/written/received/sent) are read
with the ``rate:mean`` aggregation, which the archive policy must
offer (Ceilometer's defaults do).

The writer is for tests, benchmarks and demos: it creates instance
resources and pushes a usage matrix as Ceilometer would have.
"""
from __future__ import annotations

import concurrent.futures
import datetime
import json
import logging
import time
import urllib.parse
from typing import Callable
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.adapters import datasource
from watcher_adaptive.adapters import window_cache
from watcher_adaptive.exceptions import MetricSourceError

LOG = logging.getLogger(__name__)

#: our key -> (Ceilometer metric, aggregation, scale to our unit)
METRICS: dict[str, tuple[str, str, float]] = {
    # ns of CPU time per second -> cores in use (rates are divided by the
    # granularity: Gnocchi gives the increase per period)
    "cpu_cores": ("cpu", "rate:mean", 1e-9),
    "memory_mb": ("memory.usage", "mean", 1.0),
    "disk_read_bps": ("disk.read.bytes", "rate:mean", 1.0),
    "disk_write_bps": ("disk.write.bytes", "rate:mean", 1.0),
    "net_rx_bps": ("network.incoming.bytes", "rate:mean", 1.0),
    "net_tx_bps": ("network.outgoing.bytes", "rate:mean", 1.0),
    # the behavioural profiler's guest-side view (watcher_adaptive.profiler)
    "profile_mem_used": ("adaptive.mem.used_ratio", "mean", 1.0),
    "profile_disk_write_share": ("adaptive.disk.write_share", "mean", 1.0),
    "profile_net_rx_share": ("adaptive.net.rx_share", "mean", 1.0),
    # what the hot-set predictor reads of the moved instances
    "profile_mem_total_mb": ("adaptive.mem.total_mb", "mean", 1.0),
    "profile_ws_ratio": ("adaptive.mem.working_set_ratio", "mean", 1.0),
    "profile_anon_mb": ("adaptive.mem.anon_mb", "mean", 1.0),
    "profile_cache_mb": ("adaptive.mem.cache_mb", "mean", 1.0),
    "profile_minflt_ps": ("adaptive.mem.minflt_ps", "mean", 1.0),
    "profile_majflt_ps": ("adaptive.mem.majflt_ps", "mean", 1.0),
    "profile_refault_ps": ("adaptive.mem.refault_ps", "mean", 1.0),
    "profile_cpu_idle": ("adaptive.cpu.idle", "mean", 1.0),
}
# the audit's metric sets and the window type are the datasource
# interface's (re-exported here for the callers that predate it)
DEFAULT_METRICS = datasource.DEFAULT_METRICS
HOTSET_METRICS = datasource.HOTSET_METRICS
AUDIT_METRICS = datasource.AUDIT_METRICS
PROFILE_METRICS = datasource.PROFILE_METRICS
UsageWindow = datasource.UsageWindow
grid = datasource.grid


def make_client(endpoint: str, user: str = "admin"):
    """A gnocchiclient for a Gnocchi with ``auth_mode = basic`` (the
    session from :mod:`.keystone`, which also builds Keystone ones)."""
    from watcher_adaptive.adapters import keystone

    return keystone.gnocchi_client(keystone.basic_session(endpoint, user))


def _operations(keys: Sequence[str]) -> str:
    parts = " ".join(f"({METRICS[k][0]} {METRICS[k][1]})" for k in keys)
    return f"(metric {parts})"


def _iso(when: datetime.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).isoformat()


def parse_measures(body: Mapping, resource_ids: Sequence[str],
                   keys: Sequence[str], times: np.ndarray,
                   granularity: int) -> dict[str, np.ndarray]:
    """Fill ``(n_resources, n_times)`` arrays from an aggregates answer
    ``{"measures": {rid: {metric: {aggregation: [[ts, gran, v]…]}}}}``.

    Points at other granularities or off the grid are ignored; a missing
    resource or metric leaves NaN.  Every point of a metric is gathered
    into flat lists first and converted by numpy in one go (per point
    work in Python was most of the client's time at 10,000 instances).
    """
    row = {rid: i for i, rid in enumerate(resource_ids)}
    t0 = int(times[0].astype(np.int64)) if times.size else 0
    out = {k: np.full((len(resource_ids), times.size), np.nan)
           for k in keys}
    measures = body.get("measures") if isinstance(body, Mapping) else None
    if not isinstance(measures, Mapping):
        return out
    for key in keys:
        name, agg, scale = METRICS[key]
        rows: list[int] = []
        stamps: list = []
        grans: list = []
        vals: list = []
        for rid, metrics in measures.items():
            i = row.get(rid)
            if i is None or not isinstance(metrics, Mapping):
                continue
            points = (metrics.get(name) or {}).get(agg) or []
            if not points:
                continue
            ts, gr, vs = zip(*points, strict=True)
            rows.extend([i] * len(ts))
            stamps.extend(ts)
            grans.extend(gr)
            vals.extend(vs)
        if not rows:
            continue
        # a rate is per granularity period: per second below
        per = granularity if agg.startswith("rate:") else 1
        values = np.array([np.nan if v is None else v for v in vals],
                          dtype=float)
        j, off = np.divmod(_epochs(stamps) - t0, granularity)
        ok = ((np.asarray(grans, dtype=float) == granularity) & (off == 0)
              & (j >= 0) & (j < times.size) & np.isfinite(values))
        out[key][np.asarray(rows)[ok], j[ok]] = values[ok] * scale / per
    return out


def _epochs(stamps: Sequence) -> np.ndarray:
    """Seconds since the epoch of many timestamps: ISO 8601 strings in
    UTC as the REST API sends them, parsed by numpy at once, or anything
    :func:`_epoch` reads."""
    if all(isinstance(s, str) and s.endswith("+00:00") for s in stamps):
        return np.array([s[:-6] for s in stamps],
                        dtype="datetime64[s]").astype(np.int64)
    return np.array([_epoch(s) for s in stamps], dtype=np.int64)


def _epoch(stamp) -> int:
    """Seconds since the epoch of a timestamp as the REST API sends it
    (ISO 8601, UTC) or as gnocchiclient returns it (an aware datetime)."""
    if isinstance(stamp, str) and stamp.endswith("+00:00"):
        return int(np.datetime64(stamp[:-6], "s").astype(np.int64))
    if isinstance(stamp, datetime.datetime):
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.timezone.utc)
        return int(stamp.timestamp())
    return _epoch(datetime.datetime.fromisoformat(str(stamp)))


class GnocchiMetricSource:
    """Reads one audit's usage in ``ceil(n / chunk_size)`` requests (the
    :class:`~.datasource.Datasource` of ``gnocchi``).

    :param client: a ``gnocchiclient.v1.client.Client``.
    :param retries: attempts per request on connection errors, with
        exponential back-off (a timeout counts as one); other errors are
        raised at once.
    :param parallel: chunks requested at the same time.
    :param timeout_s: seconds one request may take (``None``: no limit).
    :param cache: a :class:`~.window_cache.WindowCache`: a read asks only
        for the points after the cached window (less its ``reread_s``)
        for the instances it holds.
    """

    def __init__(self, client, resource_type: str = "instance",
                 chunk_size: int = 500, retries: int = 3,
                 backoff_s: float = 0.5, parallel: int = 4,
                 timeout_s: Optional[float] = 60.0,
                 metrics: Sequence[str] = DEFAULT_METRICS,
                 cache: Optional[window_cache.WindowCache] = None) -> None:
        self.name = datasource.GNOCCHI
        #: the last windows read, kept across audits when the caller
        #: keeps it (``None``: every read asks for the whole window)
        self.cache = cache
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.client = client
        self.resource_type = resource_type
        self.chunk_size = chunk_size
        self.retries = retries
        self.backoff_s = backoff_s
        #: per request: a Gnocchi that stops answering must not hold an
        #: audit (keystoneauth's session has no timeout unless told)
        self.timeout_s = timeout_s
        self.parallel = parallel
        self.metrics = tuple(metrics)

    def read_usage(self, resource_ids: Sequence[str],
                   start: datetime.datetime, stop: datetime.datetime,
                   granularity: int = 300,
                   metrics: Optional[Sequence[str]] = None) -> UsageWindow:
        """Usage of ``resource_ids`` over ``[start, stop)``.

        :param metrics: our metric keys (:data:`METRICS`); default: the
            source's ``metrics``.

        :raises MetricSourceError: Gnocchi unreachable or refusing.
        """
        metrics = self.metrics if metrics is None else tuple(metrics)
        keys = datasource.check_keys(metrics, METRICS)
        ids = tuple(str(r) for r in resource_ids)
        times = grid(start, stop, granularity)
        epochs = times.astype(np.int64)
        cache_key = (self.resource_type, granularity, tuple(keys))
        values, fetches = window_cache.plan(self.cache, cache_key, ids,
                                            epochs, keys, granularity)
        tasks = [(f.first, f.rows[lo:lo + self.chunk_size])
                 for f in fetches
                 for lo in range(0, len(f.rows), self.chunk_size)]

        def read(task) -> dict[str, np.ndarray]:
            first, rows = task
            chunk = [ids[i] for i in rows]
            since = datetime.datetime.fromtimestamp(int(epochs[first]),
                                                    datetime.timezone.utc)
            body = self._fetch(chunk, keys, since, stop, granularity)
            return parse_measures(body, chunk, keys, times[first:],
                                  granularity)

        # a few requests in flight: the server reads each metric's file
        # on its own worker, so chunks overlap well up to its worker count
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, min(self.parallel, len(tasks)))) as pool:
            for (first, rows), part in zip(tasks, pool.map(read, tasks),
                                           strict=True):
                for k in keys:
                    values[k][rows, first:] = part[k]
        if self.cache is not None:
            self.cache.store(cache_key, ids, epochs, values)
        return UsageWindow(ids, times, values, len(tasks),
                           datasource.GNOCCHI)

    def read_host_usage(self, hostnames: Sequence[str],
                        start: datetime.datetime, stop: datetime.datetime,
                        granularity: int = 300) -> UsageWindow:
        """Not read from Gnocchi: the strategy sums its instances'
        usage per host (Ceilometer's host meters need the hardware
        pollsters, rarely deployed).

        :raises MetricSourceError: always.
        """
        raise MetricSourceError("host usage is not read from Gnocchi")

    def _fetch(self, chunk, keys, start, stop, granularity) -> Mapping:
        from gnocchiclient import exceptions as gexc
        from keystoneauth1 import exceptions as kexc

        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            try:
                # NOTE: the raw API call, not aggregates.fetch(): the
                # client turns every timestamp into a datetime with
                # iso8601, which costs more than the request itself
                query = urllib.parse.urlencode({
                    "start": _iso(start), "stop": _iso(stop),
                    "granularity": granularity, "needed_overlap": 0})
                response = self.client.api.post(
                    f"v1/aggregates?{query}", timeout=self.timeout_s,
                    headers={"Content-Type": "application/json",
                             "Accept": "application/json"},
                    data=json.dumps({
                        "operations": _operations(keys),
                        "search": {"in": {"id": list(chunk)}},
                        "resource_type": self.resource_type}))
                return response.json()
            except gexc.NotFound:
                # none of the chunk's instances has these metrics yet
                return {}
            except (gexc.ConnectionFailure, gexc.ConnectionTimeout,
                    gexc.UnknownConnectionError, kexc.ConnectionError,
                    ConnectionError) as exc:
                # no answer (refused, reset, or none within timeout_s):
                # retried, then the audit fails with this error
                if attempt == self.retries:
                    raise MetricSourceError(
                        f"Gnocchi unreachable after {attempt} attempt(s): "
                        f"{type(exc).__name__}: {exc}") from exc
                LOG.warning("Gnocchi request failed (%s), retrying in "
                            "%.1f s", exc, delay)
                time.sleep(delay)
                delay *= 2
            except (gexc.ClientException, kexc.ClientException) as exc:
                raise MetricSourceError(f"Gnocchi refused the aggregates "
                                        f"request: {exc}") from exc
        raise AssertionError("unreachable")


class GnocchiWriter:
    """Creates instance resources and pushes usage as Ceilometer would
    (cumulative ``cpu`` in ns, ``memory.usage`` in MB).

    :param parallel: resources created at the same time (Gnocchi has no
        batch endpoint for resources: one request each).
    """

    def __init__(self, client, archive_policy: str = "watcher-adaptive",
                 chunk_size: int = 200, parallel: int = 1) -> None:
        self.client = client
        self.archive_policy = archive_policy
        self.chunk_size = chunk_size
        self.parallel = parallel

    def ensure_instances(self, resources: Sequence[Mapping],
                         metrics: Sequence[str] = ("cpu", "memory.usage")
                         ) -> int:
        """Create ``instance`` resources (``id`` plus attributes such as
        ``vcpus``, ``host``, ``display_name``) with ``metrics``; existing
        ones are left alone.  Returns how many were created."""
        from gnocchiclient import exceptions as gexc

        def create(res: Mapping) -> int:
            body = dict(res)
            body.setdefault("metrics", {
                m: {"archive_policy_name": self.archive_policy}
                for m in metrics})
            try:
                self.client.resource.create("instance", body)
                return 1
            except gexc.ResourceAlreadyExists:
                return 0

        if self.parallel <= 1:
            return sum(create(res) for res in resources)
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=self.parallel) as pool:
            return sum(pool.map(create, resources))

    def load(self, resource_ids: Sequence[str], times: np.ndarray,
             cpu_cores: np.ndarray, memory_mb: Optional[np.ndarray] = None,
             cpu_ns_start: Optional[np.ndarray] = None,
             vcpus: float = 2.0, block: int = 1000,
             progress: Optional[Callable[[int], None]] = None,
             create: bool = True) -> int:
        """Create the instances (with the metrics given; ``create=False``:
        they exist already) and push their ``(n, t)`` usage (as
        :meth:`push_usage`), ``block`` instances at a time, so that what
        is held in memory stays bounded (benchmarks and load tests).
        ``progress`` gets the number of instances done after each block.
        Returns the measure-writing requests made."""
        metrics = ("cpu",) if memory_mb is None else ("cpu", "memory.usage")
        requests = 0
        for lo in range(0, len(resource_ids), block):
            ids = resource_ids[lo:lo + block]
            if create:
                self.ensure_instances(
                    [{"id": r, "vcpus": vcpus} for r in ids], metrics)
            requests += self.push_usage(
                ids, times, cpu_cores[lo:lo + block],
                None if memory_mb is None else memory_mb[lo:lo + block],
                None if cpu_ns_start is None
                else cpu_ns_start[lo:lo + block])
            if progress is not None:
                progress(lo + len(ids))
        return requests

    def push_usage(self, resource_ids: Sequence[str], times: np.ndarray,
                   cpu_cores: np.ndarray,
                   memory_mb: Optional[np.ndarray] = None,
                   cpu_ns_start: Optional[np.ndarray] = None) -> int:
        """Write ``(n, t)`` usage; ``cpu_cores`` is integrated into the
        cumulative ``cpu`` counter (a sample at each time, starting at
        ``cpu_ns_start``).  NaN entries are skipped.  Returns requests."""
        seconds = np.diff(times.astype("datetime64[s]").astype(np.int64),
                          prepend=times[0].astype("datetime64[s]")
                          .astype(np.int64))
        stamps = [str(t) + "+00:00" for t in times.astype("datetime64[s]")]
        n = len(resource_ids)
        start = np.zeros(n) if cpu_ns_start is None else cpu_ns_start
        cum = start[:, None] + np.cumsum(
            np.nan_to_num(cpu_cores) * seconds[None, :] * 1e9, axis=1)
        requests = 0
        for lo in range(0, n, self.chunk_size):
            batch: dict = {}
            for i in range(lo, min(n, lo + self.chunk_size)):
                metrics: dict = {"cpu": [
                    {"timestamp": stamps[j], "value": float(cum[i, j])}
                    for j in range(len(stamps))
                    if np.isfinite(cpu_cores[i, j])]}
                if memory_mb is not None:
                    metrics["memory.usage"] = [
                        {"timestamp": stamps[j],
                         "value": float(memory_mb[i, j])}
                        for j in range(len(stamps))
                        if np.isfinite(memory_mb[i, j])]
                batch[resource_ids[i]] = {k: v for k, v in metrics.items()
                                          if v}
            self.client.metric.batch_resources_metrics_measures(
                batch, create_metrics=True)
            requests += 1
        return requests


def wait_processed(client, timeout_s: float = 600.0,
                   progress: Optional[Callable[[int], None]] = None,
                   poll_s: float = 1.0) -> float:
    """Block until gnocchi-metricd has no measures waiting; returns the
    seconds waited.  ``progress`` gets the backlog (metrics with
    measures waiting) at each poll.

    :raises MetricSourceError: still a backlog after ``timeout_s``.
    """
    started = time.monotonic()
    while True:
        status = client.status.get()
        backlog = int(status["storage"]["summary"]["metrics"])
        if progress is not None:
            progress(backlog)
        if backlog == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise MetricSourceError(
                f"gnocchi-metricd still has {backlog} metric(s) waiting "
                f"after {timeout_s:.0f} s")
        time.sleep(poll_s)


def ensure_policy_and_rule(client, name: str, metric_pattern: str,
                           aggregation_methods: Sequence[str],
                           definition: Sequence[Mapping[str, str]]) -> bool:
    """Create the archive policy ``name`` and a rule ``<name>-rule``
    sending ``metric_pattern`` metrics to it, unless they exist (an
    operator's own policy of that name is kept as it is).  Returns
    whether anything was created."""
    from gnocchiclient import exceptions as gexc

    created = False
    try:
        client.archive_policy.get(name)
    except gexc.NotFound:
        client.archive_policy.create({
            "name": name, "back_window": 0,
            "aggregation_methods": list(aggregation_methods),
            "definition": [dict(d) for d in definition]})
        created = True
    rule = f"{name}-rule"
    try:
        client.archive_policy_rule.get(rule)
    except gexc.NotFound:
        client.archive_policy_rule.create({
            "name": rule, "metric_pattern": metric_pattern,
            "archive_policy_name": name})
        created = True
    return created
