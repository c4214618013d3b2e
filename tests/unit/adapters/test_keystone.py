"""The one session helper every Gnocchi client of the project uses.

Basic auth as before; Keystone from keystoneauth1's own options.  No
network: a requests transport on the session answers Keystone's token
request (a v3 token with a service catalog) and one Gnocchi call, so the
whole chain runs — password plugin, token, service catalog, the token on
the Gnocchi request.  A real Keystone is not started here.
"""
from __future__ import annotations

import base64
import json

import pytest
import requests
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from watcher_adaptive.adapters import gnocchi
from watcher_adaptive.adapters import keystone
from watcher_adaptive.exceptions import InvalidData

AUTH_URL = "http://keystone.test/identity/v3"
GNOCCHI = "http://gnocchi.test:8041"
KEYSTONE_OPTS = {"auth_type": "password", "auth_url": AUTH_URL,
                 "username": "watcher", "password": "s3cret",
                 "project_name": "service", "user_domain_name": "Default",
                 "project_domain_name": "Default", "timeout": 7.5}


#: Keystone's answer to a v3 password authentication: a token with a
#: catalog that has Gnocchi (keystoneauth1.fixture builds the same, but
#: needs the ``fixtures`` package)
TOKEN = {"token": {
    "methods": ["password"], "expires_at": "2999-01-01T00:00:00.000000Z",
    "issued_at": "2020-01-01T00:00:00.000000Z",
    "user": {"id": "u1", "name": "watcher",
             "domain": {"id": "default", "name": "Default"}},
    "project": {"id": "p1", "name": "service",
                "domain": {"id": "default", "name": "Default"}},
    "roles": [{"id": "r1", "name": "admin"}],
    "catalog": [{"type": "metric", "name": "gnocchi", "id": "s1",
                 "endpoints": [{"id": "e1", "interface": "public",
                                "region": "RegionOne",
                                "region_id": "RegionOne",
                                "url": GNOCCHI}]}]}}
DISCOVERY = {"version": {"id": "v3.14", "status": "stable",
                         "updated": "2020-04-07T00:00:00Z",
                         "links": [{"rel": "self", "href": AUTH_URL}],
                         "media-types": [{
                             "base": "application/json",
                             "type": "application/"
                                     "vnd.openstack.identity-v3+json"}]}}


class Transport(requests.adapters.BaseAdapter):
    """Answers ``(method, url)`` from a table; records every request."""

    def __init__(self, routes: dict) -> None:
        super().__init__()
        self.routes = routes
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.seen.append(request)
        status, headers, body = self.routes.get(
            (request.method, request.url), (404, {}, {"error": "no route"}))
        response = requests.Response()
        response.status_code = status
        response.headers.update({"Content-Type": "application/json",
                                 **headers})
        response._content = json.dumps(body).encode()
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def _conf(group: str, **values) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    keystone.register_opts(conf, group)
    conf([], default_config_files=[], default_config_dirs=[])
    # the plugin's own options exist once auth_type names it
    if "auth_type" in values:
        conf.set_override("auth_type", values["auth_type"], group)
        conf.register_opts(ks_loading.get_auth_plugin_conf_options(
            values["auth_type"]), group=group)
    for key, value in values.items():
        conf.set_override(key, value, group)
    return conf


def test_basic_auth_session_is_gnocchis_basic_plugin():
    from gnocchiclient import auth

    session = keystone.basic_session(GNOCCHI, "bob")
    assert isinstance(session.auth, auth.GnocchiBasicPlugin)
    assert session.get_endpoint(service_type="metric") == GNOCCHI
    token = base64.b64encode(b"bob:").decode()
    assert session.get_auth_headers() == {
        "Authorization": f"basic {token}"}


def test_make_client_is_unchanged_basic_auth():
    from gnocchiclient import auth

    client = gnocchi.make_client(GNOCCHI, "bob")
    assert isinstance(client.api.session.auth, auth.GnocchiBasicPlugin)
    assert client.api.get_endpoint() == GNOCCHI


def test_keystone_options_build_a_password_session():
    from keystoneauth1.identity import generic

    conf = _conf("g", **KEYSTONE_OPTS)
    session = keystone.keystone_session(conf, "g")
    assert isinstance(session.auth, generic.Password)
    assert session.auth.auth_url == AUTH_URL
    assert session.auth._username == "watcher"
    assert session.auth._password == KEYSTONE_OPTS["password"]
    assert session.auth._project_name == "service"
    assert session.timeout == 7.5


def test_keystone_session_reaches_gnocchi_with_the_token():
    """The password plugin asks Keystone for a token, finds Gnocchi in
    the catalog (type ``metric``) and sends the token there."""
    transport = Transport({
        ("GET", AUTH_URL): (200, {}, DISCOVERY),
        ("POST", f"{AUTH_URL}/auth/tokens"): (
            201, {"X-Subject-Token": "tok-123"}, TOKEN),
        ("GET", f"{GNOCCHI}/v1/archive_policy/"): (200, {}, [])})
    session = keystone.keystone_session(_conf("g", **KEYSTONE_OPTS), "g")
    session.session.mount("http://", transport)

    assert keystone.gnocchi_client(session).archive_policy.list() == []

    sent = {(r.method, r.url): r for r in transport.seen}
    asked = json.loads(sent[("POST", f"{AUTH_URL}/auth/tokens")].body)
    user = asked["auth"]["identity"]["password"]["user"]
    assert (user["name"], user["password"]) == ("watcher", "s3cret")
    assert user["domain"] == {"name": "Default"}
    gnocchi_call = sent[("GET", f"{GNOCCHI}/v1/archive_policy/")]
    assert gnocchi_call.headers["X-Auth-Token"] == "tok-123"


def test_endpoint_override_skips_the_catalog():
    session = keystone.keystone_session(_conf("g", **KEYSTONE_OPTS), "g")
    client = keystone.gnocchi_client(session, endpoint="http://other:8041")
    assert client.api.endpoint_override == "http://other:8041"


@pytest.mark.parametrize("values, words", [
    ({}, "auth_type is not set"),
    ({"auth_type": "password"}, "auth_url"),
])
def test_incomplete_keystone_options_say_what_is_missing(values, words):
    with pytest.raises(InvalidData, match=words) as info:
        keystone.keystone_session(_conf("grp", **values), "grp")
    assert "[grp]" in str(info.value)


def test_conf_file_is_read_into_the_group(tmp_path):
    path = tmp_path / "auth.conf"
    path.write_text("[gnocchi_auth]\n" + "".join(
        f"{k} = {v}\n" for k, v in KEYSTONE_OPTS.items()))
    conf = keystone.load_conf_file(str(path), "gnocchi_auth")
    session = keystone.keystone_session(conf, "gnocchi_auth")
    assert session.auth.auth_url == AUTH_URL
    with pytest.raises(InvalidData, match="nothing.conf"):
        keystone.load_conf_file(str(tmp_path / "nothing.conf"), "g")


def test_the_collector_builds_its_client_through_the_helper():
    """``[profiler_collector] gnocchi_auth`` picks basic or Keystone;
    both come from the helper (the collector's options are unchanged)."""
    from gnocchiclient import auth
    from keystoneauth1.identity import generic

    from watcher_adaptive.cmd import collector
    from watcher_adaptive.conf import collector as conf_collector

    conf = cfg.ConfigOpts()
    conf_collector.register(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    conf.set_override("gnocchi_auth", "basic", conf_collector.GROUP)
    conf.set_override("gnocchi_endpoint", GNOCCHI, conf_collector.GROUP)
    basic = collector.gnocchi_client(conf)
    assert isinstance(basic.api.session.auth, auth.GnocchiBasicPlugin)

    conf.set_override("gnocchi_auth", "keystone", conf_collector.GROUP)
    with pytest.raises(ValueError, match="auth_type is not set"):
        collector.gnocchi_client(conf)
    group = conf_collector.AUTH_GROUP
    conf.set_override("auth_type", "password", group)
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("password"),
                       group=group)
    for key, value in KEYSTONE_OPTS.items():
        conf.set_override(key, value, group)
    client = collector.gnocchi_client(conf)
    assert isinstance(client.api.session.auth, generic.Password)


def test_cli_options_are_listed_for_the_generator():
    from watcher_adaptive.conf import cli

    [(group, opts)] = cli.list_opts()
    names = {o.dest for o in opts}
    assert group == "gnocchi_auth"
    assert {"auth_type", "auth_url", "username", "password",
            "project_name", "cafile", "timeout"} <= names
