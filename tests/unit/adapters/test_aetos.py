"""Aetos: the Prometheus datasource behind a keystoneauth1 session, the
endpoint from the catalog's ``metric-storage``, the token on every
request.  A requests transport stands for Aetos, a catalog-serving
auth plugin for Keystone (no Keystone runs in the test environment; an
in-process server would hang under the eventlet some Watcher tests
leave behind)."""
from __future__ import annotations

import datetime
import json
import urllib.parse

import pytest
import requests
import requests.adapters

from watcher_adaptive.adapters import prometheus
from watcher_adaptive.exceptions import MetricSourceError

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 11, 24, 18, 45, tzinfo=UTC)
TOKEN = "gAAAA-test-token"  # noqa: S105 - a test value
ENDPOINT = "https://aetos.test:8443/prometheus"


class AetosStandIn(requests.adapters.BaseAdapter):
    """A requests transport standing for Aetos (no socket, no thread):
    answers ``GET <root>/api/v1/query`` (Aetos 3 forwards instant
    queries only; anything else is a 404) with one series at the first
    grid point when the token is right, 401 otherwise; records what it
    was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict] = []

    def send(self, request, **kwargs):
        url = urllib.parse.urlsplit(request.url)
        form = urllib.parse.parse_qs(url.query)
        self.seen.append({"url": request.url.split("?")[0], "form": form,
                          "method": request.method,
                          "token": request.headers.get("X-Auth-Token")})
        if request.headers.get("X-Auth-Token") != TOKEN:
            body, code = {"status": "error", "error": "unauthorized"}, 401
        elif request.method != "GET" or \
                not url.path.endswith("/api/v1/query"):
            body, code = {"error": "not found"}, 404
        else:
            # the subquery's first point: its range reaches half a step
            # before it
            reach = int(form["query"][0].rsplit("[", 1)[1].split("s:")[0])
            first = int(form["time"][0]) - reach + 150
            body, code = {"status": "success", "data": {
                "resultType": "matrix", "result": [{
                    "metric": {"resource": "vm-1"},
                    "values": [[first, "2000000000"]]}]}}, 200
        response = requests.Response()
        response.status_code = code
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def aetos():
    """The stand-in mounted on a requests session for the catalog's
    endpoint."""
    transport = AetosStandIn()
    http = requests.Session()
    http.mount(ENDPOINT, transport)
    return http, transport


def _session(aetos, token: str = TOKEN):
    """A keystoneauth1 session over the stand-in whose auth plugin
    serves a catalog with ``metric-storage`` at :data:`ENDPOINT`."""
    http, _ = aetos
    endpoint = ENDPOINT
    from keystoneauth1 import plugin
    from keystoneauth1 import session

    class CatalogAuth(plugin.BaseAuthPlugin):
        asked: list[dict] = []

        def get_token(self, session, **kwargs):
            return token

        def get_endpoint(self, session, service_type=None, interface=None,
                         region_name=None, **kwargs):
            self.asked.append({"service_type": service_type,
                               "interface": interface,
                               "region_name": region_name})
            if service_type == "metric-storage" and \
                    region_name in (None, "RegionOne"):
                return endpoint
            return None

    auth = CatalogAuth()
    return session.Session(auth=auth, session=http), auth


def test_same_queries_through_keystone_to_the_catalog_endpoint(aetos):
    sess, auth = _session(aetos)
    source = prometheus.PrometheusSource(
        prometheus.aetos_adapter(sess, "internal", "RegionOne"),
        name="aetos")
    window = source.read_usage(["vm-1", "vm-2"], T0,
                               T0 + datetime.timedelta(minutes=15), 300,
                               ["cpu_cores"])
    assert window.source == "aetos" and window.requests == 1
    assert window.values["cpu_cores"][0, 0] == pytest.approx(2.0)
    sent = aetos[1].seen[0]
    # the catalog's root path kept, the token sent; the window (three
    # grid points, the last at 18:55) as one subquery at its last point
    assert (sent["method"], sent["url"]) == \
        ("GET", ENDPOINT + "/api/v1/query")
    assert sent["token"] == TOKEN
    assert sent["form"]["time"] == [str(int(T0.timestamp()) + 600)]
    assert sent["form"]["query"][0] == "(" + prometheus.instance_query(
        "cpu_cores", "resource", ["vm-1", "vm-2"], 600) + ")[750s:300s]"
    assert auth.asked[0] == {"service_type": "metric-storage",
                             "interface": "internal",
                             "region_name": "RegionOne"}


def test_refused_token_is_a_metric_source_error(aetos):
    sess, _ = _session(aetos, token="expired")  # noqa: S106
    source = prometheus.PrometheusSource(prometheus.aetos_adapter(sess),
                                         name="aetos")
    with pytest.raises(MetricSourceError, match="aetos refused .*401"):
        source.read_usage(["vm-1"], T0, T0 + datetime.timedelta(hours=1))


def test_no_metric_storage_in_the_catalog_is_a_metric_source_error(aetos):
    sess, _ = _session(aetos)
    source = prometheus.PrometheusSource(
        prometheus.aetos_adapter(sess, region_name="Elsewhere"),
        name="aetos")
    with pytest.raises(MetricSourceError, match="aetos: no usable endpoint "
                       "or token: EndpointNotFound"):
        source.read_usage(["vm-1"], T0, T0 + datetime.timedelta(hours=1))


def test_a_long_uuid_list_is_not_put_in_the_url(aetos):
    sess, _ = _session(aetos)
    source = prometheus.PrometheusSource(prometheus.aetos_adapter(sess),
                                         name="aetos")
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(500)]
    window = source.read_usage(ids, T0, T0 + datetime.timedelta(hours=1),
                               300, ["cpu_cores"])
    query = aetos[1].seen[0]["form"]["query"][0]
    assert query.startswith('(max by (resource) (irate(ceilometer_cpu'
                            '{resource!=""}[600s])))[')
    assert window.values["cpu_cores"].shape == (500, 12)
