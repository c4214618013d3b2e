"""The Aetos datasource against a real Aetos 3 in front of the test
Prometheus, with tokens from a real Keystone (tools/services/55-aetos.sh,
WA_AETOS=0 leaves it out): the same numbers and the same
plan as reading Prometheus directly, the endpoint from the catalog, and
a clear error for a token Keystone refuses."""
from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

from tests.functional import test_strategy_prometheus as via_prometheus
from tests.functional.conftest import state_dir
from tests.functional.conftest import wait_for_late_job
from watcher_adaptive.adapters import prometheus
from watcher_adaptive.adapters import prometheus_write
from watcher_adaptive.adapters.window_cache import WindowCache
from watcher_adaptive.exceptions import MetricSourceError

pytestmark = pytest.mark.functional
UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def aetos_stack(prometheus_endpoint) -> dict:
    """``aetos.json`` of the running Aetos, whose Prometheus is the
    test one; skips with the reason otherwise."""
    wait_for_late_job("55-aetos-up")
    base = state_dir() / "aetos"
    if (base / "unavailable").exists():
        pytest.skip("Aetos unavailable: "
                    + (base / "unavailable").read_text().strip())
    if not (base / "aetos.json").exists():
        pytest.skip(f"Aetos not started ({base}/aetos.json missing; run "
                    "the tests through tools/run-tests.sh)")
    stack = json.loads((base / "aetos.json").read_text())
    if not prometheus_endpoint.endswith(f":{stack['prometheus_port']}"):
        pytest.skip(f"Aetos forwards to port {stack['prometheus_port']}, "
                    f"the test Prometheus is {prometheus_endpoint}")
    return stack


def _session(stack: dict, password: str = ""):
    """A Keystone session as Watcher's ``[watcher_clients_auth]`` makes
    it: a password, a scoped token, the catalog."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    return session.Session(auth=v3.Password(
        auth_url=stack["auth_url"], username=stack["username"],
        password=password or stack["password"],
        project_name=stack["project_name"],
        user_domain_name=stack["user_domain_name"],
        project_domain_name=stack["project_domain_name"]))


def _load(owned, endpoint: str, n: int = 4, samples: int = 13):
    ids = owned.new(n)
    now = int(datetime.datetime.now(UTC).timestamp()) // 300 * 300
    times = np.arange(now - samples * 300, now, 300).astype("datetime64[s]")
    cores = np.linspace(0.2, 1.6, n)[:, None] + np.zeros((1, samples))
    cores[:, -3:] += 0.3                     # a rise in the last steps
    prometheus_write.PrometheusWriter(endpoint).push_usage(
        ids, times, cores, memory_mb=np.full((n, samples), 512.0))
    return ids, datetime.datetime.fromtimestamp(now, UTC)


def test_aetos_reads_what_prometheus_holds(aetos_stack, prometheus_endpoint,
                                           prometheus_series):
    ids, stop = _load(prometheus_series, prometheus_endpoint)
    direct = prometheus.PrometheusSource(
        prometheus.prometheus_adapter(prometheus_endpoint))
    aetos = prometheus.PrometheusSource(
        prometheus.aetos_adapter(_session(aetos_stack), "public",
                                 aetos_stack["region_name"]),
        name="aetos", cache=WindowCache(reread_s=600))
    hour = datetime.timedelta(hours=1)
    want = direct.read_usage(ids, stop - hour, stop)
    got = aetos.read_usage(ids, stop - hour, stop)
    assert (got.source, got.requests) == ("aetos", 2)
    for key in ("cpu_cores", "memory_mb"):
        np.testing.assert_allclose(got.values[key], want.values[key])
    # the numbers are there, not only NaN on both sides
    assert np.isfinite(got.values["cpu_cores"][:, 1:]).all()
    assert got.values["cpu_cores"][-1, -1] == pytest.approx(1.9)
    # the next audit, one step later: the tail through Aetos, the rest
    # from the window cache; the same as a whole read of that window
    step = datetime.timedelta(seconds=300)
    later = aetos.read_usage(ids, stop - hour + step, stop + step)
    whole = direct.read_usage(ids, stop - hour + step, stop + step)
    assert later.requests == 2
    for key in ("cpu_cores", "memory_mb"):
        np.testing.assert_allclose(later.values[key], whole.values[key])


def test_same_plan_through_aetos_as_through_prometheus(
        tmp_path, aetos_stack, via_prometheus_conf, prometheus_endpoint,
        prometheus_series):
    model, ids, times, cores = via_prometheus._usage(prometheus_series,
                                                     via_prometheus.HOT)
    prometheus_write.PrometheusWriter(prometheus_endpoint).push_usage(
        ids, times, cores)

    class Osc:
        """Watcher's clients: its Keystone session."""
        session = _session(aetos_stack)

    direct, plan_p = via_prometheus._execute(tmp_path / "p", model,
                                             ["prometheus"])
    aetos, plan_a = via_prometheus._execute(tmp_path / "a", model,
                                            ["aetos"], Osc())
    assert (direct.datasource, aetos.datasource) == ("prometheus", "aetos")
    assert via_prometheus._moves(plan_p) and \
        via_prometheus._moves(plan_a) == via_prometheus._moves(plan_p)


def test_a_refused_password_is_a_clear_error(aetos_stack,
                                             prometheus_series):
    from keystoneauth1 import token_endpoint

    stop = datetime.datetime.now(UTC)
    start = stop - datetime.timedelta(hours=1)
    source = prometheus.PrometheusSource(prometheus.aetos_adapter(
        _session(aetos_stack, password="not-the-password")),  # noqa: S106
        name="aetos")
    with pytest.raises(MetricSourceError, match="aetos: no usable "
                       "endpoint or token: Unauthorized"):
        source.read_usage(prometheus_series.new(), start, stop)
    # a token Keystone never issued, sent to Aetos itself: Aetos's
    # keystonemiddleware refuses it
    from keystoneauth1 import session

    forged = prometheus.PrometheusSource(prometheus.aetos_adapter(
        session.Session(auth=token_endpoint.Token(
            aetos_stack["aetos_url"], "gAAAAA-forged"))), name="aetos")
    with pytest.raises(MetricSourceError, match="aetos refused "
                       "api/v1/query .401"):
        forged.read_usage(prometheus_series.new(), start, stop)


@pytest.fixture
def via_prometheus_conf(prometheus_endpoint):
    """Watcher's [prometheus_client] (the direct read) and
    [aetos_client] as an operator's watcher.conf would set them."""
    from oslo_config import cfg

    from watcher_adaptive.replay import watcher_bridge

    watcher_bridge._ensure_watcher_conf()
    host, port = prometheus_endpoint.rsplit("//", 1)[1].rsplit(":", 1)
    cfg.CONF.set_override("host", host, "prometheus_client")
    cfg.CONF.set_override("port", int(port), "prometheus_client")
    cfg.CONF.set_override("interface", "public", "aetos_client")
    yield cfg.CONF
    cfg.CONF.clear_override("host", "prometheus_client")
    cfg.CONF.clear_override("port", "prometheus_client")
    cfg.CONF.clear_override("interface", "aetos_client")
