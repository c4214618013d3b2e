"""Options of the command line's own Gnocchi client.

``watcher-adaptive train`` and ``watcher-adaptive profiler-setup`` read
Gnocchi with basic auth (``--gnocchi URL``) or, given ``--auth-config
FILE``, with the Keystone options of that file's ``[gnocchi_auth]``
section: keystoneauth1's own options, registered and listed by
:mod:`watcher_adaptive.adapters.keystone` (namespace
``watcher_adaptive.cli`` for ``oslo-config-generator``).
"""
from __future__ import annotations

from oslo_config import cfg

from watcher_adaptive.adapters import keystone

GROUP = "gnocchi_auth"


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return keystone.list_opts(GROUP)
