"""Authenticated sessions for the project's own OpenStack clients.

Every client of the project that talks to Gnocchi by itself (the
training job ``watcher-adaptive train``, ``watcher-adaptive
profiler-setup`` and the profiler's host collector) gets its
``keystoneauth1`` session here, in one of two ways:

``keystone``
    Keystone credentials from an oslo.config group whose options are
    keystoneauth1's own (:func:`register_opts`: ``auth_type``,
    ``auth_url``, ``username``, ``password``, ``project_name``, the
    domains; ``cafile``, ``insecure``, ``timeout``), the same options
    every OpenStack service reads; Gnocchi's endpoint comes from the
    service catalog (type ``metric``) unless one is given.
``basic``
    Gnocchi's own basic auth (``auth_mode = basic`` in gnocchi.conf):
    an endpoint and a user name, no password.

The Watcher plug-ins (the strategy and the ``adaptive_migrate`` action)
do not come here: they use the clients Watcher builds from its own
``[watcher_clients_auth]`` (``osc``), which already speak Keystone.
"""
from __future__ import annotations

from typing import Any
from typing import Optional

from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from watcher_adaptive.exceptions import InvalidData

#: the ways a client authenticates (``gnocchi_auth`` options' choices)
KEYSTONE = "keystone"
BASIC = "basic"


def register_opts(conf: cfg.ConfigOpts, group: str) -> None:
    """Register keystoneauth1's session and auth options under ``group``
    (the plugin's own options, e.g. ``password``'s, are registered when
    a session is loaded, from ``auth_type``)."""
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_auth_conf_options(conf, group)


def list_opts(group: str) -> list[tuple[str, list[cfg.Opt]]]:
    """``[(group, options)]`` for ``oslo-config-generator``: the session
    options, ``auth_type``/``auth_section`` and the ``password``
    plugin's options (what an operator fills in)."""
    opts = (ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options("password"))
    return [(group, opts)]


def keystone_session(conf: cfg.ConfigOpts,
                     group: str) -> ks_session.Session:
    """A session authenticated by the Keystone options of ``[group]``.

    :raises InvalidData: ``auth_type`` is not set, or the plugin it names
        lacks an option it needs (e.g. ``auth_url``), said with the group.
    """
    from keystoneauth1 import exceptions as kexc

    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except (kexc.NoMatchingPlugin, kexc.MissingRequiredOptions) as exc:
        raise InvalidData(f"[{group}]: {exc}") from None
    if auth is None:
        raise InvalidData(
            f"[{group}] auth_type is not set: give the Keystone "
            "credentials (auth_type = password, auth_url, username, "
            "password, project_name, user_domain_name, "
            "project_domain_name)")
    return ks_loading.load_session_from_conf_options(conf, group,
                                                     auth=auth)


def basic_session(endpoint: str, user: str = "admin") -> ks_session.Session:
    """A session for a Gnocchi with ``auth_mode = basic`` at
    ``endpoint``."""
    from gnocchiclient import auth

    return ks_session.Session(
        auth=auth.GnocchiBasicPlugin(user=user, endpoint=endpoint))


def load_conf_file(path: str, group: str) -> cfg.ConfigOpts:
    """A fresh ``ConfigOpts`` with :func:`register_opts` under ``group``,
    read from the file ``path`` (for the command line, which has no
    config file of its own).

    :raises InvalidData: the file cannot be read or parsed.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf, group)
    try:
        conf(args=[], project="watcher-adaptive",
             default_config_files=[path], default_config_dirs=[],
             use_env=False)
    except (cfg.Error, OSError) as exc:
        raise InvalidData(f"{path}: {exc}") from None
    return conf


def gnocchi_client(session: ks_session.Session,
                   endpoint: Optional[str] = None) -> Any:
    """A gnocchiclient on ``session``; ``endpoint`` overrides the
    catalog's (a basic-auth session carries its own)."""
    from gnocchiclient.v1 import client

    options = {"endpoint_override": endpoint} if endpoint else {}
    return client.Client(session=session, adapter_options=options)
