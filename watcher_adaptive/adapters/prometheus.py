"""Recent usage of many instances from Prometheus (or Aetos), one range
query per metric.

The metric and label names are Watcher's own Prometheus datasource's
(python-watcher 17, ``decision_engine/datasources/prometheus_base.py``):
Ceilometer's Prometheus publisher writes ``ceilometer_cpu`` (cumulative
ns) and ``ceilometer_memory_usage`` (MB) with the instance's uuid in the
``instance_uuid_label`` label (``resource``); node-exporter's
``node_cpu_seconds_total`` and ``node_memory_*`` carry the host in the
``fqdn_label`` label (``fqdn``), matched to a Nova host name through the
active scrape targets, exactly or by the short name of an FQDN.  The
guest profiler's collector exposes its ``adaptive.*`` series as
``adaptive_*`` gauges with the same instance label
(:mod:`watcher_adaptive.profiler.exposition`).

Each read is one ``query_range`` per metric for every resource asked,
selected with a set matcher (``resource=~"a|b|…"``; Prometheus looks
each literal alternative up in its index) up to ``matcher_max``
instances; above it the metric is read whole and the instances asked
for are kept here: Prometheus's cost of the matcher itself grows faster
than the instances in it (1,000 uuids 0.08 s, 10,000 about 1 s, before
any sample is read).  With a :class:`~.window_cache.WindowCache` kept
across audits the query starts where the last audit's window ended
(less ``reread_s``): the instances seen before are read over their
last few grid points, new ones over the whole window (one more query
per metric).  Queries are built from parameters: label and metric names
are checked against Prometheus's grammar and every label value is
regex- and string-escaped.

HTTP goes through a keystoneauth1 ``Adapter``: a plain session at a
configured endpoint for Prometheus (basic auth and TLS options as
Watcher's ``[prometheus_client]``), the Keystone session and the
catalog's ``metric-storage`` endpoint for Aetos — the same PromQL.
"""
from __future__ import annotations

import datetime
import logging
import re
from typing import Any
from typing import Mapping
from typing import Optional
from typing import Sequence

import numpy as np

from watcher_adaptive.adapters import datasource
from watcher_adaptive.adapters import window_cache
from watcher_adaptive.adapters.datasource import UsageWindow
from watcher_adaptive.exceptions import InvalidData
from watcher_adaptive.exceptions import MetricSourceError

LOG = logging.getLogger(__name__)

COUNTER = "counter"
GAUGE = "gauge"
#: our key -> (Prometheus metric, kind, scale to our unit)
METRICS: dict[str, tuple[str, str, float]] = {
    # ns of CPU time per second -> cores in use
    "cpu_cores": ("ceilometer_cpu", COUNTER, 1e-9),
    "memory_mb": ("ceilometer_memory_usage", GAUGE, 1.0),
    # the behavioural profiler's series, as its collector exposes them
    "profile_mem_used": ("adaptive_mem_used_ratio", GAUGE, 1.0),
    "profile_disk_write_share": ("adaptive_disk_write_share", GAUGE, 1.0),
    "profile_net_rx_share": ("adaptive_net_rx_share", GAUGE, 1.0),
    "profile_mem_total_mb": ("adaptive_mem_total_mb", GAUGE, 1.0),
    "profile_ws_ratio": ("adaptive_mem_working_set_ratio", GAUGE, 1.0),
    "profile_anon_mb": ("adaptive_mem_anon_mb", GAUGE, 1.0),
    "profile_cache_mb": ("adaptive_mem_cache_mb", GAUGE, 1.0),
    "profile_minflt_ps": ("adaptive_mem_minflt_ps", GAUGE, 1.0),
    "profile_majflt_ps": ("adaptive_mem_majflt_ps", GAUGE, 1.0),
    "profile_refault_ps": ("adaptive_mem_refault_ps", GAUGE, 1.0),
    "profile_cpu_idle": ("adaptive_cpu_idle", GAUGE, 1.0),
}
HOST_CPU = "node_cpu_seconds_total"
HOST_MEM_TOTAL = "node_memory_MemTotal_bytes"
HOST_MEM_AVAILABLE = "node_memory_MemAvailable_bytes"

#: the longest set matcher sent in a URL (Aetos takes GET only): with
#: the rest of the query and its encoding the request line stays well
#: under the 8 KB web servers accept by default
GET_MATCHER_MAX_CHARS = 3000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
#: RE2's metacharacters: escaped so that a value matches only itself
_REGEX_META = re.compile(r"([.+*?()|\[\]{}^$\\])")


def label_name(name: str) -> str:
    """``name`` if it is a valid Prometheus label name.

    :raises InvalidData: it is not (a configuration error).
    """
    if not _LABEL_NAME.match(name or ""):
        raise InvalidData(f"{name!r} is not a Prometheus label name")
    return name


def metric_name(name: str) -> str:
    """``name`` if it is a valid Prometheus metric name.

    :raises InvalidData: it is not.
    """
    if not _METRIC_NAME.match(name or ""):
        raise InvalidData(f"{name!r} is not a Prometheus metric name")
    return name


def string_literal(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n"))
    return f'"{escaped}"'


def set_matcher(label: str, values: Sequence[str]) -> str:
    """``label=~"v1|v2|…"`` matching exactly the given values (each one
    regex-escaped, then string-escaped)."""
    regex = "|".join(_REGEX_META.sub(r"\\\1", str(v))
                     for v in sorted(set(values)))
    return f"{label_name(label)}=~{string_literal(regex)}"


def instance_query(key: str, label: str, ids: Optional[Sequence[str]],
                   window_s: int) -> str:
    """The PromQL of our metric ``key`` for the instances ``ids``, one
    series per instance (``label``), at each grid point ``t``: a
    counter's rate between its last two samples in ``(t - window_s,
    t]``, a gauge's last sample there.  Where Ceilometer polls once per
    granularity (its usual setup) these are Gnocchi's ``rate:mean`` and
    ``mean`` at ``t`` exactly, so both stores give an audit the same
    numbers.  Several series of one instance (relabelled after a move)
    count once, at their highest.  ``ids=None``: every series with the
    label (the caller keeps those it wants)."""
    metric, kind, _ = METRICS[key]
    match = f'{label_name(label)}!=""' if ids is None \
        else set_matcher(label, ids)
    selector = f"{metric_name(metric)}{{{match}}}"
    fn = "irate" if kind == COUNTER else "last_over_time"
    return f"max by ({label}) ({fn}({selector}[{int(window_s)}s]))"


def host_queries(label: str, values: Optional[Sequence[str]],
                 window_s: int) -> dict[str, str]:
    """Our host metric key -> PromQL, one series per host (``label``):
    cores busy (CPUs less their idle rate, node-exporter's
    ``node_cpu_seconds_total``, as Watcher's host CPU) and memory in
    use in MB (total less available).  ``values=None``: every host with
    the label."""
    match = f'{label_name(label)}!=""' if values is None \
        else set_matcher(label, values)
    idle = f'{HOST_CPU}{{mode="idle",{match}}}'
    window = f"[{int(window_s)}s]"
    return {
        "cpu_cores": (f"count by ({label}) ({idle}) - sum by ({label}) "
                      f"(rate({idle}{window}))"),
        "memory_mb": (f"(max by ({label}) ({HOST_MEM_TOTAL}{{{match}}}) - "
                      f"max by ({label}) (avg_over_time("
                      f"{HOST_MEM_AVAILABLE}{{{match}}}{window}))) "
                      "/ 1048576"),
    }


def parse_matrix(body: Any, label: str, rows: Mapping[str, int],
                 times: np.ndarray, step: int, scale: float = 1.0,
                 n_rows: Optional[int] = None) -> np.ndarray:
    """``(n_rows, n_times)`` values of a ``query_range`` answer on
    the grid ``times`` (``step`` seconds apart), one row per value of
    ``label`` (``rows``: value -> row); points off the grid and series
    of other values are ignored, missing ones are NaN.  ``n_rows``
    defaults to ``len(rows)``.

    :raises MetricSourceError: not a successful matrix answer.
    """
    out = np.full((len(rows) if n_rows is None else n_rows, times.size),
                  np.nan)
    if not isinstance(body, Mapping) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, Mapping) else None
        kind = body.get("errorType") if isinstance(body, Mapping) else None
        raise MetricSourceError(f"Prometheus refused the query: {kind}: "
                                f"{error}")
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise MetricSourceError("Prometheus answered a "
                                f"{data.get('resultType')!r}, not a matrix")
    if not times.size:
        return out
    t0 = int(times[0].astype(np.int64))
    # every point gathered into flat lists, converted by numpy at once
    # (two arrays per series cost 0.1 s more at 10,000 series)
    at: list[int] = []
    stamps: list = []
    vals: list = []
    for series in data.get("result") or ():
        i = rows.get((series.get("metric") or {}).get(label))
        points = series.get("values") or ()
        if i is None or not points:
            continue
        ts, vs = zip(*points, strict=True)
        at.extend([i] * len(ts))
        stamps.extend(ts)
        vals.extend(vs)
    if not at:
        return out
    values = np.array(vals, dtype=float)
    j, off = np.divmod(np.rint(np.array(stamps, dtype=float))
                       .astype(np.int64) - t0, step)
    ok = (off == 0) & (j >= 0) & (j < times.size) & np.isfinite(values)
    out[np.asarray(at)[ok], j[ok]] = values[ok] * scale
    return out


def resolve_hosts(targets_body: Any, label: str,
                  hostnames: Sequence[str]) -> dict[str, str]:
    """Nova host name -> the ``label`` value of its scrape target, from
    an ``api/v1/targets`` answer: the value itself, or the FQDN whose
    first part it is (Watcher's ``_resolve_prometheus_instance_label``).
    Hosts without a target are left out."""
    values = set()
    data = (targets_body or {}).get("data") or {}
    for target in data.get("activeTargets") or ():
        value = (target.get("labels") or {}).get(label)
        if value:
            values.add(value)
    short = {v.split(".")[0]: v for v in values if "." in v}
    out = {}
    for host in hostnames:
        if host in values:
            out[host] = host
        elif host in short:
            out[host] = short[host]
    return out


class PrometheusSource:
    """The :class:`~.datasource.Datasource` of ``prometheus`` (and of
    ``aetos``: the same queries through Keystone).

    :param adapter: a ``keystoneauth1.adapter.Adapter`` whose endpoint
        is the Prometheus (or Aetos) root (see :func:`prometheus_adapter`
        and :func:`aetos_adapter`).
    :param name: ``prometheus`` or ``aetos``, for the logs and the
        window's ``source``.
    :param fqdn_label: the host label of node-exporter's series.
    :param instance_uuid_label: the instance label of Ceilometer's.
    :param retries: attempts per request when there is no answer
        (keystoneauth's connect retries, with back-off); an error answer
        is not retried.
    :param timeout_s: seconds one request may take.
    :param cache: a :class:`~.window_cache.WindowCache`: a read asks
        only for the grid points after the cached window (less its
        ``reread_s``) for the instances it holds.
    :param matcher_max: the most instances selected by a set matcher in
        one query; more are read as the whole metric (every instance
        Prometheus holds), the others dropped here.
    :param range_api: send ``query_range`` (POST); ``False`` (the
        default for ``aetos``) for Aetos, which forwards instant queries
        only (``GET api/v1/query``): the
        window is then one subquery evaluated at its last grid point,
        and a set matcher is sent only while it keeps the URL short
        (:data:`GET_MATCHER_MAX_CHARS`).
    """

    def __init__(self, adapter: Any, name: str = datasource.PROMETHEUS,
                 fqdn_label: str = "fqdn",
                 instance_uuid_label: str = "resource", retries: int = 3,
                 timeout_s: Optional[float] = 60.0,
                 metrics: Sequence[str] = datasource.DEFAULT_METRICS,
                 cache: Optional[window_cache.WindowCache] = None,
                 matcher_max: int = 2000,
                 range_api: Optional[bool] = None) -> None:
        self.adapter = adapter
        self.name = name
        self.fqdn_label = label_name(fqdn_label)
        self.instance_uuid_label = label_name(instance_uuid_label)
        self.retries = retries
        self.timeout_s = timeout_s
        self.metrics = tuple(metrics)
        #: the last windows read, kept across audits when the caller
        #: keeps it (``None``: every read asks for the whole window)
        self.cache = cache
        if matcher_max < 0:
            raise ValueError("matcher_max must be >= 0")
        self.matcher_max = matcher_max
        self.range_api = name != datasource.AETOS if range_api is None \
            else range_api

    def read_usage(self, resource_ids: Sequence[str],
                   start: datetime.datetime, stop: datetime.datetime,
                   granularity: int = 300,
                   metrics: Optional[Sequence[str]] = None
                   ) -> UsageWindow:
        """Usage of ``resource_ids`` over ``[start, stop)``, one range
        query per metric (two when the cache holds some instances and
        not others: their tail, the newcomers' whole window).

        :raises MetricSourceError: Prometheus unreachable or refusing.
        """
        metrics = self.metrics if metrics is None else tuple(metrics)
        keys = datasource.check_keys(metrics, METRICS)
        ids = tuple(str(r) for r in resource_ids)
        times = datasource.grid(start, stop, granularity)
        epochs = times.astype(np.int64)
        cache_key = (self.name, self.instance_uuid_label, granularity,
                     tuple(keys))
        values, fetches = window_cache.plan(self.cache, cache_key, ids,
                                            epochs, keys, granularity)
        requests = 0
        for fetch in fetches:
            asked = [ids[i] for i in fetch.rows]
            rows = {rid: k for k, rid in enumerate(asked)}
            part = times[fetch.first:]
            matched = asked if self._matchable(asked) else None
            for key in keys:
                query = instance_query(key, self.instance_uuid_label,
                                       matched, rate_window(granularity))
                body = self._range(query, part, granularity)
                requests += 1
                values[key][fetch.rows, fetch.first:] = parse_matrix(
                    body, self.instance_uuid_label, rows, part,
                    granularity, METRICS[key][2])
        if self.cache is not None:
            self.cache.store(cache_key, ids, epochs, values)
        return UsageWindow(ids, times, values, requests, self.name)

    def read_host_usage(self, hostnames: Sequence[str],
                        start: datetime.datetime, stop: datetime.datetime,
                        granularity: int = 300) -> UsageWindow:
        """Hosts' cores busy and memory in use from node-exporter, hosts
        matched through the active targets' ``fqdn_label``.

        :raises MetricSourceError: Prometheus unreachable or refusing.
        """
        names = tuple(hostnames)
        times = datasource.grid(start, stop, granularity)
        values = datasource.empty_values(datasource.HOST_METRICS,
                                         len(names), times)
        labels = resolve_hosts(self._get("api/v1/targets",
                                         {"state": "active"}),
                               self.fqdn_label, names)
        requests = 1
        missing = [h for h in names if h not in labels]
        if missing:
            LOG.warning("%s: no scrape target with %s for %d host(s): %s",
                        self.name, self.fqdn_label, len(missing),
                        ", ".join(missing[:20]))
        if labels and times.size:
            rows: dict[str, int] = {}
            for i, host in enumerate(names):
                if host in labels:
                    rows[labels[host]] = i
            queries = host_queries(self.fqdn_label,
                                   list(rows) if self._matchable(list(rows))
                                   else None,
                                   rate_window(granularity))
            for key, query in queries.items():
                body = self._range(query, times, granularity)
                requests += 1
                values[key] = parse_matrix(body, self.fqdn_label, rows,
                                           times, granularity,
                                           n_rows=len(names))
        return UsageWindow(names, times, values, requests, self.name)

    def _matchable(self, values: Sequence[str]) -> bool:
        """Whether to select ``values`` by a set matcher (else: every
        series, filtered here)."""
        if len(values) > self.matcher_max:
            return False
        return self.range_api or len(set_matcher(
            self.instance_uuid_label, values)) <= GET_MATCHER_MAX_CHARS

    def _range(self, query: str, times: np.ndarray,
               granularity: int) -> Any:
        end = int(times[-1].astype(np.int64))
        if not self.range_api:
            return self._get("api/v1/query", {
                "query": subquery(query, times.size, granularity),
                "time": str(end)})
        # POST: the set matcher of 2,000 uuids is longer than a URL may
        # be
        return self._send("POST", "api/v1/query_range", data={
            "query": query, "start": int(times[0].astype(np.int64)),
            "end": end, "step": int(granularity)})

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return self._send("GET", path, params=dict(params))

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        from keystoneauth1 import exceptions as kexc

        try:
            response = self.adapter.request(
                path, method, raise_exc=False, timeout=self.timeout_s,
                connect_retries=max(0, self.retries - 1),
                headers={"Accept": "application/json"},
                # the set matcher would fill a debug log
                log=False, **kwargs)
        except (kexc.ConnectionError, kexc.RetriableConnectionFailure
                ) as exc:
            raise MetricSourceError(
                f"{self.name} unreachable after {self.retries} "
                f"attempt(s): {type(exc).__name__}: {exc}") from exc
        except kexc.ClientException as exc:
            # Keystone's side: no endpoint in the catalog, credentials
            # refused
            raise MetricSourceError(
                f"{self.name}: no usable endpoint or token: "
                f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, Mapping):
            detail = body.get("error") if isinstance(body, Mapping) \
                else response.text[:200]
            raise MetricSourceError(
                f"{self.name} refused {path} ({response.status_code}): "
                f"{detail}")
        for warning in body.get("warnings") or ():
            LOG.warning("%s: %s", self.name, warning)
        return body


def subquery(query: str, points: int, granularity: int) -> str:
    """``query`` evaluated at the ``points`` grid points up to the
    instant it is sent for (Prometheus aligns a subquery's steps on
    multiples of the step, as :func:`~.datasource.grid` aligns the
    window): the same matrix ``query_range`` gives.  The range reaches
    half a step past the first point, so that the answer holds the same
    points whether a range's start is included (Prometheus 2) or not
    (3)."""
    reach = (int(points) - 1) * int(granularity) + int(granularity) // 2
    return f"({query})[{reach}s:{int(granularity)}s]"


def rate_window(granularity: int) -> int:
    """The range looked back from each grid point: two steps, so that a
    series sampled once per step always has its two last points in it,
    whatever the poll's phase (one step would hang on whether the
    range's ends are included, which changed in Prometheus 3)."""
    return 2 * int(granularity)


def prometheus_adapter(endpoint: str, username: str = "",
                       password: str = "", cafile: str = "",
                       certfile: str = "", keyfile: str = "") -> Any:
    """A keystoneauth1 adapter on a plain Prometheus at ``endpoint``
    (``http(s)://host:port``), with basic auth and TLS as Watcher's
    ``[prometheus_client]`` options say."""
    import requests
    from keystoneauth1 import adapter
    from keystoneauth1 import session

    http = requests.Session()
    if username and password:
        http.auth = (username, password)
    cert = (certfile, keyfile) if certfile and keyfile else None
    sess = session.Session(session=http, verify=cafile or True, cert=cert)
    return adapter.Adapter(sess, endpoint_override=endpoint.rstrip("/"))


def aetos_adapter(sess: Any, interface: str = "public",
                  region_name: Optional[str] = None) -> Any:
    """A keystoneauth1 adapter on Aetos: the Keystone session's token,
    the catalog's ``metric-storage`` endpoint (as Watcher's Aetos
    datasource)."""
    from keystoneauth1 import adapter

    return adapter.Adapter(sess, service_type="metric-storage",
                           interface=interface, region_name=region_name)
