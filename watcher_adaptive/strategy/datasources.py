"""The strategy's datasource, chosen as Watcher chooses its own.

The names come from the strategy's ``datasources`` option
(``[watcher_strategies.adaptive_migration]``, declared by Watcher's
base strategy) or else Watcher's ``[watcher_datasources] datasources``
(default ``gnocchi, grafana, aetos``), in that order; names this project
does not read are skipped, ``prometheus`` with ``aetos`` is refused.
Each store is configured where Watcher's own datasource reads it:
Gnocchi through Watcher's clients (``osc.gnocchi()``), Prometheus from
``[prometheus_client]``, Aetos from ``[aetos_client]`` with Watcher's
Keystone session (``osc.session``).
"""
from __future__ import annotations

import logging
import threading
from typing import Any
from typing import Callable
from typing import Optional
from typing import Sequence

from oslo_config import cfg

from watcher_adaptive.adapters import datasource
from watcher_adaptive.adapters import window_cache
from watcher_adaptive.exceptions import MetricSourceError

LOG = logging.getLogger(__name__)
#: reread_s -> the window cache kept across audits (see
#: :func:`audit_cache`)
_CACHES: dict[int, window_cache.WindowCache] = {}
_CACHES_LOCK = threading.Lock()
#: what an audit reads when Watcher's configuration is not loaded (a
#: script, a test)
FALLBACK_NAMES = (datasource.GNOCCHI,)


def configured_names(strategy_value: Optional[Sequence[str]],
                     conf: cfg.ConfigOpts) -> list[str]:
    """The strategy's own list when set, else Watcher's global one."""
    if strategy_value:
        return list(strategy_value)
    try:
        return list(conf.watcher_datasources.datasources or ())
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return list(FALLBACK_NAMES)


def _group(conf: cfg.ConfigOpts, name: str) -> Any:
    try:
        return getattr(conf, name)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError,
            AttributeError) as exc:
        raise MetricSourceError(f"[{name}] is not registered: Watcher's "
                                "configuration is not loaded") from exc


def build(names: Sequence[str], conf: cfg.ConfigOpts, osc: Any,
          options: Callable[[str], Any],
          metrics: Sequence[str]) -> datasource.FallbackSource:
    """A :class:`~watcher_adaptive.adapters.datasource.FallbackSource`
    over ``names`` (checked by :func:`~watcher_adaptive.adapters.
    datasource.check_names`).

    :param options: the strategy's option lookup (``gnocchi_*``,
        ``prometheus_timeout_s``, ``resource_type``,
        ``min_usage_coverage``).
    :raises DatasourceConflict: prometheus and aetos together.
    :raises MetricSourceError: no name this project reads.
    """
    builders: dict[str, Callable[[], Any]] = {
        datasource.GNOCCHI: lambda: _gnocchi(osc, options, metrics),
        datasource.PROMETHEUS: lambda: _prometheus(conf, options, metrics),
        datasource.AETOS: lambda: _aetos(conf, osc, options, metrics),
    }
    usable = datasource.check_names(names)
    LOG.debug("datasources in order: %s", ", ".join(usable))
    return datasource.FallbackSource(
        [(n, builders[n]) for n in usable],
        min_coverage=float(options("min_usage_coverage")))


def audit_cache(reread_s: int) -> window_cache.WindowCache:
    """The decision engine's one window cache (for a reread setting):
    Watcher builds a new strategy for every audit, the cache must
    outlive it to save the next audit's reads.  Gnocchi and Prometheus
    keep their windows in it under different keys."""
    with _CACHES_LOCK:
        return _CACHES.setdefault(int(reread_s),
                                  window_cache.WindowCache(reread_s))


def _prometheus_cache(options: Callable[[str], Any]
                      ) -> Optional[window_cache.WindowCache]:
    if not options("prometheus_incremental"):
        return None
    return audit_cache(int(options("prometheus_reread_s")))


def _gnocchi(osc: Any, options: Callable[[str], Any],
             metrics: Sequence[str]) -> Any:
    from watcher_adaptive.adapters import gnocchi

    cache = audit_cache(int(options("gnocchi_reread_s"))) \
        if options("gnocchi_incremental") else None
    return gnocchi.GnocchiMetricSource(
        osc.gnocchi(), resource_type=options("resource_type"),
        chunk_size=int(options("gnocchi_chunk_size")),
        parallel=int(options("gnocchi_parallel")),
        timeout_s=float(options("gnocchi_timeout_s")), metrics=metrics,
        cache=cache)


def _prometheus(conf: cfg.ConfigOpts, options: Callable[[str], Any],
                metrics: Sequence[str]) -> Any:
    from watcher_adaptive.adapters import prometheus

    group = _group(conf, "prometheus_client")
    if not group.host:
        raise MetricSourceError("[prometheus_client] host is not set")
    scheme = "https" if group.cafile else "http"
    host = f"[{group.host}]" if ":" in str(group.host) else group.host
    adapter = prometheus.prometheus_adapter(
        f"{scheme}://{host}:{group.port}", group.username or "",
        group.password or "", group.cafile or "", group.certfile or "",
        group.keyfile or "")
    return prometheus.PrometheusSource(
        adapter, datasource.PROMETHEUS, group.fqdn_label,
        group.instance_uuid_label,
        timeout_s=float(options("prometheus_timeout_s")), metrics=metrics,
        cache=_prometheus_cache(options),
        matcher_max=int(options("prometheus_matcher_max")))


def _aetos(conf: cfg.ConfigOpts, osc: Any, options: Callable[[str], Any],
           metrics: Sequence[str]) -> Any:
    from watcher_adaptive.adapters import prometheus

    group = _group(conf, "aetos_client")
    adapter = prometheus.aetos_adapter(osc.session, group.interface,
                                       group.region_name)
    return prometheus.PrometheusSource(
        adapter, datasource.AETOS, group.fqdn_label,
        group.instance_uuid_label,
        timeout_s=float(options("prometheus_timeout_s")), metrics=metrics,
        cache=_prometheus_cache(options),
        matcher_max=int(options("prometheus_matcher_max")))
